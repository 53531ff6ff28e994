"""marshmallow schemas: what the API accepts (load) and what it sends (dump).

The same schemas document the API, so the representations in API.md live
here once: the resources dump through them (``dump_image``/``dump_comment``
are compiled from them) and never build representations by hand.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping
from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates

API_PREFIX = "/api/v1.0"
#: What every JSON body is sent as (API.md: `application/json; charset=utf-8`).
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
URL_DOC = {"type": "string", "format": "uri-reference"}
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
LEGACY_TIME = "%Y-%m-%d %H:%M:%S"
RFC3339_DOC = {"pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", "example": "2018-01-01T00:00:00Z"}
LEGACY_TIME_DOC = {"pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "example": "2018-01-01 00:00:00"}


def image_url(image_id: int) -> str:
    return f"{API_PREFIX}/images/{image_id}"


def image_comments_url(image_id: int) -> str:
    return f"{API_PREFIX}/images/{image_id}/comments"


def comment_url(comment_id: int) -> str:
    return f"{API_PREFIX}/comments/{comment_id}"


@functools.lru_cache(maxsize=8192)
def file_url(name: str) -> str:
    return f"{API_PREFIX}/file/{quote(name, safe='')}"


class ImageSchema(Schema):
    """An image as the API sends it, dumped from a row of ``models.image_row``/``image_page``."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    time = fields.DateTime(
        format=LEGACY_TIME, attribute="created_at", dump_only=True,
        metadata={
            "deprecated": True, "description": "Creation time in the original app's format; use created_at.",
            **LEGACY_TIME_DOC,
        },
    )
    created_at = fields.DateTime(format=RFC3339, dump_only=True, metadata=RFC3339_DOC)
    content_type = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True)
    width = fields.Integer(dump_only=True)
    height = fields.Integer(dump_only=True)
    sha256 = fields.String(dump_only=True)
    comments_count = fields.Integer(dump_only=True, dump_default=0)
    image_url = fields.Function(lambda image: image_url(image["id"]), dump_only=True, metadata=URL_DOC)
    file_url = fields.Function(lambda image: file_url(image["name"]), dump_only=True, metadata=URL_DOC)
    comm_url = fields.Function(lambda image: image_comments_url(image["id"]), dump_only=True, metadata=URL_DOC)


class CommentSchema(Schema):
    """A comment as the API sends it, dumped from a row of ``models.comment_row``/``comment_page``."""

    id = fields.Integer(dump_only=True)
    image_id = fields.Integer(dump_only=True)
    text = fields.String(dump_only=True)
    comm = fields.String(
        attribute="text", dump_only=True,
        metadata={"deprecated": True, "description": "The original app's key for the text; use text."},
    )
    created_at = fields.DateTime(format=RFC3339, dump_only=True, metadata=RFC3339_DOC)
    updated_at = fields.DateTime(format=RFC3339, dump_only=True, metadata=RFC3339_DOC)
    comm_url = fields.Function(lambda comment: comment_url(comment["id"]), dump_only=True, metadata=URL_DOC)
    img_url = fields.Function(lambda comment: image_url(comment["image_id"]), dump_only=True, metadata=URL_DOC)


class CommentBodySchema(Schema):
    """The body of a comment POST or PUT: JSON, or a form with a ``text`` field."""

    class Meta:
        unknown = EXCLUDE

    text = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=10_000, error="Text must be between 1 and 10,000 characters long (after trimming spaces).",
        ),
        metadata={"description": "The comment; surrounding whitespace is trimmed. No NUL characters."},
    )

    @pre_load
    def accept_legacy_key_and_trim(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        # The original app's clients send the text as `comm`.
        if "text" not in data and "comm" in data:
            data["text"] = data.pop("comm")
        else:
            data.pop("comm", None)
        if isinstance(data.get("text"), str):
            data["text"] = data["text"].strip()
        return data

    @validates("text")
    def text_has_no_nul(self, value, **kwargs):
        if "\x00" in value:
            raise ValidationError("Text must not contain NUL characters.")


class PageQuerySchema(Schema):
    """``limit`` and ``after`` of a collection request: ASCII digits only, like ids."""

    class Meta:
        unknown = EXCLUDE

    limit = fields.String(
        load_default="100",
        validate=validate.Regexp(r"^0*(1000|[1-9][0-9]{0,2})$", error="Must be a whole number from 1 to 1000."),
    )
    after = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,19}$", error="Not a cursor from `next`."))


