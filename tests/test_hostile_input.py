"""What a hostile client can send, and what it gets: a 4xx JSON answer, nothing written, a healthy server.

API.md: "never a 500 for anything a client sent", "Uploads", "Downloads",
"Precise points". Each refusal is checked for its side effects (no new rows,
no new files under the images or spool dirs) and for the server's health
afterwards. The last part sends what only a raw socket can send (lying
Content-Lengths, bodies that never end) to real Gunicorn.
"""

from __future__ import annotations

import io
import re
import socket
import struct
import time
import zlib
from urllib.parse import unquote

import falcon.testing
import PIL.Image
import pytest
import urllib3

from falcon_img import db
from falcon_img.models import Blob, Comment, Image

from servers import GunicornServer
from support import call_wsgi, client_for, files_under, image_bytes, multipart, upload

API = "/api/v1.0"


# -- what "refused" means ------------------------------------------------------

@pytest.fixture
def snapshot(settings):
    def take():
        with db.connection():
            rows = (
                sorted((i.id, i.name, i.blob_id) for i in Image.select()),
                sorted((c.id, c.image_id, c.text, c.updated_at) for c in Comment.select()),
                sorted(b.sha256 for b in Blob.select()),
            )
        return rows, files_under(settings.resources_dir / "images") | files_under(settings.spool_dir)
    return take


@pytest.fixture
def refused(client, snapshot):
    """``refused(result, status)``: a JSON 4xx with a message, nothing changed, still healthy."""
    before = snapshot()

    def check(result, status: int | tuple[int, ...]) -> dict:
        statuses = status if isinstance(status, tuple) else (status,)
        assert result.status_code in statuses, (result.status_code, result.text)
        assert result.headers["content-type"].startswith("application/json")
        body = result.json
        assert isinstance(body["message"], str) and body["message"]
        assert "Traceback" not in result.text
        assert snapshot() == before
        assert client.simulate_get("/healthz").status_code == 200
        return body
    return check


def post_upload(client, body: bytes, content_type: str):
    return client.simulate_post(f"{API}/images", body=body, content_type=content_type)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose screen and only frame claim ``width`` x ``height`` pixels."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


# -- /file: names that try to be paths ------------------------------------------

