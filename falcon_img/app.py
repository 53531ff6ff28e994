"""The app factory: wiring only. Nothing here connects to the database or reads the environment."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping

import falcon
import falcon.routing
import orjson

from . import db, errors
from .access import AccessControl
from .middleware import BodyDeadline, CORSPolicy, DatabaseMiddleware, RequestContext
from .models import MAX_ID
from .openapi import build_spec
from .ratelimit import RateLimiter
from .resources.comments import CommentCollection, CommentItem
from .resources.docs import OpenAPIDocument
from .resources.files import FileDownload
from .resources.health import Health
from .resources.images import ImageCollection, ImageItem
from .resources.pages import page_routes
from .schemas import API_PREFIX, JSON_CONTENT_TYPE
from .settings import Settings
from .storage import Storage, open_storage

log = logging.getLogger(__name__)

#: Parts a multipart upload may have: `file`, `name`, and a little slack.
MAX_MULTIPART_PARTS = 16

_ASCII_ID = re.compile(r"[0-9]{1,19}")


class IdConverter(falcon.routing.BaseConverter):
    """``{image_id:id}``: ASCII digits only, 1..2**63-1; anything else is no route (404).

    Falcon's ``int`` converter accepts what ``int()`` accepts: ``٣``, ``３``, ``1_0``.
    """

    def convert(self, value: str) -> int | None:
        if not _ASCII_ID.fullmatch(value):
            return None
        number = int(value)
        return number if 1 <= number <= MAX_ID else None


def json_handler() -> falcon.media.JSONHandler:
    return falcon.media.JSONHandler(
        dumps=functools.partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS),
        loads=orjson.loads,
    )


def build_settings(settings: Settings | Mapping | None) -> Settings:
    return settings if isinstance(settings, Settings) else Settings.load(overrides=settings)


def open_services(settings: Settings, statement_timeout: float = 0) -> Storage:
    """Bind the database proxy and open the storage a Settings names (no connection yet)."""
    db.bind(db.open_database(settings.resolved_database_url, settings.database_pool_size, statement_timeout))
    return open_storage(settings.resolved_storage_url, settings)


#: Response headers a browser script on an allowed origin may read.
CORS_EXPOSED_HEADERS = [
    "Location", "Link", "ETag", "Content-Range", "Content-Disposition", "Retry-After", "X-Request-ID",
    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy",
]


def middleware(settings: Settings) -> list:
    """In order: ids and headers first (so even refusals carry them), the body's
    deadline, then CORS, the rate limit, the connection, and the access check
    (which reads tokens)."""
    chain: list = [RequestContext(), BodyDeadline(settings.body_timeout_seconds)]
    if settings.cors_origins:
        chain.append(CORSPolicy(
            allow_origins=list(settings.cors_origins), expose_headers=CORS_EXPOSED_HEADERS,
        ))
    limiter = RateLimiter(settings)
    if limiter.enabled:
        chain.append(limiter)
    chain.append(DatabaseMiddleware(db.database))
    access = AccessControl(settings)
    if access.enabled:
        chain.append(access)
    elif settings.env == "production":
        log.warning("FALCON_IMG_API_KEYS is not set: anyone can upload, edit and delete (open mode).")
    return chain


def routes(storage: Storage, settings: Settings) -> list[tuple[str, object]]:
    """Every route the app serves; the OpenAPI document is generated from this same table."""
    table: list[tuple[str, object]] = [
        (f"{API_PREFIX}/images", ImageCollection(storage, settings)),
        (f"{API_PREFIX}/images/{{image_id:id}}", ImageItem(storage, settings)),
        (f"{API_PREFIX}/images/{{image_id:id}}/comments", CommentCollection()),
        (f"{API_PREFIX}/comments/{{comment_id:id}}", CommentItem()),
        (f"{API_PREFIX}/file/{{file_name}}", FileDownload(storage, settings)),
        ("/healthz", Health(db.database, storage)),
        *page_routes(),
    ]
    table.append((f"{API_PREFIX}/openapi.json", OpenAPIDocument(lambda: build_spec(table, settings))))
    return table


def create_app(settings: Settings | Mapping | None = None) -> falcon.App:
    """A falcon.App for ``settings`` (a Settings, or a mapping of overrides on the defaults)."""
    settings = build_settings(settings)
    storage = open_services(settings, statement_timeout=settings.database_statement_timeout)

    app = falcon.App(middleware=middleware(settings))
    app.router_options.converters["id"] = IdConverter
    app.req_options.strip_url_path_trailing_slash = True
    handler = json_handler()
    app.req_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.resp_options.media_handlers[JSON_CONTENT_TYPE] = handler
    app.resp_options.default_media_type = JSON_CONTENT_TYPE
    multipart = app.req_options.media_handlers[falcon.MEDIA_MULTIPART].parse_options
    multipart.max_body_part_count = MAX_MULTIPART_PARTS
    errors.register(app)

    for template, resource in routes(storage, settings):
        app.add_route(template, resource)
    return app