class ImageListSchema(Schema):
    images = fields.List(fields.Nested(ImageSchema))
    next = fields.String(allow_none=True)


class CommentListSchema(Schema):
    comments = fields.List(fields.Nested(CommentSchema))
    img_url = fields.String()
    next = fields.String(allow_none=True)


class ErrorSchema(Schema):
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Field validation errors: field name to messages."},
    )


# Documentation-only shapes of write responses (the resources add these keys to a dump).

class ImageCreatedSchema(ImageSchema):
    edit_token = fields.String(metadata={"description": "Lets its holder delete this image. Shown only once."})
    message = fields.String(metadata={"example": "Image added to collection"})


class CommentCreatedSchema(CommentSchema):
    edit_token = fields.String(metadata={"description": "Lets its holder edit or delete this comment. Shown only once."})
    message = fields.String(metadata={"example": "Comment append"})


class CommentChangedSchema(CommentSchema):
    message = fields.String(metadata={"example": "Comment change"})


class DeletedSchema(Schema):
    message = fields.String(metadata={"example": "Image deleted"})
    id = fields.Integer()


class ConflictSchema(ErrorSchema):
    image_url = fields.String(metadata={"description": "The existing image with this name."})


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "unavailable"]})
    database = fields.String(metadata={"enum": ["ok", "unavailable"]})
    storage = fields.String(metadata={"enum": ["ok", "unavailable"]})
    message = fields.String()


image_schema = ImageSchema()
images_schema = ImageSchema(many=True)
comment_schema = CommentSchema()
comment_body_schema = CommentBodySchema()
comments_schema = CommentSchema(many=True)
page_query_schema = PageQuerySchema()


# -- the hot path ------------------------------------------------------------

def compile_dump(schema: Schema) -> Callable[[Mapping], dict]:
    """A function that returns what ``schema.dump(row)`` returns for a flat row, ~10x faster.

    It is generated from the schema's own fields (so the representation is
    still defined once, here, and documented from the same schema), as plain
    Python: one dict display per row, no per-field dispatch. Only the field
    kinds these schemas use are supported; anything else is a TypeError at
    import time rather than a silent difference.
    """
    namespace: dict = {}
    items = []
    for index, (name, field) in enumerate(schema.dump_fields.items()):
        key = field.attribute or name
        if isinstance(field, fields.Function):
            namespace[f"function_{index}"] = field.serialize_func
            expression = f"function_{index}(row)"
        elif isinstance(field, fields.DateTime):
            namespace[f"format_{index}"] = _time_formatter(field.format)
            expression = f"format_{index}(row[{key!r}])"
        elif type(field) in (fields.Integer, fields.String):
            expression = f"row[{key!r}]"
        else:
            raise TypeError(f"compile_dump cannot compile {type(field).__name__} field {name!r}")
        items.append(f"{name!r}: {expression}")
    source = "def dump(row):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<dump {type(schema).__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["dump"]


def _time_formatter(fmt: str) -> Callable[[datetime.datetime | None], str | None]:
    """``value.strftime(fmt)``, or the same text from isoformat() where that is
    exact and several times cheaper (both formats the API uses)."""
    separator = {RFC3339: "T", LEGACY_TIME: " "}.get(fmt)
    suffix = "Z" if fmt == RFC3339 else ""

    def format_time(value: datetime.datetime | None) -> str | None:
        if value is None:
            return None
        if separator is not None:
            return value.isoformat(separator, "seconds") + suffix
        return value.strftime(fmt)

    return format_time


dump_image = compile_dump(image_schema)
dump_comment = compile_dump(comment_schema)