TRAVERSALS = [
    "..%2Fcat.png", "%2e%2e%2fcat.png", "%2E%2E%2Fcat.png", ".%2fcat.png", "%2fcat.png", "%2Fetc%2Fpasswd",
    "..%5Ccat.png", "%5Ccat.png", "..%5C..%5Cwindows%5Cwin.ini", "C:%5Ccat.png", "cat.png%00", "cat.png%00.jpg",
    "%00", "%2e%2e", "%2e", "..", "cat.png%2f..%2f..%2fetc%2fpasswd", "%252e%252e%252fcat.png",
    "....%2f%2fcat.png", "cat.png%0d%0aSet-Cookie:%20x=1", "cat.png%20", "%20cat.png", "CAT.PNG",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_file_names_that_look_like_paths_are_names_that_do_not_exist(client, image, refused, name):
    assert image["name"] == "cat.png"

    assert client.simulate_head(f"{API}/file/{name}").status_code == 404
    result = client.simulate_get(f"{API}/file/{name}")
    refused(result, 404)
    assert "set-cookie" not in result.headers


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/../cat.png", "/./cat.png", "/a/../cat.png", "//etc/passwd"])
def test_file_paths_with_dot_segments_are_404(client, image, path):
    result = client.simulate_get(f"{API}/file{path}")

    assert result.status_code == 404
    assert result.json["message"]


# -- upload names ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../../../tmp/evil.png", "evil.png"),
        ("..\\..\\..\\evil.png", "evil.png"),
        ("/etc/cron.d/evil.png", "evil.png"),
        ("C:\\Windows\\evil.png", "evil.png"),
        ("evil.png\r\nContent-Type: text/html\r\n\r\n<script>", "html<script>"),
        ("evil.png\r\nX-Injected: 1\r\n", "evil.pngX-Injected: 1"),
        ("ev\x00il\x1b[31m.png", "evil[31m.png"),
        ("\u202egnp.exe", "gnp.exe"),
        ("zero\u200bwidth.png", "zerowidth.png"),
    ],
)
def test_upload_names_are_stored_safe_and_the_download_header_cannot_be_split(client, blobs_dir, raw, expected):
    result = upload(client, image_bytes(), "upload.png", name=raw)

    assert result.status_code == 201, result.text
    assert result.json["name"] == expected
    with db.connection():
        assert Image.get_by_id(result.json["id"]).name == expected
    # The bytes are stored under their digest, inside the images dir, whatever the name.
    assert all(path.name == result.json["sha256"] for path in files_under(blobs_dir))
    download = client.simulate_get(result.json["file_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert_one_clean_content_disposition(download, expected)


@pytest.mark.parametrize(
    "name",
    [
        'evil.png"; filename*=UTF-8\'\'evil.html',
        'a"b.png',
        "semi;colon, comma.png",
        "quote'apostrophe.png",
        "percent%20encoded%0d%0a.png",
        "café ☕.png",
        "%22.png",
    ],
)
def test_the_content_disposition_names_exactly_the_stored_name(client, name):
    created = upload(client, image_bytes(), "upload.png", name=name)
    assert created.status_code == 201, created.text
    assert created.json["name"] == name

    for download in (
        client.simulate_get(created.json["file_url"]),
        client.simulate_get(created.json["file_url"], params={"download": "1"}),
    ):
        assert download.status_code == 200
        assert_one_clean_content_disposition(download, name)


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAMETER = re.compile(rf"\s*;\s*({_TOKEN})\s*=\s*({_QUOTED}|{_TOKEN})")


def disposition_filename(header: str) -> str:
    """The file name a browser takes from a Content-Disposition (``filename*`` first, RFC 6266),
    after checking that the header is one clean line with no parameter but the two names."""
    assert all(32 <= ord(ch) < 127 for ch in header), header
    kind = re.match(r"(inline|attachment)", header)
    assert kind, header
    params, position = {}, kind.end()
    while position < len(header):
        parameter = _PARAMETER.match(header, position)
        assert parameter, f"unparseable from {position}: {header}"
        name = parameter.group(1).lower()
        assert name not in params, f"{name} twice: {header}"
        params[name] = parameter.group(2)
        position = parameter.end()
    assert set(params) <= {"filename", "filename*"}, params
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("''")
        assert charset.upper() == "UTF-8"
        return unquote(encoded, errors="strict")
    value = params["filename"]
    return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value


def assert_one_clean_content_disposition(result, name: str) -> None:
    """One Content-Disposition whose parameters a browser reads back as ``name``, and nothing else."""
    values = [value for key, value in result.headers.items() if key.lower() == "content-disposition"]
    assert len(values) == 1
    assert disposition_filename(values[0]) == name


# -- bytes that are not what they say ------------------------------------------------

def gif_with_script() -> bytes:
    return image_bytes("GIF") + b"<html><script>alert(document.domain)</script></html>"


@pytest.mark.parametrize(
    ("data", "filename", "declared"),
    [
        pytest.param(b"definitely not a png\n" * 20, "fake.png", "image/png", id="text-declared-png"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "fake.png", "image/png", id="png-signature-then-zeros"),
        pytest.param(b"<!doctype html><html><script>alert(1)</script></html>", "page.html", "text/html", id="html"),
        pytest.param(b"<html><script>alert(1)</script></html>", "page.png", "image/png", id="html-declared-png"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<script>alert(1)</script></svg>', "vector.svg", "image/svg+xml", id="svg",
        ),
        pytest.param(b"GIF89a<script>alert(1)</script>", "poly.gif", "image/gif", id="gif-header-then-script"),
        pytest.param(b"GIF89a\x01\x00\x01\x00" + b"<script>alert(1)</script>" * 3, "poly.gif", "image/gif",
                     id="gif-screen-then-script"),
        pytest.param(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "doc.png", "image/png", id="pdf"),
        pytest.param(b"PK\x03\x04" + b"\0" * 60, "archive.png", "image/png", id="zip"),
        pytest.param(b"\x7fELF" + b"\0" * 60, "binary.png", "image/png", id="elf"),
        pytest.param(b"", "empty.png", "image/png", id="empty"),
    ],
)
def test_bytes_that_are_not_an_accepted_image_are_415(client, refused, data, filename, declared):
    body, content_type = multipart({"file": (filename, data, declared)})

    refused(post_upload(client, body, content_type), 415)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_images_are_415(client, refused, fmt):
    whole = image_bytes(fmt, size=(200, 150), color=(10, 200, 30))
    noise = io.BytesIO()
    PIL.Image.effect_noise((200, 150), 80).convert("RGB").save(noise, fmt)
    for data in (whole, noise.getvalue()):
        cut = data[: len(data) * 2 // 3]
        refused(upload(client, cut, f"cut.{fmt.lower()}"), 415)


def test_a_valid_gif_with_a_script_appended_is_only_ever_served_as_a_gif(client):
    body, content_type = multipart({"file": ("poly.html", gif_with_script(), "text/html")})
    created = post_upload(client, body, content_type)
    if created.status_code != 201:
        assert created.status_code == 415
        return

    assert created.json["content_type"] == "image/gif"
    for params in ({}, {"download": "1"}):
        served = client.simulate_get(created.json["file_url"], params=params)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/gif"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in served.headers["content-security-policy"]
    head = client.simulate_head(created.json["file_url"])
    assert head.headers["content-type"] == "image/gif"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(png_declaring(100_000, 100_000), "png", id="png-100000x100000"),
        pytest.param(png_declaring(2**31 - 1, 2**31 - 1), "png", id="png-largest-allowed-header"),
        pytest.param(png_declaring(1, 60_000_000), "png", id="png-one-pixel-wide"),
        pytest.param(gif_declaring(65_535, 65_535), "gif", id="gif-65535x65535"),
    ],
)
def test_a_decompression_bomb_is_413_from_its_header(client, refused, data, kind):
    assert len(data) < 8 * 1024

    body = refused(upload(client, data, f"bomb.{kind}"), 413)
    assert "pixels" in body["message"]


# -- bodies: size, length, framing ------------------------------------------------------

def test_an_oversize_body_is_413_from_its_content_length_before_it_is_read(client, refused):
    body, content_type = multipart({"file": ("big.png", image_bytes(), "image/png")})
    environ = falcon.testing.create_environ(
        f"{API}/images", method="POST", body=body,
        headers={"Content-Type": content_type, "Content-Length": str(50 * 1024**3)},
    )
    unread = io.BytesIO(body)
    environ["wsgi.input"] = unread

    refused(call_wsgi(client.app, environ), 413)
    assert unread.tell() == 0


def test_an_oversize_comment_body_is_413_before_it_is_read(client, image, refused):
    environ = falcon.testing.create_environ(
        image["comm_url"], method="POST", body=b'{"text": "x"}',
        headers={"Content-Type": "application/json", "Content-Length": str(10 * 1024**2)},
    )
    unread = io.BytesIO(b'{"text": "x"}')
    environ["wsgi.input"] = unread

    refused(call_wsgi(client.app, environ), 413)
    assert unread.tell() == 0


@pytest.mark.parametrize("target", ["upload", "comment", "edit"])
def test_a_body_without_content_length_is_411(client, image, snapshot, target):
    comment = client.simulate_post(image["comm_url"], json={"text": "first"}).json
    if target == "upload":
        body, content_type = multipart({"file": ("chunked.png", image_bytes(color=(4, 4, 4)), "image/png")})
        path, method = f"{API}/images", "POST"
    else:
        body, content_type = b'{"text": "chunked"}', "application/json"
        path, method = (image["comm_url"], "POST") if target == "comment" else (comment["comm_url"], "PUT")
    environ = falcon.testing.create_environ(
        path, method=method, body=body, headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"},
    )
    del environ["CONTENT_LENGTH"]
    before = snapshot()

    result = call_wsgi(client.app, environ)

    assert result.status_code == 411, result.text
    assert result.json["message"]
    assert snapshot() == before


class TricklingStream:
    """A body that arrives slowly: each read waits a moment, as on a slow link."""

    def __init__(self, data: bytes, pause: float) -> None:
        self._data = io.BytesIO(data)
        self._pause = pause

    def read(self, size: int = -1) -> bytes:
        time.sleep(self._pause)
        return self._data.read(size)

    def readline(self, size: int = -1) -> bytes:
        time.sleep(self._pause)
        return self._data.readline(size)


def test_an_upload_that_trickles_in_past_its_deadline_is_408(settings, snapshot):
    client = client_for(settings.replace(body_timeout_seconds=1))
    noise = io.BytesIO()
    PIL.Image.effect_noise((400, 400), 80).convert("RGB").save(noise, "PNG")
    body, content_type = multipart({"file": ("slow.png", noise.getvalue(), "image/png")})
    # Read in several pieces by the multipart parser, each one late.
    assert len(body) > 4 * 64 * 1024
    environ = falcon.testing.create_environ(
        f"{API}/images", method="POST", body=body, headers={"Content-Type": content_type},
    )
    environ["wsgi.input"] = TricklingStream(body, pause=0.3)
    before = snapshot()

    result = call_wsgi(client.app, environ)

    assert result.status_code == 408, result.text
    assert result.json["message"]
    assert snapshot() == before
    db.database.close_all()


def many_parts(count: int) -> tuple[bytes, str]:
    fields = [(f"extra{n}", "x") for n in range(count - 1)] + [("file", ("many.png", image_bytes(), "image/png"))]
    return urllib3.encode_multipart_formdata(fields)


MALFORMED_MULTIPART = [
    pytest.param(b"--x\r\n\r\n", "multipart/form-data", id="missing-boundary"),
    pytest.param(b"--x\r\n\r\n", "multipart/form-data; boundary=", id="empty-boundary"),
    pytest.param(b"garbage without any boundary at all", "multipart/form-data; boundary=abc", id="no-delimiter"),
    pytest.param(b"--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
                 + image_bytes(), "multipart/form-data; boundary=abc", id="no-closing-delimiter"),
    pytest.param(b"--abc\r\nno colon in this header line\r\n\r\nbody\r\n--abc--\r\n",
                 "multipart/form-data; boundary=abc", id="bad-part-header"),
    pytest.param(b"--abc\r\n" + b"X-Filler: " + b"a" * 100_000 + b"\r\n\r\nbody\r\n--abc--\r\n",
                 "multipart/form-data; boundary=abc", id="huge-part-header"),
    pytest.param(b"--abc--\r\n", "multipart/form-data; boundary=abc", id="no-parts"),
    pytest.param(b"--" + b"b" * 200 + b"\r\n\r\n", "multipart/form-data; boundary=" + "b" * 200,
                 id="overlong-boundary"),
    pytest.param(*many_parts(17), id="17-parts"),
    pytest.param(*many_parts(1000), id="1000-parts"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_MULTIPART)
def test_malformed_multipart_is_400(client, refused, body, content_type):
    refused(post_upload(client, body, content_type), 400)


def test_sixteen_parts_are_still_accepted(client):
    body, content_type = many_parts(16)

    assert post_upload(client, body, content_type).status_code == 201


# -- comment bodies ----------------------------------------------------------------

BAD_COMMENT_BODIES = [
    pytest.param(b'{"text": "unterminated', "application/json", id="invalid-json"),
    pytest.param(b" ", "application/json", id="blank-json"),
    pytest.param(b'{"text": "\xff\xfe"}', "application/json", id="invalid-utf8-json"),
    pytest.param(b'{"text": "caf\xe9"}', "application/json; charset=latin-1", id="latin1-json"),
    pytest.param(b'{"text": "a\\u0000b"}', "application/json", id="escaped-nul-json"),
    pytest.param(b'{"text": "\\ud800"}', "application/json", id="lone-surrogate-json"),
    pytest.param(b'{"text": null}', "application/json", id="null-text"),
    pytest.param(b'{"text": 42}', "application/json", id="number-text"),
    pytest.param(b'{"text": ["a"]}', "application/json", id="list-text"),
    pytest.param(b'{"text": {"$ne": ""}}', "application/json", id="object-text"),
    pytest.param(b'["text"]', "application/json", id="array-body"),
    pytest.param(b'"text"', "application/json", id="string-body"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "application/json", id="deeply-nested"),
    pytest.param(b'{"text": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json", id="nested-text"),
    pytest.param(b"text=%FF%FE", "application/x-www-form-urlencoded", id="invalid-utf8-form"),
    pytest.param(b"text=a%00b", "application/x-www-form-urlencoded", id="nul-form"),
    pytest.param(b"text=" + b"x" * 10_001, "application/x-www-form-urlencoded", id="long-form"),
    pytest.param(b"text=a&text=b", "application/x-www-form-urlencoded", id="repeated-form-field"),
    pytest.param(b"--abc\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n\xff\xfe\r\n--abc--\r\n",
                 "multipart/form-data; boundary=abc", id="invalid-utf8-multipart"),
    pytest.param(b"--abc\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\na\x00b\r\n--abc--\r\n",
                 "multipart/form-data; boundary=abc", id="nul-multipart"),
    pytest.param(b"--abc\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nnot closed",
                 "multipart/form-data; boundary=abc", id="malformed-multipart"),
    pytest.param(b"--abc\r\n\r\n", "multipart/form-data", id="multipart-without-boundary"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_COMMENT_BODIES)
def test_a_bad_comment_body_is_400_for_post_and_put(client, image, snapshot, body, content_type):
    comment = client.simulate_post(image["comm_url"], json={"text": "original"}).json
    before = snapshot()

    for method, path in (("POST", image["comm_url"]), ("PUT", comment["comm_url"])):
        result = client.simulate_request(method, path, body=body, content_type=content_type)
        assert result.status_code == 400, (method, result.status_code, result.text)
        assert result.headers["content-type"].startswith("application/json")
        assert result.json["message"]
    assert snapshot() == before
    assert client.simulate_get(comment["comm_url"]).json["text"] == "original"
    assert client.simulate_get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"text=hi", "text/plain"), (b"<text>hi</text>", "application/xml"), (b"hi", ""), (b"{}", "application/json-seq")],
)
def test_a_comment_body_of_another_media_type_is_415(client, image, refused, body, content_type):
    refused(client.simulate_post(image["comm_url"], body=body, content_type=content_type or None), 415)


def test_comments_over_10000_characters_are_400_and_10000_fit(client, image, refused):
    refused(client.simulate_post(image["comm_url"], json={"text": "é" * 10_001}), 400)
    refused(client.simulate_post(image["comm_url"], json={"comm": "x" * 10_001}), 400)

    fits = client.simulate_post(image["comm_url"], json={"text": "é" * 10_000})
    assert fits.status_code == 201
    assert len(fits.json["text"]) == 10_000


# -- ids -----------------------------------------------------------------------------

BAD_IDS = ["abc", "-1", "0", "00", "99999999999999999999", "9223372036854775808", "1e3", "0x1", "+1", "5.0",
           "%20" + "5", "5%20", "%D9%A3", "%EF%BC%93", "1_0", "%00", "1%00", "null", "NaN", "-0"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_ids_that_are_not_positive_ascii_integers_are_404_for_every_method(client, image, refused, bad_id):
    requests = [
        ("GET", f"{API}/images/{bad_id}", {}),
        ("DELETE", f"{API}/images/{bad_id}", {}),
        ("GET", f"{API}/images/{bad_id}/comments", {}),
        ("POST", f"{API}/images/{bad_id}/comments", {"json": {"text": "hi"}}),
        ("GET", f"{API}/comments/{bad_id}", {}),
        ("PUT", f"{API}/comments/{bad_id}", {"json": {"text": "hi"}}),
        ("DELETE", f"{API}/comments/{bad_id}", {}),
    ]
    for method, path, kwargs in requests:
        refused(client.simulate_request(method, path, **kwargs), 404)


# -- names over 255 bytes ------------------------------------------------------------------

@pytest.mark.parametrize("stem", ["a" * 400, "é" * 300, "日本" * 100, "😀" * 100])
def test_names_over_255_bytes_are_cut_to_valid_utf8_not_refused(client, stem):
    for created in (upload(client, image_bytes(), stem + ".png"),
                    upload(client, image_bytes(color=(1, 1, 1)), "x.png", name="n" + stem)):
        assert created.status_code == 201, created.text
        name = created.json["name"]
        assert 0 < len(name.encode("utf-8")) <= 255
        assert len(name.encode("utf-8")) > 250
        assert client.simulate_get(created.json["file_url"]).status_code == 200


# -- headers and queries -----------------------------------------------------------------

@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=99999999999999999999999999-"},
        {"Range": "bytes=0-99999999999999999999999999"},
        {"Range": "bytes=-99999999999999999999999999"},
        {"Range": "bytes=--1"},
        {"Range": "bytes=5-1"},
        {"Range": "items=0-1"},
        {"Range": "bytes=0-1,2-3,4-5"},
        {"If-None-Match": '"' + "x" * 10_000 + '"'},
        {"If-None-Match": "W/\"\", ,,*, garbage"},
        {"If-Modified-Since": "not a date"},
        {"If-Modified-Since": "Mon, 99 Foo 99999 99:99:99 GMT"},
        {"If-Range": "\"unterminated"},
        {"Accept": "text/html"},
        {"Accept-Encoding": "gzip, br, zstd"},
    ],
)
def test_odd_download_headers_never_make_a_server_error(client, image, headers):
    for method in ("GET", "HEAD"):
        result = client.simulate_request(method, image["file_url"], headers=headers)
        assert result.status_code in {200, 206, 304, 416}, (headers, result.status_code, result.text)


