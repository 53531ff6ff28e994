"""marshmallow schemas: what the API accepts (load) and what it sends (dump).

The same schemas document the API, so the representations in API.md live
here once: the resources dump through them and never build dicts by hand.
"""

from __future__ import annotations

from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates

API_PREFIX = "/api/v1.0"
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
LEGACY_TIME = "%Y-%m-%d %H:%M:%S"


def image_url(image_id: int) -> str:
    return f"{API_PREFIX}/images/{image_id}"


def image_comments_url(image_id: int) -> str:
    return f"{API_PREFIX}/images/{image_id}/comments"


def comment_url(comment_id: int) -> str:
    return f"{API_PREFIX}/comments/{comment_id}"


def file_url(name: str) -> str:
    return f"{API_PREFIX}/file/{quote(name, safe='')}"


class ImageSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    time = fields.DateTime(
        format=LEGACY_TIME, attribute="created_at", dump_only=True,
        metadata={"deprecated": True, "description": "Creation time in the original app's format; use created_at."},
    )
    created_at = fields.DateTime(format=RFC3339, dump_only=True)
    content_type = fields.String(attribute="blob.content_type", dump_only=True)
    size = fields.Integer(attribute="blob.size", dump_only=True)
    width = fields.Integer(attribute="blob.width", dump_only=True)
    height = fields.Integer(attribute="blob.height", dump_only=True)
    sha256 = fields.String(attribute="blob_id", dump_only=True)
    comments_count = fields.Integer(dump_only=True, dump_default=0)
    image_url = fields.Function(lambda image: image_url(image.id), dump_only=True)
    file_url = fields.Function(lambda image: file_url(image.name), dump_only=True)
    comm_url = fields.Function(lambda image: image_comments_url(image.id), dump_only=True)


class CommentSchema(Schema):
    """A comment as sent (``dump``) and the body of a POST or PUT (``load``)."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(dump_only=True)
    image_id = fields.Integer(dump_only=True)
    text = fields.String(required=True, validate=validate.Length(
        min=1, max=10_000, error="Text must be between 1 and 10,000 characters long (after trimming spaces).",
    ))
    comm = fields.String(
        attribute="text", dump_only=True,
        metadata={"deprecated": True, "description": "The original app's key for the text; use text."},
    )
    created_at = fields.DateTime(format=RFC3339, dump_only=True)
    updated_at = fields.DateTime(format=RFC3339, dump_only=True)
    comm_url = fields.Function(lambda comment: comment_url(comment.id), dump_only=True)
    img_url = fields.Function(lambda comment: image_url(comment.image_id), dump_only=True)

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
    """``limit`` and ``after`` of a collection request."""

    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000), strict=False)
    after = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,19}$", error="Not a cursor from `next`."))


class ImageListSchema(Schema):
    images = fields.List(fields.Nested(ImageSchema))
    next = fields.String(allow_none=True)


class CommentListSchema(Schema):
    comments = fields.List(fields.Nested(CommentSchema))
    img_url = fields.String()
    next = fields.String(allow_none=True)


class ErrorSchema(Schema):
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


image_schema = ImageSchema()
images_schema = ImageSchema(many=True)
comment_schema = CommentSchema()
comments_schema = CommentSchema(many=True)
page_query_schema = PageQuerySchema()
