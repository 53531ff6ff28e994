"""Every error the API sends, rendered in one place.

Code raises where it knows what went wrong: a ``falcon.HTTPError``, or a
library or domain error (marshmallow's ValidationError, Peewee's DoesNotExist,
an IngestError, a StorageError). The handlers here turn the latter into
HTTPErrors, and one serializer makes every HTTPError the same JSON shape:
``{"message": ..., "errors": {...}?, ...}``. Nothing a client sends reaches a
client as a stack trace.
"""

from __future__ import annotations

import logging

import falcon
import marshmallow
import orjson
import peewee

from . import ingest
from .db import UNAVAILABLE_ERRORS
from .schemas import JSON_CONTENT_TYPE, image_url
from .storage import StorageError

log = logging.getLogger(__name__)

#: What to tell a person when the code that raised had nothing more specific to say.
DEFAULT_MESSAGES = {
    400: "The request is not valid.",
    401: "This request needs a valid credential.",
    403: "This credential does not allow this request.",
    404: "The requested resource was not found.",
    405: "This method is not allowed on this resource.",
    406: "The requested representation is not available; this API speaks JSON.",
    409: "The request conflicts with an existing resource.",
    411: "The request must have a Content-Length header.",
    413: "The request body is too large.",
    414: "The request URI is too long.",
    415: "The request body has an unsupported media type.",
    416: "The requested range cannot be satisfied.",
    429: "Too many requests; slow down.",
    431: "The request headers are too large.",
    500: "The server failed to answer this request; it has been logged.",
    503: "The service is temporarily unavailable; try again shortly.",
}


class APIError(falcon.HTTPError):
    """An HTTPError that carries extra keys for the JSON body (e.g. ``image_url``)."""

    def __init__(self, status, *, message: str, extra: dict | None = None, headers=None) -> None:
        super().__init__(status, description=message, headers=headers)
        self.extra = extra or {}


def error_body(exception: falcon.HTTPError) -> dict:
    status = exception.status_code
    message = exception.description or DEFAULT_MESSAGES.get(status) or exception.title
    body = {"message": message}
    body.update(getattr(exception, "extra", None) or {})
    return body


def serialize_error(req: falcon.Request, resp: falcon.Response, exception: falcon.HTTPError) -> None:
    resp.content_type = JSON_CONTENT_TYPE
    resp.data = orjson.dumps(error_body(exception), option=orjson.OPT_NON_STR_KEYS)


# -- handlers: library and domain errors -> HTTP ---------------------------

def handle_validation_error(req, resp, exc: marshmallow.ValidationError, params):
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    raise APIError(falcon.HTTP_400, message=_first_message(messages), extra={"errors": messages})


def handle_does_not_exist(req, resp, exc: peewee.DoesNotExist, params):
    raise falcon.HTTPNotFound()


def handle_ingest_error(req, resp, exc: ingest.IngestError, params):
    if isinstance(exc, ingest.NameTaken):
        extra = {"image_url": image_url(exc.existing.id)} if exc.existing is not None else {}
        raise APIError(falcon.HTTP_409, message=str(exc), extra=extra)
    status = falcon.HTTP_415 if isinstance(exc, ingest.NotAnImage) else falcon.HTTP_413
    raise APIError(status, message=str(exc))


def handle_unavailable(req, resp, exc: Exception, params):
    log.error("dependency unavailable during %s %s: %s", req.method, req.path, exc)
    what = "storage" if isinstance(exc, StorageError) else "database"
    raise APIError(
        falcon.HTTP_503,
        message=f"The {what} is not answering; try again shortly.",
        headers={"Retry-After": "5"},
    )


def register(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    app.add_error_handler(marshmallow.ValidationError, handle_validation_error)
    app.add_error_handler(peewee.DoesNotExist, handle_does_not_exist)
    app.add_error_handler(ingest.IngestError, handle_ingest_error)
    app.add_error_handler(StorageError, handle_unavailable)
    for error in UNAVAILABLE_ERRORS:
        app.add_error_handler(error, handle_unavailable)


def _first_message(messages: dict) -> str:
    for field, problems in messages.items():
        problem = problems[0] if isinstance(problems, list) and problems else problems
        if isinstance(problem, str):
            return problem if field == "_schema" else f"{field}: {problem}"
    return DEFAULT_MESSAGES[400]
