"""Helpers for tests: real images made with Pillow, multipart bodies, uploads."""

from __future__ import annotations

import io
from pathlib import Path

import PIL.Image
import urllib3


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color=(200, 30, 30), **save) -> bytes:
    """A real, small image in ``fmt``; vary ``color`` to get different bytes."""
    buffer = io.BytesIO()
    mode = "RGB" if fmt in {"JPEG", "PNG", "WEBP"} else "P"
    image = PIL.Image.new("RGB", size, color)
    if mode == "P":
        image = image.convert("P")
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def multipart(fields: dict) -> tuple[bytes, str]:
    """``(body, content_type)`` for a multipart form; a value may be (filename, bytes[, type])."""
    return urllib3.encode_multipart_formdata(fields)


def upload(client, data: bytes, filename: str = "cat.png", name: str | None = None, headers=None):
    fields: dict = {"file": (filename, data, "application/octet-stream")}
    if name is not None:
        fields["name"] = name
    body, content_type = multipart(fields)
    return client.simulate_post("/api/v1.0/images", body=body, content_type=content_type, headers=headers)


def blob_path(blobs_dir: Path, sha256: str) -> Path:
    return blobs_dir / sha256[:2] / sha256[2:4] / sha256


# -- for requests TestClient cannot make, and for checking what is on disk --

class CountingStream:
    """A request body that records how many bytes the app read from it."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._buffer.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self._buffer.readline(size)
        self.bytes_read += len(line)
        return line


def call_wsgi(app, environ: dict):
    """Call ``app`` with a hand-made WSGI environ (e.g. a body without Content-Length)."""
    import falcon.testing

    start_response = falcon.testing.StartResponseMock()
    iterable = app(environ, start_response)
    return falcon.testing.Result(iterable, start_response.status, start_response.headers)


def files_under(root: Path) -> set[Path]:
    """Every regular file below ``root``; empty when ``root`` does not exist."""
    return {path for path in Path(root).rglob("*") if path.is_file()} if Path(root).exists() else set()


def client_for(settings):
    """A TestClient for a new app built from ``settings``, on freshly created tables."""
    import falcon.testing

    from falcon_img import db, models
    from falcon_img.app import create_app

    application = create_app(settings)
    with db.connection():
        models.drop_tables()
        models.create_tables()
    return falcon.testing.TestClient(application)