@pytest.mark.parametrize(
    "query",
    ["w=", "w=abc", "w=-320", "w=320.0", "w=%EF%BC%93%EF%BC%92%EF%BC%90", "w=99999999999999999999999",
     "format=webp", "w=320&format=png", "w=320&format=", "download=maybe"],
)
def test_odd_download_queries_are_400(client, image, query):
    result = client.simulate_get(image["file_url"], query_string=query)

    assert result.status_code == 400, (query, result.status_code)
    assert result.json["message"]


# -- real Gunicorn over raw sockets ------------------------------------------------------------

@pytest.fixture(scope="module")
def raw_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    # A short worker timeout: a body that never comes ties a sync worker up until then.
    with GunicornServer.in_folder(root, workers=2, GUNICORN_TIMEOUT="5") as server:
        yield server


def exchange(server: GunicornServer, data: bytes, *, half_close: bool = False, timeout: float = 30) -> bytes:
    """Send raw bytes and read until the server closes; a hang fails the test (socket timeout)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received


def status_of(raw: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(match.group(1)) if match else None


def assert_answered_4xx_or_closed(raw: bytes) -> None:
    status = status_of(raw)
    assert raw == b"" or (status is not None and 400 <= status < 500), raw[:300]


def upload_request(body: bytes, content_type: str, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    head = (
        f"POST {API}/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    return head + body


def server_images(server: GunicornServer) -> list[str]:
    return [item["name"] for item in server.request("GET", f"{API}/images?limit=1000").json()["images"]]


def assert_healthy(server: GunicornServer) -> None:
    assert server.request("GET", "/healthz").status == 200


@pytest.mark.e2e
def test_a_content_length_shorter_than_the_body_is_refused(raw_server):
    body, content_type = urllib3.encode_multipart_formdata({"file": ("short.png", image_bytes(), "image/png")})

    raw = exchange(raw_server, upload_request(body, content_type, content_length=len(body) - 40))

    assert_answered_4xx_or_closed(raw)
    assert status_of(raw) == 400
    assert "short.png" not in server_images(raw_server)
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_a_content_length_longer_than_the_body_is_refused_when_the_client_stops_sending(raw_server):
    body, content_type = urllib3.encode_multipart_formdata({"file": ("long.png", image_bytes(), "image/png")})

    raw = exchange(raw_server, upload_request(body, content_type, content_length=len(body) + 5000), half_close=True)

    assert_answered_4xx_or_closed(raw)
    assert "long.png" not in server_images(raw_server)
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_a_body_that_never_comes_does_not_hang_the_server(raw_server):
    body, content_type = urllib3.encode_multipart_formdata({"file": ("never.png", image_bytes(), "image/png")})

    # The connection stays open and silent: the worker gives up at its timeout and closes it.
    raw = exchange(raw_server, upload_request(body, content_type, content_length=len(body) + 5000), timeout=60)

    assert_answered_4xx_or_closed(raw)
    assert status_of(raw) == 408, raw[:300]
    assert b'"message"' in raw
    assert "WORKER TIMEOUT" not in raw_server.log()
    assert "never.png" not in server_images(raw_server)
    assert_healthy(raw_server)


@pytest.mark.e2e
@pytest.mark.parametrize("half_close", [True, False], ids=["client-stops", "client-waits"])
def test_a_comment_body_shorter_than_its_content_length_changes_nothing(raw_server, half_close):
    body, content_type = urllib3.encode_multipart_formdata(
        {"file": (f"lying-{half_close}.png", image_bytes(), "image/png")}
    )
    image = raw_server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type}).json()
    text = b'{"text": "complete-looking"}'
    head = (
        f"POST {image['comm_url']} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(text) + 10}\r\n\r\n"
    ).encode()

    raw = exchange(raw_server, head + text, half_close=half_close, timeout=60)

    assert status_of(raw) == (400 if half_close else 408), raw[:300]
    assert raw_server.request("GET", image["comm_url"]).json()["comments"] == []
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_a_huge_declared_length_is_413_without_waiting_for_the_body(raw_server):
    raw = exchange(raw_server, upload_request(b"--x\r\n", "multipart/form-data; boundary=x", 2 * 1024**3))

    assert status_of(raw) == 413, raw[:300]
    assert b'"message"' in raw
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_a_chunked_comment_is_411_over_http(raw_server):
    body, content_type = urllib3.encode_multipart_formdata({"file": ("chunk-target.png", image_bytes(), "image/png")})
    image = raw_server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type}).json()
    text = b'{"text": "chunked"}'
    head = (
        f"POST {image['comm_url']} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()

    raw = exchange(raw_server, head + f"{len(text):x}\r\n".encode() + text + b"\r\n0\r\n\r\n")

    assert status_of(raw) == 411, raw[:300]
    assert raw_server.request("GET", image["comm_url"]).json()["comments"] == []
    assert_healthy(raw_server)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "target",
    ["/api/v1.0/file/../../../../etc/passwd", "/api/v1.0/file/..%2f..%2fetc%2fpasswd", "/api/v1.0/file/%2e%2e",
     "/api/v1.0/file/a%00b", "/api/v1.0/file/..\\..\\etc\\passwd", "/../../etc/passwd", "/api/v1.0/file//etc/passwd"],
)
def test_traversal_paths_over_http_are_4xx_json(raw_server, target):
    raw = exchange(raw_server, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())

    status = status_of(raw)
    assert status is not None and 400 <= status < 500, raw[:300]
    assert b"root:" not in raw
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_a_hostile_upload_name_cannot_split_or_rewrite_the_download_headers_over_http(raw_server):
    name = 'x.png"; filename*=UTF-8\'\'evil.html; a="'
    body, content_type = urllib3.encode_multipart_formdata(
        {"file": ("upload.png", image_bytes(color=(77, 1, 2)), "image/png"), "name": name + "\r\nX-Injected: 1"}
    )
    created = raw_server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type})
    assert created.status == 201, created
    stored = created.json()["name"]
    assert stored == name + "X-Injected: 1"

    answer = raw_server.request("GET", created.json()["file_url"])

    assert answer.status == 200
    assert answer.headers.get_all("X-Injected") is None
    assert answer.headers["Content-Type"] == "image/png"
    dispositions = answer.headers.get_all("Content-Disposition")
    assert len(dispositions) == 1
    assert disposition_filename(dispositions[0]) == stored


@pytest.mark.parametrize(
    ("path_kind", "content_type", "length"),
    [
        ("comments", "application/json", "0"),
        ("comments", "application/x-www-form-urlencoded", "0"),
        ("comments", "multipart/form-data; boundary=x", "0"),
        ("images", "multipart/form-data; boundary=x", "0"),
        ("comments", "application/json", "-1"),
        ("comments", "application/json", "abc"),
        ("images", "multipart/form-data; boundary=x", "1e3"),
    ],
)
def test_an_empty_or_unreadable_content_length_is_400(client, image, refused, path_kind, content_type, length):
    path = image["comm_url"] if path_kind == "comments" else f"{API}/images"
    environ = falcon.testing.create_environ(path, method="POST", headers={"Content-Type": content_type})
    environ["CONTENT_LENGTH"] = length

    refused(call_wsgi(client.app, environ), 400)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "request_head",
    [
        pytest.param(f"GET {API}/images?{'q=x&' * 3000} HTTP/1.1\r\nHost: x\r\n\r\n", id="request-line-too-long"),
        pytest.param("GET /healthz HTTP/1.1\r\n" + "".join(f"X-H{n}: v\r\n" for n in range(150)) + "\r\n",
                     id="too-many-headers"),
        pytest.param(f"GET /healthz HTTP/1.1\r\nX-Big: {'b' * 10_000}\r\n\r\n", id="header-too-large"),
        pytest.param("GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n", id="space-in-header-name"),
        pytest.param("GET /healthz HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", id="nul-in-header"),
        pytest.param("GET /healthz HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n", id="obsolete-folding"),
        pytest.param("GET /healthz HTTP/9.9\r\n\r\n", id="unknown-version"),
        pytest.param("G\x01T /healthz HTTP/1.1\r\n\r\n", id="bad-method"),
        pytest.param(f"POST {API}/images HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                     id="two-content-lengths"),
        pytest.param(f"POST {API}/images HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     id="length-and-chunked"),
    ],
)
def test_malformed_http_is_refused_by_the_server_with_a_4xx(raw_server, request_head):
    raw = exchange(raw_server, request_head.encode("latin-1"))

    status = status_of(raw)
    assert status is not None and 400 <= status < 500, raw[:300]
    assert_healthy(raw_server)


@pytest.mark.e2e
def test_after_all_of_that_the_server_logged_no_traceback_and_lost_no_worker(raw_server):
    assert_healthy(raw_server)
    log = raw_server.log()
    assert "Traceback" not in log
    assert "WORKER TIMEOUT" not in log
    assert len(raw_server.worker_pids()) == raw_server.workers
