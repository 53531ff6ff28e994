"""Sized variants: GET /file/{name}?w=...[&format=webp] (API.md, "Sized variants")."""

from __future__ import annotations

import io
import threading

import PIL.Image
import pytest

from falcon_img import db
from falcon_img.models import Blob, Variant
from falcon_img.storage import LocalStorage
from falcon_img.variants import VariantSpec, variant_for

from support import blob_path, image_bytes, upload


def photo(size=(1600, 1200), **exif) -> bytes:
    image = PIL.Image.radial_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    saved = image.getexif()
    for tag, value in exif.items():
        saved[int(tag)] = value
    image.save(buffer, "JPEG", quality=90, exif=saved)
    return buffer.getvalue()


@pytest.fixture
def big(client) -> dict:
    result = upload(client, photo(), "photo.jpg")
    assert result.status_code == 201, result.text
    return result.json


def variant_path(blobs_dir, sha256: str, label: str):
    path = blob_path(blobs_dir, sha256)
    return path.with_name(path.name + ".d") / label


def test_variant_keeps_aspect_ratio_and_is_stored(client, big, blobs_dir):
    result = client.simulate_get("/api/v1.0/file/photo.jpg", params={"w": "320"})
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/jpeg"
    with PIL.Image.open(io.BytesIO(result.content)) as shown:
        assert shown.size == (320, 240)
    stored = variant_path(blobs_dir, big["sha256"], "w320.jpg")
    assert stored.read_bytes() == result.content
    assert int(result.headers["content-length"]) == len(result.content)


def test_variant_is_served_with_the_same_headers_as_originals_and_its_own_etag(client, big):
    result = client.simulate_get("/api/v1.0/file/photo.jpg", params={"w": "160"})
    assert result.status_code == 200
    for header in ("etag", "last-modified", "cache-control", "content-disposition", "accept-ranges"):
        assert header in result.headers
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["etag"] != f'"{big["sha256"]}"'
    again = client.simulate_get(
        "/api/v1.0/file/photo.jpg", params={"w": "160"}, headers={"If-None-Match": result.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["etag"] == result.headers["etag"]
    assert again.content == b""
    head = client.simulate_head("/api/v1.0/file/photo.jpg", params={"w": "160"})
    assert head.status_code == 200
    assert head.headers["content-length"] == result.headers["content-length"]
    part = client.simulate_get("/api/v1.0/file/photo.jpg", params={"w": "160"}, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == result.content[:10]


def test_webp_is_made_on_request(client, big):
    result = client.simulate_get("/api/v1.0/file/photo.jpg", params={"w": "640", "format": "webp"})
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/webp"
    with PIL.Image.open(io.BytesIO(result.content)) as shown:
        assert shown.format == "WEBP"
        assert shown.size == (640, 480)
    assert 'filename="photo.webp"' in result.headers["content-disposition"]


def test_a_width_not_smaller_than_the_original_sends_the_original(client):
    data = image_bytes("PNG", (200, 100))
    assert upload(client, data, "small.png").status_code == 201
    result = client.simulate_get("/api/v1.0/file/small.png", params={"w": "320"})
    assert result.status_code == 200
    assert result.content == data
    assert Variant.select().count() == 0


@pytest.mark.parametrize("query", ["w=", "w=abc", "w=321", "w=-320", "w=320.0", "w=%EF%BC%93", "w=99999999999999999999",
                                   "format=webp", "w=320&format=gif"])
def test_a_bad_width_or_format_is_a_400(client, big, query):
    result = client.simulate_get("/api/v1.0/file/photo.jpg", query_string=query)
    assert result.status_code == 400
    assert result.json["message"]
    assert Variant.select().count() == 0


def test_variants_of_unknown_names_are_404(client):
    result = client.simulate_get("/api/v1.0/file/nope.jpg", params={"w": "320"})
    assert result.status_code == 404


def test_orientation_is_applied_so_variants_show_upright(client):
    # Stored 400x200, shown rotated (orientation 6): 200 wide, 400 high.
    assert upload(client, photo((400, 200), **{"274": 6}), "turned.jpg").status_code == 201
    result = client.simulate_get("/api/v1.0/file/turned.jpg", params={"w": "160"})
    with PIL.Image.open(io.BytesIO(result.content)) as shown:
        assert shown.size == (160, 320)


def test_gif_variants_are_png(client):
    frames = [PIL.Image.new("P", (400, 300), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert upload(client, buffer.getvalue(), "anim.gif").status_code == 201
    result = client.simulate_get("/api/v1.0/file/anim.gif", params={"w": "160"})
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/png"


def test_deleting_the_image_deletes_its_variants(client, big, blobs_dir):
    for width in ("160", "320"):
        assert client.simulate_get("/api/v1.0/file/photo.jpg", params={"w": width}).status_code == 200
    stored = variant_path(blobs_dir, big["sha256"], "w160.jpg")
    assert stored.exists()
    assert client.simulate_delete(big["image_url"]).status_code == 200
    assert not stored.exists()
    assert not stored.parent.exists()
    assert Variant.select().count() == 0


class CountingStorage(LocalStorage):
    """A real local store that also counts the files put into it."""

    def __init__(self, root):
        super().__init__(root)
        self.puts: list[str] = []
        self._lock = threading.Lock()

    def put(self, key, source):
        with self._lock:
            self.puts.append(key)
        super().put(key, source)


def test_concurrent_first_requests_make_a_variant_once(app, big, blobs_dir, settings):
    storage = CountingStorage(blobs_dir)
    with db.connection():
        blob = Blob.get_by_id(big["sha256"])
    made, failures = [], []
    start = threading.Barrier(6)

    def ask():
        try:
            start.wait()
            with db.connection():
                made.append(variant_for(blob, VariantSpec(1280, "webp"), storage=storage, settings=settings).size)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(made) == 6 and len(set(made)) == 1
    assert storage.puts == [f"{big['sha256']}/w1280.webp"]
