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
