"""Reading request bodies: length checks up front and the accepted media types."""

from __future__ import annotations

from urllib.parse import parse_qsl

import falcon

MEDIA_FORM = "application/x-www-form-urlencoded"

#: A comment body is at most 10,000 characters of text, escaped as JSON at worst.
MAX_COMMENT_BODY_BYTES = 256 * 1024


def media_type(req: falcon.Request) -> str:
    return (req.content_type or "").split(";", 1)[0].strip().lower()


def require_length(req: falcon.Request, max_bytes: int) -> None:
    """Refuse a body without Content-Length (411) or larger than ``max_bytes`` (413),
    before a byte of it is read."""
    if req.content_length is None:
        raise falcon.HTTPLengthRequired(
            description="Send the body with a Content-Length header; chunked uploads are not accepted.",
        )
    if req.content_length > max_bytes:
        raise falcon.HTTPContentTooLarge(
            description=f"The request body is larger than the limit of {max_bytes} bytes.",
        )


def require_whole_body(req: falcon.Request) -> None:
    """Refuse (400) a body that ended before its Content-Length: half a request (a
    client cut off, or one that lied) must change nothing. What a parser left
    unread (a multipart epilogue) is read first; require_length bounded it."""
    while req.bounded_stream.read(64 * 1024):
        pass
    body = getattr(req.context, "body", None)
    if body is not None and body.received < (req.content_length or 0):
        raise falcon.HTTPBadRequest(
            description="The body ended before the length its Content-Length header declared.",
        )


def read_text_fields(req: falcon.Request, names: tuple[str, ...]) -> dict:
    """The body of a JSON, URL-encoded or multipart request as a dict; 415 for anything else."""
    require_length(req, MAX_COMMENT_BODY_BYTES)
    kind = media_type(req)
    if kind == MEDIA_FORM:
        data = read_form(req)
    elif kind == falcon.MEDIA_JSON:
        data = req.get_media()
        if not isinstance(data, dict):
            raise falcon.HTTPBadRequest(description='The body must be a JSON object such as {"text": "..."}.')
    elif kind == falcon.MEDIA_MULTIPART:
        data = {}
        for part in req.get_media():
            if part.name in names and part.name not in data:
                data[part.name] = read_part_text(part)
    else:
        raise falcon.HTTPUnsupportedMediaType(
            description='Send the body as JSON ({"text": "..."}) or as a form with a `text` field.',
        )
    require_whole_body(req)
    return data


def read_form(req: falcon.Request) -> dict:
    """A URL-encoded form as a dict (a repeated field becomes a list), strictly UTF-8.

    Falcon's own form handler turns bytes that are not UTF-8 (``text=%FF``) into
    U+FFFD, which would store text the client never sent: here they are a 400.
    """
    try:
        pairs = parse_qsl(req.bounded_stream.read().decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise falcon.HTTPBadRequest(description="The form body is not valid UTF-8.") from exc
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return {name: found[0] if len(found) == 1 else found for name, found in values.items()}


def read_part_text(part, max_bytes: int = MAX_COMMENT_BODY_BYTES) -> str:
    """A multipart form field as text, bounded and strictly UTF-8."""
    data = part.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise falcon.HTTPContentTooLarge(description=f"The form field {part.name!r} is too large.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise falcon.HTTPBadRequest(description=f"The form field {part.name!r} is not valid UTF-8.") from exc
