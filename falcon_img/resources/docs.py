"""``GET /api/v1.0/openapi.json``: the OpenAPI document, built on first request and kept."""

from __future__ import annotations

import threading
from collections.abc import Callable

import falcon
import orjson

from ..schemas import JSON_CONTENT_TYPE


class OpenAPIDocument:
    uses_database = False

    def __init__(self, build: Callable[[], dict]) -> None:
        self._build = build
        self._body: bytes | None = None
        self._lock = threading.Lock()

    def body(self) -> bytes:
        if self._body is None:
            with self._lock:
                if self._body is None:
                    self._body = orjson.dumps(self._build())
        return self._body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The OpenAPI 3.1 document of this API.
        ---
        tags: [service]
        responses:
          200:
            description: OpenAPI 3.1, JSON.
            content:
              application/json:
                schema: {type: object}
        """
        resp.content_type = JSON_CONTENT_TYPE
        resp.cache_control = ["public, max-age=300"]
        resp.data = self.body()
