"""Request-wide concerns that wrap every resource: request ids, security headers, connections."""

from __future__ import annotations

import re
import time
import uuid

import falcon
import peewee

#: A client's X-Request-ID is echoed only when it is short and plain (it ends up in logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

#: For JSON and files: nothing may run, nothing may frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: For the app's own HTML pages: only its own scripts, styles and images.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class RequestContext:
    """Give every request an id (the client's ``X-Request-ID`` or a new one) and
    every response the headers that make it safe to show in a browser."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        offered = req.get_header("X-Request-ID")
        req.context.request_id = offered if offered and _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        resp.set_header("X-Request-ID", req.context.request_id)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", req.context.request_id)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("Cross-Origin-Resource-Policy", "cross-origin")
        is_page = (resp.content_type or "").startswith("text/html")
        resp.set_header("Content-Security-Policy", PAGE_CSP if is_page else API_CSP)


class ReceivedBody:
    """A request's ``wsgi.input`` that counts the bytes that really arrive and
    gives up (408) when the client has not sent them by a deadline.

    Falcon's bounded stream counts the bytes it was asked for, so it cannot
    tell a body cut short from a whole one. A sync worker waiting on a client
    that declared more than it sends would otherwise sit until Gunicorn kills
    it, and the client would get Gunicorn's 500 page.
    """

    def __init__(self, stream, sock, deadline: float) -> None:
        self._stream = stream
        # The server's socket (Gunicorn hands it over); without it the deadline
        # is checked between reads only.
        self._sock = sock
        self._deadline = deadline
        self.received = 0

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""  # nothing to wait for (a parser checking that the body is done)
        data = self._wait(self._stream.read) if size is None else self._wait(self._stream.read, size)
        self.received += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self._wait(self._stream.readline) if size is None else self._wait(self._stream.readline, size)
        self.received += len(line)
        return line

    def _wait(self, read, *args) -> bytes:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise self._timeout()
        if self._sock is None:
            return read(*args)
        previous = self._sock.gettimeout()
        try:
            self._sock.settimeout(left if previous is None else min(left, previous))
            return read(*args)
        except TimeoutError as exc:
            raise self._timeout() from exc
        finally:
            self._sock.settimeout(previous)

    @staticmethod
    def _timeout() -> falcon.HTTPError:
        return falcon.HTTPError(
            falcon.HTTP_408, description="The request body did not arrive in time; send it again.",
        )


class BodyDeadline:
    """Wrap every request body in a ReceivedBody (``req.context.body``)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            if not req.content_length:
                return
        except falcon.HTTPInvalidHeader:
            return  # refused where the body is read
        body = ReceivedBody(req.env["wsgi.input"], req.env.get("gunicorn.socket"), time.monotonic() + self.seconds)
        req.env["wsgi.input"] = req.stream = body
        req.context.body = body


class CORSPolicy(falcon.CORSMiddleware):
    """Falcon's CORS middleware plus ``Vary: Origin``.

    With a list of origins the answer depends on the request's Origin (an
    ``Access-Control-Allow-Origin`` or none), so a shared cache must not hand
    one origin's answer to another.
    """

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        super().process_response(req, resp, resource, req_succeeded)
        resp.append_header("Vary", "Origin")


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
            # Its idle siblings likely died with it (a database restart): drop
            # them too, so the next requests connect afresh instead of failing.
            try:
                self.database.manual_close()
                self.database.close_idle()
                return
            except Exception:
                pass
        try:
            self.database.close()
        except peewee.PeeweeException:
            pass
