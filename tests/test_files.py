"""Downloads: GET and HEAD /file/{file_name} (API.md, "Downloads")."""

from __future__ import annotations

import email.utils
import hashlib
import os

import falcon.testing
import pytest

from support import blob_path, call_wsgi, image_bytes, upload

DATA = image_bytes("PNG", size=(120, 90), color=(12, 34, 56))


@pytest.fixture
def stored_image(client) -> dict:
    result = upload(client, DATA, "photo.png")
    assert result.status_code == 201, result.text
    return result.json


def assert_json_error(result, status: int) -> dict:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["message"]
    return result.json


def test_download_sends_the_stored_bytes_with_caching_headers(client, stored_image):
    result = client.simulate_get(stored_image["file_url"])

    assert result.status_code == 200
    assert result.content == DATA
    assert result.headers["content-type"] == "image/png"
    assert result.headers["content-length"] == str(len(DATA))
    assert result.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["accept-ranges"] == "bytes"
    assert "max-age=3600" in result.headers["cache-control"]
    modified = email.utils.parsedate_to_datetime(result.headers["last-modified"])
    assert modified.strftime("%Y-%m-%dT%H:%M:%SZ") == stored_image["created_at"]


def test_download_is_inline_with_the_name(client, stored_image):
    result = client.simulate_get(stored_image["file_url"])
    assert result.headers["content-disposition"] == 'inline; filename="photo.png"'


def test_download_1_makes_it_an_attachment(client, stored_image):
    result = client.simulate_get(stored_image["file_url"], params={"download": "1"})
    assert result.status_code == 200
    assert result.headers["content-disposition"] == 'attachment; filename="photo.png"'
    assert result.content == DATA


def test_a_non_ascii_name_is_sent_as_rfc_6266_filename_star(client):
    created = upload(client, DATA, "café ☕.png").json
    assert created["file_url"] == "/api/v1.0/file/caf%C3%A9%20%E2%98%95.png"

    result = client.simulate_get(created["file_url"])

    assert result.status_code == 200
    assert result.content == DATA
    disposition = result.headers["content-disposition"]
    assert disposition.startswith("inline; filename=")
    assert "filename*=UTF-8''caf%C3%A9%20%E2%98%95.png" in disposition
    # The plain `filename` fallback stays ASCII for old clients.
    assert disposition.isascii()


@pytest.mark.parametrize("name", ["50%2f50.png", "100% cat.png", "a+b #1?.png", "semi;colon,quote'.png"])
def test_names_with_url_special_characters_are_found_through_file_url(client, name):
    created = upload(client, DATA, "x.png", name=name).json
    assert created["name"] == name

    result = client.simulate_get(created["file_url"])

    assert result.status_code == 200, result.text
    assert result.content == DATA


def test_if_none_match_with_the_etag_is_304_with_the_etag_and_no_body(client, stored_image):
    etag = client.simulate_get(stored_image["file_url"]).headers["etag"]

    result = client.simulate_get(stored_image["file_url"], headers={"If-None-Match": etag})

    assert result.status_code == 304
    assert result.headers["etag"] == etag
    assert result.content == b""


def test_if_none_match_with_another_etag_sends_the_file(client, stored_image):
    result = client.simulate_get(stored_image["file_url"], headers={"If-None-Match": '"something-else"'})
    assert result.status_code == 200
    assert result.content == DATA


def test_if_none_match_star_or_a_list_containing_the_etag_is_304(client, stored_image):
    etag = client.simulate_get(stored_image["file_url"]).headers["etag"]
    for value in ("*", f'"other", {etag}'):
        assert client.simulate_get(stored_image["file_url"], headers={"If-None-Match": value}).status_code == 304


def test_head_sends_the_same_headers_without_a_body(client, stored_image):
    got = client.simulate_get(stored_image["file_url"])
    head = client.simulate_head(stored_image["file_url"])

    assert head.status_code == 200
    assert head.content == b""
    for header in (
        "content-type", "content-length", "etag", "last-modified", "cache-control",
        "x-content-type-options", "content-disposition", "accept-ranges",
    ):
        assert head.headers[header] == got.headers[header], header


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=10-", 10, len(DATA) - 1), ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
     ("bytes=5-5", 5, 5), (f"bytes=3-{len(DATA) + 500}", 3, len(DATA) - 1), (f"bytes=-{len(DATA) + 10}", 0, len(DATA) - 1)],
)
def test_a_single_range_is_206_with_exactly_those_bytes(client, stored_image, header, start, end):
    result = client.simulate_get(stored_image["file_url"], headers={"Range": header})

    assert result.status_code == 206
    assert result.content == DATA[start:end + 1]
    assert result.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert result.headers["content-length"] == str(end - start + 1)
    assert result.headers["etag"] == f'"{stored_image["sha256"]}"'


