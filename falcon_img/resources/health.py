"""``GET /healthz``: does the database answer, can the storage be written."""

from __future__ import annotations

import logging

import falcon
import peewee

from ..db import UNAVAILABLE_ERRORS, connection
from ..storage import Storage, StorageError

log = logging.getLogger(__name__)


class Health:
    # Opens its own connection, so a dead database is a 503 here and not an error in middleware.
    uses_database = False

    def __init__(self, database: peewee.DatabaseProxy, storage: Storage) -> None:
        self.database = database
        self.storage = storage

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Whether the database and the storage answer.
        ---
        tags: [service]
        responses:
          200:
            description: Both answer.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Health'}
          503:
            description: One of them does not.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Health'}
        """
        checks = {"database": self._check_database(), "storage": self._check_storage()}
        healthy = all(state == "ok" for state in checks.values())
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.cache_control = ["no-store"]
        body = {"status": "ok" if healthy else "unavailable", **checks}
        if not healthy:
            failing = [name for name, state in checks.items() if state != "ok"]
            verb = "is" if len(failing) == 1 else "are"
            body["message"] = f"The {' and '.join(failing)} {verb} not answering."
            resp.set_header("Retry-After", "5")
        resp.media = body

    def _check_database(self) -> str:
        try:
            with connection() as db:
                db.execute_sql("SELECT 1").fetchone()
            return "ok"
        except UNAVAILABLE_ERRORS as exc:
            log.error("health check: database unavailable: %s", exc)
            try:
                self.database.manual_close()
            except Exception:
                pass
            return "unavailable"

    def _check_storage(self) -> str:
        try:
            self.storage.check()
            return "ok"
        except StorageError as exc:
            log.error("health check: storage unavailable: %s", exc)
            return "unavailable"
