"""Image bytes: ``GET``/``HEAD /file/{file_name}`` with caching, ranges and sendfile."""

from __future__ import annotations

import re
from urllib.parse import quote

import falcon

from .. import models
from ..errors import APIError
from ..settings import Settings
from ..storage import Storage, StorageError
from ..variants import REQUESTABLE_FORMATS, VariantSpec, VariantUnavailable, variant_for

_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = "unsatisfiable"


def requested_range(header: str | None, size: int):
    """``(start, end)`` for a single satisfiable byte range, UNSATISFIABLE, or None.

    None means "send the whole file": no Range, a malformed one, or several
    ranges (which RFC 9110 lets a server answer with the full representation).
    """
    if not header:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return (max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None
    # Checked before defaulting `end`: "bytes=<past the end>-" is unsatisfiable, not malformed.
    if start >= size:
        return UNSATISFIABLE
    end = int(last) if last else size - 1
    return (start, min(end, size - 1))


def content_disposition(kind: str, name: str) -> str:
    """``inline`` or ``attachment`` naming ``name``, which no stored name can break out of.

    Falcon writes an ASCII name into ``filename="..."`` unescaped, so a name
    holding a ``"`` could add parameters of its own (``filename*=...html``).
    A name a plain quoted-string cannot carry goes out as RFC 8187
    ``filename*``, with a sanitised ASCII ``filename`` for old clients.
    """
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename={falcon.secure_filename(name)}; filename*=UTF-8''{quote(name, safe='')}"


def _etag_matches(candidates, etag: str) -> bool:
    return any(candidate == "*" or str(candidate) == etag for candidate in candidates or ())


class FileDownload:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_name: str) -> None:
        """Download an image's bytes, or a sized variant of them.
        ---
        tags: [files]
        parameters:
          - w
          - format
          - download
          - {in: header, name: Range, schema: {type: string}, description: 'One byte range, e.g. `bytes=0-1023`.'}
          - {in: header, name: If-None-Match, schema: {type: string}, description: 'An ETag this client holds.'}
        responses:
          200: {$ref: '#/components/responses/File'}
          206: {$ref: '#/components/responses/PartialFile'}
          304: {$ref: '#/components/responses/NotModified'}
          400: {$ref: '#/components/responses/BadRequest'}
          404: {$ref: '#/components/responses/NotFound'}
          416: {$ref: '#/components/responses/RangeNotSatisfiable'}
        """
        self._answer(req, resp, file_name, send_body=True)

    def on_head(self, req: falcon.Request, resp: falcon.Response, file_name: str) -> None:
        """The headers a GET of the same file would send, without the body.
        ---
        tags: [files]
        parameters:
          - w
          - format
          - download
          - {in: header, name: Range, schema: {type: string}}
          - {in: header, name: If-None-Match, schema: {type: string}}
        responses:
          200: {description: The file's headers.}
          206: {description: The range's headers.}
          304: {description: Not modified.}
          400: {description: Bad width or format.}
          404: {description: No image with this file name.}
          416: {description: Range not satisfiable.}
        """
        self._answer(req, resp, file_name, send_body=False)

    def _answer(self, req: falcon.Request, resp: falcon.Response, file_name: str, send_body: bool) -> None:
        spec = self._variant_spec(req)
        # No stored name holds a NUL (uploads drop control characters), and PostgreSQL refuses one in a query.
        image = models.file_row(file_name) if "\x00" not in file_name else None
        if image is None:
            raise falcon.HTTPNotFound(description="There is no image with this file name.")
        if spec is not None and spec.width < image["width"]:
            served = self._variant(req, resp, image, spec)
            if served is None:
                return
            key, size, etag = served
        else:
            key, size, etag = image["sha256"], image["size"], image["sha256"]
            self._describe(req, resp, image["name"], image["content_type"], etag, image["created_at"])
            if self._not_modified(req, resp, etag, image["created_at"]):
                return
        self._send(req, resp, key, size, etag, send_body)

    def _variant(self, req, resp, image: dict, spec: VariantSpec):
        """Describe (and make, the first time) a variant: ``(key, size, etag)``, or None after a 304."""
        label = spec.label(image["content_type"])
        etag = f"{image['sha256']}-{label}"
        name = image["name"].rsplit(".", 1)[0] + "." + label.rsplit(".", 1)[1]
        content_type = spec.output(image["content_type"])[2]
        self._describe(req, resp, name, content_type, etag, image["created_at"])
        # The ETag is known without the variant: a revalidation costs no rendering.
        if self._not_modified(req, resp, etag, image["created_at"]):
            return None
        blob = models.Blob(sha256=image["sha256"], content_type=image["content_type"])
        try:
            variant = variant_for(blob, spec, storage=self.storage, settings=self.settings)
        except VariantUnavailable as exc:
            raise APIError(
                falcon.HTTP_503, message="This variant is still being made; try again shortly.",
                headers={"Retry-After": "2"},
            ) from exc
        return variant.key, variant.size, etag

    def _send(self, req, resp, key: str, size: int, etag: str, send_body: bool) -> None:
        wanted = requested_range(req.get_header("Range"), size)
        if wanted is not None and not self._if_range_holds(req, etag):
            wanted = None
        if wanted == UNSATISFIABLE:
            raise APIError(
                falcon.HTTP_416,
                message=f"The requested range is outside the file's {size} bytes.",
                headers={"Content-Range": f"bytes */{size}"},
            )
        start, end = wanted if wanted else (0, size - 1)
        length = end - start + 1
        if wanted:
            resp.status = falcon.HTTP_206
            resp.content_range = (start, end, size)
        if not send_body:
            resp.content_length = length
            return
        try:
            stream = self.storage.open(key, start, length)
        except FileNotFoundError as exc:
            raise StorageError(f"stored file {key} is missing") from exc
        # A real file object: Gunicorn hands it to sendfile() via wsgi.file_wrapper.
        resp.set_stream(stream, length)

    def _variant_spec(self, req: falcon.Request) -> VariantSpec | None:
        """``?w=`` (an allowed width) and ``?format=webp``; anything else is a 400."""
        width_text = req.get_param("w")
        format_text = req.get_param("format")
        if width_text is None:
            if format_text is not None:
                raise falcon.HTTPBadRequest(description="`format` needs a width: add `w` (e.g. ?w=320&format=webp).")
            return None
        allowed = ", ".join(str(w) for w in self.settings.variant_widths)
        if not width_text.isascii() or not width_text.isdigit() or int(width_text) not in self.settings.variant_widths:
            raise APIError(
                falcon.HTTP_400, message=f"`w` must be one of the allowed widths: {allowed}.",
                extra={"errors": {"w": [f"Must be one of: {allowed}."]}},
            )
        if format_text is not None and format_text.lower() not in REQUESTABLE_FORMATS:
            formats = ", ".join(REQUESTABLE_FORMATS)
            raise APIError(
                falcon.HTTP_400, message=f"`format` must be one of: {formats}.",
                extra={"errors": {"format": [f"Must be one of: {formats}."]}},
            )
        return VariantSpec(width=int(width_text), format=format_text.lower() if format_text else None)

    def _describe(self, req, resp, name, content_type, etag, modified) -> None:
        resp.content_type = content_type
        resp.etag = etag
        resp.last_modified = modified
        resp.cache_control = [f"public, max-age={self.settings.file_cache_seconds}"]
        resp.accept_ranges = "bytes"
        resp.set_header("X-Content-Type-Options", "nosniff")
        kind = "attachment" if req.get_param_as_bool("download", default=False, blank_as_true=True) else "inline"
        resp.set_header("Content-Disposition", content_disposition(kind, name))

    @staticmethod
    def _not_modified(req: falcon.Request, resp: falcon.Response, etag: str, modified) -> bool:
        if req.get_header("If-None-Match") is not None:
            matched = _etag_matches(req.if_none_match, etag)
        else:
            try:
                since = req.if_modified_since
            except falcon.HTTPInvalidHeader:
                # RFC 9110, 13.1.3: a date that does not parse is ignored, not an error.
                since = None
            matched = since is not None and modified.replace(microsecond=0) <= since
        if matched:
            resp.status = falcon.HTTP_304
            # A 304 has no content, so nothing to describe the type of (RFC 9110, 15.4.5).
            resp.content_type = None
        return matched

    @staticmethod
    def _if_range_holds(req: falcon.Request, etag: str) -> bool:
        condition = req.get_header("If-Range")
        return condition is None or condition.strip() == f'"{etag}"'