def test_head_with_a_range_describes_the_range_without_a_body(client, stored_image):
    result = client.simulate_head(stored_image["file_url"], headers={"Range": "bytes=0-9"})

    assert result.status_code == 206
    assert result.content == b""
    assert result.headers["content-range"] == f"bytes 0-9/{len(DATA)}"
    assert result.headers["content-length"] == "10"


@pytest.mark.parametrize("header", [f"bytes={len(DATA)}-", f"bytes={len(DATA) + 100}-{len(DATA) + 200}", "bytes=-0"])
def test_an_unsatisfiable_range_is_416_with_the_size(client, stored_image, header):
    result = client.simulate_get(stored_image["file_url"], headers={"Range": header})

    assert_json_error(result, 416)
    assert result.headers["content-range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=9-2", "bytes=0-1,5-6", "items=0-1", "bytes=abc"])
def test_a_range_the_server_does_not_serve_sends_the_whole_file(client, stored_image, header):
    """RFC 9110 lets a server ignore an invalid or multi-part Range and send the whole file."""
    result = client.simulate_get(stored_image["file_url"], headers={"Range": header})
    assert result.status_code == 200
    assert result.content == DATA
    assert "content-range" not in result.headers


def test_a_range_with_a_stale_if_range_sends_the_whole_file(client, stored_image):
    result = client.simulate_get(
        stored_image["file_url"], headers={"Range": "bytes=0-9", "If-Range": '"an-old-version"'}
    )
    assert result.status_code == 200
    assert result.content == DATA


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1.0/file/nothing.png",
        "/api/v1.0/file/../x",
        "/api/v1.0/file/%2e%2e%2fx",
        "/api/v1.0/file/..%2fphoto.png",
        "/api/v1.0/file/dir%2fphoto.png",
        "/api/v1.0/file/%2Fetc%2Fpasswd",
        "/api/v1.0/file/..",
        "/api/v1.0/file/PHOTO.PNG",
        "/api/v1.0/file/photo.png%00",
        "/api/v1.0/file/%FF%FE.png",
        "/api/v1.0/file/" + "a" * 5000,
    ],
)
def test_unknown_and_path_like_names_are_404_json(client, stored_image, path):
    assert_json_error(client.simulate_get(path), 404)
    assert_json_error(client.simulate_get(path, params={"download": "1"}), 404)
    head = client.simulate_head(path)
    assert head.status_code == 404
    assert head.content == b""


def test_the_file_is_404_after_its_image_is_deleted(client, stored_image):
    client.simulate_delete(stored_image["image_url"])
    assert_json_error(client.simulate_get(stored_image["file_url"]), 404)


def test_head_and_304_answer_from_the_database_without_touching_the_file(client, stored_image, blobs_dir):
    image, data = stored_image, DATA
    etag = client.simulate_get(image["file_url"]).headers["etag"]
    # With the stored file gone, only an answer that never opens it can still succeed.
    blob_path(blobs_dir, image["sha256"]).unlink()
    head = client.simulate_head(image["file_url"])
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(data)
    assert client.simulate_get(image["file_url"], headers={"If-None-Match": etag}).status_code == 304
    assert client.simulate_get(image["file_url"]).status_code == 503


class RecordingFileWrapper:
    """A server's ``wsgi.file_wrapper`` (Gunicorn's sends such a file with sendfile())."""

    #: (the file-like object, its descriptor's position when handed over)
    handed: list = []

    def __init__(self, filelike, block_size=8192):
        self.filelike = filelike
        self.handed.append((filelike, os.lseek(filelike.fileno(), 0, os.SEEK_CUR)))

    def __iter__(self):
        while chunk := self.filelike.read(8192):
            yield chunk

    def close(self):
        self.filelike.close()


@pytest.mark.parametrize("range_header, start, length", [(None, 0, len(DATA)), ("bytes=10-49", 10, 40)])
def test_downloads_hand_the_server_the_stored_file_itself_for_sendfile(
    app, client, stored_image, blobs_dir, range_header, start, length,
):
    RecordingFileWrapper.handed.clear()
    headers = {"Range": range_header} if range_header else {}
    environ = falcon.testing.create_environ(path=stored_image["file_url"], headers=headers)
    environ["wsgi.file_wrapper"] = RecordingFileWrapper
    result = call_wsgi(app, environ)
    assert result.content == DATA[start:start + length]
    ((handed, position),) = RecordingFileWrapper.handed
    # A real descriptor of the stored file, positioned at the range: what sendfile() needs,
    # and no copy of the bytes in Python.
    stored = blob_path(blobs_dir, stored_image["sha256"])
    assert os.fstat(handed.fileno()).st_ino == stored.stat().st_ino
    assert position == start
    assert int(result.headers["content-length"]) == length
