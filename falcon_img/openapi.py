"""The OpenAPI 3.1 document, generated from the marshmallow schemas and each responder's docstring.

A responder's docstring is its summary line, then ``---`` and the YAML of its
operation (parameters, request body, responses). Paths come from the same
route table the app is built from, so the document lists exactly the routes
the app serves.
"""

from __future__ import annotations

import copy
import re

from apispec import APISpec, yaml_utils
from apispec.ext.marshmallow import MarshmallowPlugin

from . import __version__, schemas
from .settings import Settings

METHODS = ("get", "head", "post", "put", "delete")
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")

DESCRIPTION = """\
Images and their comments. Upload an image, list and inspect images, download
the file (or a sized variant), and add, read, edit and delete comments.

Writes may need `Authorization: Bearer <API key or edit token>` when the server
has API keys configured; every 201 carries an `edit_token` for that resource.
Every error is JSON with a `message`.
"""

ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


COMMENT_BODY = {
    "required": True,
    "content": {
        media: {"schema": {"$ref": "#/components/schemas/CommentBody"}}
        for media in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    },
}


def openapi_path(template: str) -> str:
    """Falcon's ``{image_id:id}`` as OpenAPI's ``{image_id}``."""
    return _CONVERTER.sub(r"{\1}", template)


def build_spec(routes: list[tuple[str, object]], settings: Settings) -> dict:
    spec = APISpec(
        title="falcon-img",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION, "license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": "/"}],
    )
    _components(spec, settings)
    for template, resource in routes:
        operations = {}
        for method in METHODS:
            responder = getattr(resource, f"on_{method}", None)
            if responder is None:
                continue
            operation = dict(yaml_utils.load_yaml_from_docstring(responder.__doc__ or "") or {})
            if operation.get("requestBody") == "CommentBody":
                # Shared by POST and PUT; apispec resolves no $ref in request bodies.
                operation["requestBody"] = copy.deepcopy(COMMENT_BODY)
            summary = (responder.__doc__ or "").strip().split("\n", 1)[0]
            operation.setdefault("summary", summary)
            operation.setdefault("operationId", f"{type(resource).__name__}.{method}")
            operation.setdefault("responses", {"200": {"description": summary}})
            # Any request may meet these, whatever the operation.
            operation["responses"].setdefault(429, "TooManyRequests")
            if "requestBody" in operation:
                operation["responses"].setdefault(408, "RequestTimeout")
            operation["responses"].setdefault(503, "Unavailable")
            operations[method] = operation
        path = openapi_path(template)
        parameters = [
            {"in": "path", "name": name, "required": True, "schema": _path_schema(name)}
            for name in re.findall(r"\{(\w+)\}", path)
        ]
        spec.path(path=path, operations=operations, parameters=parameters)
    document = spec.to_dict()
    return _without_nulls(document)


def _without_nulls(value):
    """apispec writes ``"format": null`` for custom datetime formats; OpenAPI wants no key."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _path_schema(name: str) -> dict:
    if name.endswith("_id"):
        return {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    return {"type": "string", "minLength": 1}


def _components(spec: APISpec, settings: Settings) -> None:
    for name, schema in [
        ("Image", schemas.ImageSchema), ("ImageCreated", schemas.ImageCreatedSchema),
        ("ImageList", schemas.ImageListSchema), ("Comment", schemas.CommentSchema),
        ("CommentBody", schemas.CommentBodySchema), ("CommentCreated", schemas.CommentCreatedSchema),
        ("CommentChanged", schemas.CommentChangedSchema), ("CommentList", schemas.CommentListSchema),
        ("Deleted", schemas.DeletedSchema), ("Error", schemas.ErrorSchema),
        ("Conflict", schemas.ConflictSchema), ("Health", schemas.HealthSchema),
    ]:
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "An API key, or a resource's edit_token."},
    )
    spec.components.parameter("limit", "query", {
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "description": "Items per page.",
    })
    spec.components.parameter("after", "query", {
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
        "description": "The cursor from the previous page's `next`.",
    })
    spec.components.parameter("w", "query", {
        "schema": {"type": "integer", "enum": list(settings.variant_widths)},
        "description": "Width of a sized variant; a width not smaller than the original sends the original.",
    })
    spec.components.parameter("format", "query", {
        "schema": {"type": "string", "enum": ["webp"]}, "description": "Output format of a variant (needs `w`).",
    })
    spec.components.parameter("download", "query", {
        "schema": {"type": "string", "enum": ["1", "0", "true", "false"]},
        "description": "`1` sends the file as an attachment instead of inline.",
    })
    spec.components.header("Location", {"schema": {"type": "string"}, "description": "The new resource's URL."})
    spec.components.header("Link", {"schema": {"type": "string"}, "description": 'The next page: `<url>; rel="next"`.'})
    file_headers = {
        "ETag": {"schema": {"type": "string"}, "description": "Strong; from the sha256 of the bytes sent."},
        "Last-Modified": {"schema": {"type": "string"}},
        "Cache-Control": {"schema": {"type": "string"}},
        "Content-Disposition": {"schema": {"type": "string"}},
    }
    image_content = {kind: {"schema": {"type": "string", "format": "binary"}}
                     for kind in ("image/jpeg", "image/png", "image/gif", "image/webp")}
    responses = {
        "BadRequest": ("The request is not valid (see `errors`).", ERROR_CONTENT),
        "Unauthorized": ("A write needs a valid credential (API key or edit token).", ERROR_CONTENT),
        "Forbidden": ("The edit token belongs to another resource.", ERROR_CONTENT),
        "NotFound": ("No such resource.", ERROR_CONTENT),
        "LengthRequired": ("The body needs a Content-Length.", ERROR_CONTENT),
        "TooLarge": ("The body or the image is larger than the limit.", ERROR_CONTENT),
        "UnsupportedMediaType": ("Not an accepted image or body type.", ERROR_CONTENT),
        "RangeNotSatisfiable": ("The range is outside the file.", ERROR_CONTENT),
        "RequestTimeout": ("The request body did not arrive in time.", ERROR_CONTENT),
        "TooManyRequests": ("Over the rate limit; see `Retry-After`.", ERROR_CONTENT),
        "Unavailable": ("The database or the storage is not answering; try again shortly.", ERROR_CONTENT),
        "NotModified": ("The client's copy is current.", None),
        "File": ("The image bytes.", image_content),
        "PartialFile": ("The requested byte range.", image_content),
    }
    for name, (description, content) in responses.items():
        response: dict = {"description": description}
        if content:
            response["content"] = content
        if name in ("File", "PartialFile", "NotModified"):
            response["headers"] = {"ETag": file_headers["ETag"]} if name == "NotModified" else file_headers
        spec.components.response(name, response)
