"""Request-wide concerns that wrap every resource."""

from __future__ import annotations

import falcon
import peewee


class DatabaseMiddleware:
    """Borrow a pooled connection for each routed request; always give it back.

    The connection is taken in ``process_resource`` (so an unknown route never
    touches the database) and returned in ``process_response``, which Falcon
    runs even when the responder raised. A broken connection (server restarted)
    is dropped from the pool rather than handed to the next request.
    """

    def __init__(self, database: peewee.DatabaseProxy) -> None:
        self.database = database

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        if resource is not None and getattr(resource, "uses_database", True):
            self.database.connect(reuse_if_open=True)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        if self.database.is_closed():
            return
        if not req_succeeded and resp.status_code == 503:
            # The failure may have left the connection unusable: drop it
            # instead of returning it to the pool for the next request.
            try:
                self.database.manual_close()
                return
            except Exception:
                pass
        try:
            self.database.close()
        except peewee.PeeweeException:
            pass
