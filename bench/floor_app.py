"""The floor of the JSON benchmarks: a minimal Falcon app answering recorded bytes.

bench/run.py records the service's answers (body and Content-Type) to a JSON
file and starts this app under the same gunicorn.conf.py
(``gunicorn -c gunicorn.conf.py bench.floor_app:app``) with
BENCH_FLOOR_RESPONSES naming that file. What the service costs above this app
is its own work: queries, serialization, middleware; routing, HTTP parsing and
Gunicorn are paid by both.

With BENCH_FLOOR_FILES naming the storage folder it also sends stored files
(``GET /blobs/ab/cd/<sha256>``) the way the service does, through
``resp.set_stream`` and Gunicorn's sendfile: the most any Falcon app under
these Gunicorn settings can do, to set beside nginx.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import falcon

RESPONSES_ENV = "BENCH_FLOOR_RESPONSES"
FILES_ENV = "BENCH_FLOOR_FILES"
#: The service's route templates, so routing costs the floor what it costs the service.
ROUTES = ("/api/v1.0/images", "/api/v1.0/images/{image_id}", "/api/v1.0/images/{image_id}/comments")
FILE_ROUTE = "/blobs/{first}/{second}/{digest}"
_HEX = re.compile(r"[0-9a-f]+")


def save_responses(path: Path, responses: dict[str, tuple[str, bytes]]) -> None:
    """Write ``{relative URI: (content type, body)}`` for the floor app to replay."""
    path.write_text(json.dumps({
        uri: {"content_type": content_type, "body": base64.b64encode(body).decode()}
        for uri, (content_type, body) in responses.items()
    }))


def load_responses(path: Path) -> dict[str, tuple[str, bytes]]:
    recorded = json.loads(path.read_text())
    return {uri: (entry["content_type"], base64.b64decode(entry["body"])) for uri, entry in recorded.items()}


class Replay:
    def __init__(self, responses: dict[str, tuple[str, bytes]]) -> None:
        self.responses = responses

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        recorded = self.responses.get(req.relative_uri)
        if recorded is None:
            raise falcon.HTTPNotFound()
        resp.content_type, resp.data = recorded


class StoredFile:
    def __init__(self, root: Path) -> None:
        self.root = root

    def on_get(self, req: falcon.Request, resp: falcon.Response, first: str, second: str, digest: str) -> None:
        if not all(_HEX.fullmatch(part) for part in (first, second, digest)):
            raise falcon.HTTPNotFound()
        path = self.root / first / second / digest
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise falcon.HTTPNotFound() from None
        resp.content_type = "image/jpeg"
        resp.set_stream(stream, os.fstat(stream.fileno()).st_size)


def create_app(responses: dict[str, tuple[str, bytes]], files_root: Path | None = None) -> falcon.App:
    app = falcon.App()
    replay = Replay(responses)
    for route in ROUTES:
        app.add_route(route, replay)
    if files_root is not None:
        app.add_route(FILE_ROUTE, StoredFile(files_root))
    return app


app = create_app(
    load_responses(Path(os.environ[RESPONSES_ENV])) if RESPONSES_ENV in os.environ else {},
    Path(os.environ[FILES_ENV]) if FILES_ENV in os.environ else None,
)
