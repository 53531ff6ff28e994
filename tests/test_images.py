"""Images: upload, list, get and delete (API.md, "Endpoints", "Uploads", "Collections")."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib

import falcon.testing
import PIL.Image
import pytest

from falcon_img import db
from falcon_img.models import Blob, Comment, Image, hash_token

from support import (
    CountingStream, blob_path, call_wsgi, client_for, files_under, image_bytes, multipart, upload,
)

IMAGE_KEYS = {
    "id", "name", "time", "created_at", "content_type", "size", "width", "height", "sha256",
    "comments_count", "image_url", "file_url", "comm_url",
}
GENERATED_NAME = re.compile(r"image-[0-9a-f]{12}\.(png|jpg)")


@pytest.fixture
def client_with(settings):
    """Build a client whose settings differ from the default test settings."""
    yield lambda **changes: client_for(settings.replace(**changes))
    db.database.close_all()


@pytest.fixture
def stored(settings, blobs_dir):
    """What is on disk now; ``stored()`` again later to compare."""
    return lambda: files_under(blobs_dir) | files_under(settings.spool_dir)


def noisy_jpeg(size=(256, 256)) -> bytes:
    """A JPEG whose entropy-coded data is large, so cutting it loses real scan data."""
    buffer = io.BytesIO()
    PIL.Image.effect_noise(size, 64).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` pixels: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def multipart_request(client, body: bytes, content_type: str):
    return client.simulate_post("/api/v1.0/images", body=body, content_type=content_type)


def assert_error(result, status: int) -> dict:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert isinstance(result.json["message"], str) and result.json["message"]
    return result.json


def image_count() -> int:
    with db.connection():
        return Image.select().count()


# -- upload ----------------------------------------------------------------

def test_upload_returns_201_location_and_the_full_representation(client, blobs_dir):
    data = image_bytes("PNG", size=(64, 48))
    result = upload(client, data, "cat1.png")

    assert result.status_code == 201, result.text
    body = result.json
    assert set(body) == IMAGE_KEYS | {"edit_token", "message"}
    assert body["message"] == "Image added to collection"
    assert result.headers["location"] == body["image_url"] == f"/api/v1.0/images/{body['id']}"
    assert body["name"] == "cat1.png"
    assert body["content_type"] == "image/png"
    assert (body["size"], body["width"], body["height"]) == (len(data), 64, 48)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["comments_count"] == 0
    assert body["file_url"] == "/api/v1.0/file/cat1.png"
    assert body["comm_url"] == f"/api/v1.0/images/{body['id']}/comments"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["time"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert body["time"] == body["created_at"].replace("T", " ").rstrip("Z")
    assert isinstance(body["edit_token"], str) and len(body["edit_token"]) >= 16

    with db.connection():
        row = Image.get_by_id(body["id"])
        blob = Blob.get_by_id(body["sha256"])
    assert row.name == "cat1.png"
    assert row.edit_token_hash == hash_token(body["edit_token"]) != body["edit_token"]
    assert (blob.content_type, blob.size, blob.width, blob.height) == ("image/png", len(data), 64, 48)
    assert blob_path(blobs_dir, body["sha256"]).read_bytes() == data


def test_upload_decides_the_format_from_the_bytes_not_from_the_client(client):
    body, content_type = multipart({"file": ("x.jpg", image_bytes("PNG"), "image/jpeg")})
    result = multipart_request(client, body, content_type)

    assert result.status_code == 201, result.text
    assert result.json["content_type"] == "image/png"
    assert result.json["name"] == "x.jpg"
    download = client.simulate_get(result.json["file_url"])
    assert download.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_upload_accepts_jpeg_png_gif_and_webp(client, blobs_dir, fmt, content_type):
    data = image_bytes(fmt, size=(40, 30))
    result = upload(client, data, f"picture.{fmt.lower()}")

    assert result.status_code == 201, result.text
    assert result.json["content_type"] == content_type
    assert (result.json["width"], result.json["height"]) == (40, 30)
    assert blob_path(blobs_dir, result.json["sha256"]).read_bytes() == data
    assert client.simulate_get(result.json["file_url"]).content == data


@pytest.mark.parametrize(
    "data",
    [b"this is not an image, whatever its name says\n" * 50, b"", b"\x89PNG\r\n\x1a\n", b"GIF89a" + b"\0" * 20],
    ids=["text", "empty", "png-signature-only", "gif-header-only"],
)
def test_upload_rejects_bytes_that_are_not_an_image(client, stored, data):
    before = stored()
    result = upload(client, data, "cat.png")

    assert_error(result, 415)
    assert image_count() == 0
    assert stored() == before


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_upload_rejects_an_image_in_a_format_that_is_not_accepted(client, stored, fmt):
    before = stored()
    result = upload(client, image_bytes(fmt), "picture.png")

    assert_error(result, 415)
    assert image_count() == 0
    assert stored() == before


def test_upload_rejects_a_truncated_jpeg(client, stored):
    whole = noisy_jpeg()
    assert upload(client, whole, "whole.jpg").status_code == 201
    before = stored()

    result = upload(client, whole[: len(whole) // 2], "half.jpg")

    assert_error(result, 415)
    assert image_count() == 1
    assert stored() == before


def test_upload_rejects_an_image_over_the_pixel_limit(client_with, settings, blobs_dir):
    client = client_with(max_pixels=64 * 48 - 1)
    result = upload(client, image_bytes(size=(64, 48)), "big.png")

    body = assert_error(result, 413)
    assert str(64 * 48 - 1) in body["message"]
    assert image_count() == 0
    assert files_under(blobs_dir) == set()
    assert files_under(settings.spool_dir) == set()


def test_upload_accepts_an_image_exactly_at_the_pixel_limit(client_with):
    client = client_with(max_pixels=64 * 48)
    assert upload(client, image_bytes(size=(64, 48)), "fits.png").status_code == 201


def test_upload_refuses_a_decompression_bomb_from_its_header(client, stored):
    before = stored()
    result = upload(client, png_header_only(30_000, 30_000), "bomb.png")

    assert_error(result, 413)
    assert image_count() == 0
    assert stored() == before


def test_upload_refuses_a_declared_length_over_the_cap_without_reading_the_body(client):
    body, content_type = multipart({"file": ("big.png", image_bytes(), "image/png")})
    stream = CountingStream(body)
    environ = falcon.testing.create_environ(
        "/api/v1.0/images", method="POST", body=body,
        headers={"Content-Type": content_type, "Content-Length": str(2 * 1024**3)},
    )
    environ["wsgi.input"] = stream

    result = call_wsgi(client.app, environ)

    assert_error(result, 413)
    assert stream.bytes_read == 0
    assert image_count() == 0


def test_upload_refuses_a_file_over_the_cap_while_reading_it(client_with, settings, blobs_dir):
    data = noisy_jpeg((64, 64))
    client = client_with(max_upload_bytes=len(data) - 1)
    result = upload(client, data, "big.jpg")

    assert_error(result, 413)
    assert image_count() == 0
    assert files_under(blobs_dir) == set()
    assert files_under(settings.spool_dir) == set()


def test_upload_accepts_a_file_exactly_at_the_size_cap(client_with):
    data = noisy_jpeg((64, 64))
    client = client_with(max_upload_bytes=len(data))
    assert upload(client, data, "fits.jpg").status_code == 201


def test_upload_without_content_length_is_411(client, stored):
    before = stored()
    body, content_type = multipart({"file": ("cat.png", image_bytes(), "image/png")})
    environ = falcon.testing.create_environ(
        "/api/v1.0/images", method="POST", body=body,
        headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"},
    )
    del environ["CONTENT_LENGTH"]

    result = call_wsgi(client.app, environ)

    assert_error(result, 411)
    assert image_count() == 0
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"file": "cat.png"}', "application/json"),
        (b"just some text", "text/plain"),
        (b"file=cat.png", "application/x-www-form-urlencoded"),
        (image_bytes(), "image/png"),
    ],
)
def test_upload_body_that_is_not_multipart_is_415(client, body, content_type):
    assert_error(client.simulate_post("/api/v1.0/images", body=body, content_type=content_type), 415)
    assert image_count() == 0


def test_upload_without_a_file_field_is_400(client, stored):
    before = stored()
    body, content_type = multipart({"name": "cat.png", "picture": ("cat.png", image_bytes(), "image/png")})

    assert_error(multipart_request(client, body, content_type), 400)
    assert image_count() == 0
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"--x\r\n\r\n", "multipart/form-data", id="no-boundary"),
        pytest.param(b"this is not a multipart body at all", "multipart/form-data; boundary=xyz", id="garbage"),
        pytest.param(
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="cut.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + image_bytes()[:60],
            "multipart/form-data; boundary=xyz",
            id="cut-off-inside-the-file",
        ),
    ],
)
def test_malformed_multipart_is_400_and_leaves_nothing_behind(client, stored, body, content_type):
    before = stored()

    assert_error(multipart_request(client, body, content_type), 400)
    assert image_count() == 0
    assert stored() == before


def test_the_name_field_overrides_the_filename(client):
    result = upload(client, image_bytes(), "IMG_0001.png", name="holiday.png")

    assert result.status_code == 201, result.text
    assert result.json["name"] == "holiday.png"
    assert result.json["file_url"] == "/api/v1.0/file/holiday.png"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("/absolute/path/cat.png", "cat.png"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("..\\..\\windows\\cat.png", "cat.png"),
        ("ca\x00t\x07.png", "cat.png"),
        ("line\r\nbreak.png", "linebreak.png"),
        ("tab\there.png", "tabhere.png"),
        ("  spaced.png  ", "spaced.png"),
        ("bidi\u202eevil.png", "bidievil.png"),
        ("café.png", "café.png"),
    ],
)
def test_upload_names_are_made_safe(client, raw, safe):
    result = upload(client, image_bytes(), "upload.png", name=raw)

    assert result.status_code == 201, result.text
    assert result.json["name"] == safe
    with db.connection():
        assert Image.get_by_id(result.json["id"]).name == safe
    assert client.simulate_get(result.json["file_url"]).status_code == 200


def test_a_name_field_that_is_not_utf8_is_400(client, stored):
    before = stored()
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\ncaf\xe9.png\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image_bytes() + b"\r\n--xyz--\r\n"
    )
    assert_error(multipart_request(client, body, "multipart/form-data; boundary=xyz"), 400)
    assert image_count() == 0
    assert stored() == before


def test_upload_filenames_are_made_safe_too(client):
    result = upload(client, image_bytes(), "../../etc/passwd")
    assert result.status_code == 201, result.text
    assert result.json["name"] == "passwd"

    # Control characters straight in the part's header, as a hostile client would send them.
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a\x07b\x1fc.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image_bytes(color=(1, 2, 3)) + b"\r\n--xyz--\r\n"
    )
    result = multipart_request(client, body, "multipart/form-data; boundary=xyz")
    assert result.status_code == 201, result.text
    assert result.json["name"] == "abc.png"


@pytest.mark.parametrize("filename", ["..", ".", "../..", "dir/..", "\x01\x02", "   "])
def test_upload_names_with_nothing_usable_left_get_a_generated_name(client, filename):
    result = upload(client, image_bytes(), filename)

    assert result.status_code == 201, result.text
    assert GENERATED_NAME.fullmatch(result.json["name"])
    assert result.json["name"].endswith(".png")
    assert client.simulate_get(result.json["file_url"]).status_code == 200


def test_generated_names_follow_the_detected_format(client):
    result = upload(client, image_bytes("JPEG"), "..")
    assert result.status_code == 201, result.text
    assert GENERATED_NAME.fullmatch(result.json["name"]) and result.json["name"].endswith(".jpg")


@pytest.mark.parametrize(
    "raw",
    ["a" * 300 + ".png", "é" * 200 + ".png", "😀" * 100 + ".png", "x" + "é" * 150],
    ids=["ascii", "two-byte", "four-byte", "odd-offset"],
)
def test_upload_names_over_255_bytes_are_cut_to_valid_utf8(client, raw):
    result = upload(client, image_bytes(), "upload.png", name=raw)

    assert result.status_code == 201, result.text
    name = result.json["name"]
    encoded = name.encode("utf-8")
    assert 255 - 3 <= len(encoded) <= 255
    assert raw.startswith(name)
    assert client.simulate_get(result.json["file_url"]).status_code == 200


def test_upload_with_an_existing_name_is_409_and_stores_nothing(client, image, stored):
    before = stored()
    result = upload(client, image_bytes(color=(0, 0, 255)), "other.png", name=image["name"])

    body = assert_error(result, 409)
    assert body["image_url"] == image["image_url"]
    assert image["name"] in body["message"]
    with db.connection():
        assert Image.select().count() == 1
        assert Blob.select().count() == 1
    assert stored() == before


def test_a_retried_upload_finds_what_it_sent(client, image):
    """The same bytes under the same name: the 409 points at the image the first try made."""
    retried = upload(client, image_bytes(), "cat.png")
    assert retried.status_code == 409
    found = client.simulate_get(retried.json["image_url"])
    assert found.json["sha256"] == image["sha256"]


def test_identical_bytes_under_two_names_are_stored_once(client, blobs_dir):
    data = image_bytes(color=(10, 200, 10))
    first = upload(client, data, "first.png").json
    second = upload(client, data, "second.png").json

    assert first["sha256"] == second["sha256"]
    assert first["id"] != second["id"]
    path = blob_path(blobs_dir, first["sha256"])
    assert files_under(blobs_dir) == {path}
    with db.connection():
        assert Blob.select().count() == 1

    assert client.simulate_delete(first["image_url"]).status_code == 200
    assert path.read_bytes() == data
    assert client.simulate_get(second["file_url"]).content == data

    assert client.simulate_delete(second["image_url"]).status_code == 200
    assert not path.exists()
    assert files_under(blobs_dir) == set()
    with db.connection():
        assert Blob.select().count() == 0


def test_a_deleted_blob_is_stored_again_by_a_later_upload(client, blobs_dir):
    data = image_bytes(color=(9, 99, 199))
    first = upload(client, data, "one.png").json
    client.simulate_delete(first["image_url"])
    assert not blob_path(blobs_dir, first["sha256"]).exists()

    again = upload(client, data, "one.png")
    assert again.status_code == 201
    assert client.simulate_get(again.json["file_url"]).content == data


# -- list ------------------------------------------------------------------

def link_target(header: str | None) -> str | None:
    """The URL of the rel="next" link in a Link header."""
    if not header:
        return None
    for link in header.split(","):
        match = re.fullmatch(r'\s*<([^>]*)>\s*;\s*rel="next"\s*', link)
        if match:
            return match.group(1)
    return None


def test_an_empty_collection_is_an_empty_page(client):
    result = client.simulate_get("/api/v1.0/images")
    assert result.status_code == 200
    assert result.json == {"images": [], "next": None}
    assert "link" not in result.headers


def test_list_is_oldest_first_and_pages_with_next_and_link(client):
    uploaded = [upload(client, image_bytes(color=(i, 0, 0)), f"img{i}.png").json for i in range(5)]
    ids = [item["id"] for item in uploaded]
    assert ids == sorted(ids)

    seen, url, pages = [], "/api/v1.0/images?limit=2", 0
    while url:
        result = client.simulate_get(url)
        assert result.status_code == 200, result.text
        pages += 1
        assert set(result.json) == {"images", "next"}
        seen += [item["id"] for item in result.json["images"]]
        assert link_target(result.headers.get("link")) == result.json["next"]
        url = result.json["next"]
        assert pages <= 3

    assert pages == 3
    assert seen == ids
    first = client.simulate_get("/api/v1.0/images", params={"limit": "2"})
    assert first.json["next"] == f"/api/v1.0/images?limit=2&after={ids[1]}"
    last = client.simulate_get("/api/v1.0/images", params={"limit": "2", "after": str(ids[3])})
    assert [item["id"] for item in last.json["images"]] == [ids[4]]
    assert last.json["next"] is None
    assert "link" not in last.headers


def test_listed_images_have_the_full_representation(client, image):
    listed = client.simulate_get("/api/v1.0/images").json["images"]
    expected = {key: value for key, value in image.items() if key in IMAGE_KEYS}
    assert listed == [expected]


def test_a_full_last_page_has_no_next(client):
    for i in range(2):
        upload(client, image_bytes(color=(0, i, 0)), f"p{i}.png")
    page = client.simulate_get("/api/v1.0/images", params={"limit": "2"})
    assert len(page.json["images"]) == 2
    assert page.json["next"] is None
    assert "link" not in page.headers


@pytest.mark.parametrize("limit", ["0", "1001", "abc", "-1", "1.5", ""])
def test_list_rejects_a_bad_limit(client, limit):
    body = assert_error(client.simulate_get("/api/v1.0/images", query_string=f"limit={limit}"), 400)
    assert "limit" in body["errors"]


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_list_accepts_limits_from_1_to_1000(client, image, limit):
    result = client.simulate_get("/api/v1.0/images", params={"limit": limit})
    assert result.status_code == 200
    assert [item["id"] for item in result.json["images"]] == [image["id"]]


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "99999999999999999999", "9223372036854775808", "%D9%A3"])
def test_list_rejects_a_bad_after(client, after):
    body = assert_error(client.simulate_get("/api/v1.0/images", query_string=f"after={after}"), 400)
    assert "after" in body["errors"]


def test_list_counts_each_images_comments(client):
    first = upload(client, image_bytes(color=(1, 1, 1)), "a.png").json
    second = upload(client, image_bytes(color=(2, 2, 2)), "b.png").json
    for text in ("one", "two", "three"):
        client.simulate_post(first["comm_url"], json={"text": text})
    client.simulate_post(second["comm_url"], json={"text": "only"})

    listed = {item["name"]: item["comments_count"] for item in client.simulate_get("/api/v1.0/images").json["images"]}
    assert listed == {"a.png": 3, "b.png": 1}
    assert client.simulate_get(first["image_url"]).json["comments_count"] == 3


@pytest.fixture
def count_queries(monkeypatch):
    """``count_queries(fn)``: how many SQL statements ``fn()`` sent to the database."""
    def count(action) -> int:
        statements: list[str] = []
        database = db.database.obj
        execute_sql = type(database).execute_sql

        def counting(sql, params=None):
            statements.append(sql)
            return execute_sql(database, sql, params)

        monkeypatch.setattr(database, "execute_sql", counting)
        try:
            action()
        finally:
            monkeypatch.undo()
        return len(statements)
    return count


def test_a_page_costs_the_same_number_of_queries_whatever_its_size(client, count_queries):
    data = image_bytes()
    for i in range(101):
        assert upload(client, data, f"many{i:03}.png").status_code == 201
    for image_id in (1, 50, 100):
        client.simulate_post(f"/api/v1.0/images/{image_id}/comments", json={"text": "counted"})
    client.simulate_get("/api/v1.0/images", params={"limit": "1"})  # a warm connection for both

    pages = {}

    def fetch(limit):
        pages[limit] = client.simulate_get("/api/v1.0/images", params={"limit": str(limit)})

    small = count_queries(lambda: fetch(1))
    large = count_queries(lambda: fetch(100))

    assert len(pages[1].json["images"]) == 1 and pages[1].json["next"]
    assert len(pages[100].json["images"]) == 100 and pages[100].json["next"]
    assert sum(item["comments_count"] for item in pages[100].json["images"]) == 3
    assert small > 0
    assert small == large
    default = client.simulate_get("/api/v1.0/images")
    assert len(default.json["images"]) == 100


# -- one image -------------------------------------------------------------

def test_get_image_returns_its_representation_without_the_edit_token(client, image):
    result = client.simulate_get(image["image_url"])

    assert result.status_code == 200
    assert set(result.json) == IMAGE_KEYS
    assert result.json == {key: value for key, value in image.items() if key in IMAGE_KEYS}
    assert image["edit_token"] not in result.text


def test_get_unknown_image_is_404(client, image):
    body = assert_error(client.simulate_get(f"/api/v1.0/images/{image['id'] + 1}"), 404)
    assert "errors" not in body


def test_delete_image_removes_its_row_comments_and_file(client, image, blobs_dir):
    comment_ids = [
        client.simulate_post(image["comm_url"], json={"text": text}).json["id"] for text in ("a", "b")
    ]
    path = blob_path(blobs_dir, image["sha256"])
    assert path.exists()

    result = client.simulate_delete(image["image_url"])

    assert result.status_code == 200
    assert result.json == {"message": "Image deleted", "id": image["id"]}
    with db.connection():
        assert Image.get_or_none(Image.id == image["id"]) is None
        assert Comment.select().where(Comment.id.in_(comment_ids)).count() == 0
        assert Blob.get_or_none(Blob.sha256 == image["sha256"]) is None
    assert not path.exists()
    assert files_under(blobs_dir) == set()
    assert client.simulate_get(image["image_url"]).status_code == 404
    assert client.simulate_get(image["file_url"]).status_code == 404
    assert client.simulate_get(image["comm_url"]).status_code == 404
    for comment_id in comment_ids:
        assert client.simulate_get(f"/api/v1.0/comments/{comment_id}").status_code == 404


def test_delete_keeps_other_images_and_their_comments(client, image):
    other = upload(client, image_bytes(color=(0, 0, 9)), "other.png").json
    kept = client.simulate_post(other["comm_url"], json={"text": "stays"}).json

    client.simulate_delete(image["image_url"])

    assert client.simulate_get(other["image_url"]).json["comments_count"] == 1
    assert client.simulate_get(kept["comm_url"]).json["text"] == "stays"


def test_delete_unknown_image_is_404_and_deleting_twice_is_404(client, image):
    assert_error(client.simulate_delete(f"/api/v1.0/images/{image['id'] + 1}"), 404)
    assert client.simulate_delete(image["image_url"]).status_code == 200
    assert_error(client.simulate_delete(image["image_url"]), 404)


def test_ids_of_deleted_images_and_comments_are_never_given_out_again(client):
    first = upload(client, image_bytes(color=(1, 1, 1)), "first.png").json
    assert client.simulate_delete(first["image_url"]).status_code == 200
    second = upload(client, image_bytes(color=(2, 2, 2)), "second.png").json
    assert second["id"] > first["id"]
    comment = client.simulate_post(second["comm_url"], json={"text": "a"}).json
    assert client.simulate_delete(comment["comm_url"]).status_code == 200
    again = client.simulate_post(second["comm_url"], json={"text": "b"}).json
    assert again["id"] > comment["id"]


@pytest.mark.parametrize("limit", ["１", "1_0", "+5", "5.0", " 5"])
def test_limit_takes_ascii_digits_only(client, limit):
    result = client.simulate_get("/api/v1.0/images", params={"limit": limit})
    assert result.status_code == 400
    assert "limit" in result.json["errors"]
