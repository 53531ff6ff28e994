"""What every response carries (request id, security headers), CORS, and the access log.

API.md: "Every response carries X-Request-ID", "Browsers on other origins are
allowed only where FALCON_IMG_CORS_ORIGINS lists them", and a preflight from
an allowed origin allows `Authorization` and `Content-Type`. The access log is
checked on real Gunicorn: one JSON object per request, whatever a client puts
in its path or User-Agent, and never a credential.
"""

from __future__ import annotations

import datetime
import importlib.util
import itertools
import json
import re
import struct
import time
import types
import uuid
import zlib

import gunicorn.config
import pytest
import urllib3

from falcon_img import db

from servers import REPO_ROOT, GunicornServer
from support import client_for, image_bytes, multipart, upload

API = "/api/v1.0"
KEY = "hardening-key-4f1d2c3b5a697887"
ALLOWED_ORIGIN = "https://gallery.example"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client_with(settings):
    yield lambda **changes: client_for(settings.replace(**changes))
    db.database.close_all()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def assert_hardened(result, request_id: str | None = None) -> None:
    headers = result.headers
    if request_id is not None:
        assert headers["x-request-id"] == request_id
    else:
        assert GENERATED_ID.fullmatch(headers["x-request-id"])
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


# -- every response ----------------------------------------------------------

def test_every_kind_of_response_carries_the_request_id_and_the_security_headers(client_with):
    client = client_with(api_keys=(KEY,), rate_limit="3/minute")
    addresses = (f"192.0.2.{n}" for n in itertools.count(1))
    key = {"Authorization": f"Bearer {KEY}"}
    image = upload(client, image_bytes(), "hardened.png", headers=key).json
    etag = client.simulate_get(image["file_url"]).headers["etag"]
    other_comment = client.simulate_post(image["comm_url"], json={"text": "x"}, headers=key).json
    json_body = {"body": b'{"text": "hi"}', "content_type": "application/json"}
    bomb, bomb_type = multipart({"file": ("bomb.png", bomb_png(), "image/png")})
    cases = [
        (200, "GET", f"{API}/images", {}),
        (200, "GET", "/healthz", {}),
        (200, "GET", f"{API}/openapi.json", {}),
        (200, "GET", image["file_url"], {}),
        (200, "HEAD", image["file_url"], {}),
        (200, "OPTIONS", f"{API}/images", {}),
        (201, "POST", image["comm_url"], {"headers": key, **json_body}),
        (206, "GET", image["file_url"], {"headers": {"Range": "bytes=0-9"}}),
        (304, "GET", image["file_url"], {"headers": {"If-None-Match": etag}}),
        (400, "GET", f"{API}/images?limit=0", {}),
        (401, "DELETE", image["image_url"], {}),
        (403, "DELETE", image["image_url"], {"headers": {"Authorization": f"Bearer {other_comment['edit_token']}"}}),
        (404, "GET", f"{API}/no/such/route", {}),
        (404, "GET", f"{API}/images/987654321", {}),
        (405, "PUT", f"{API}/images", {"headers": key}),
        (409, "POST", f"{API}/images", {"headers": key, **dict(zip(
            ("body", "content_type"), multipart({"file": ("hardened.png", image_bytes(), "image/png")})))}),
        (413, "POST", f"{API}/images", {"headers": key, "body": bomb, "content_type": bomb_type}),
        (415, "POST", f"{API}/images", {"headers": key, **json_body}),
        (416, "GET", image["file_url"], {"headers": {"Range": "bytes=999999-"}}),
    ]
    for status, method, path, kwargs in cases:
        request_id = f"case-{status}-{uuid.uuid4().hex[:8]}"
        headers = {**kwargs.pop("headers", {}), "X-Request-ID": request_id}
        result = client.simulate_request(method, path, headers=headers, remote_addr=next(addresses), **kwargs)
        assert result.status_code == status, (method, path, result.status_code, result.text)
        assert_hardened(result, request_id)

    limited = "198.51.100.1"
    for _ in range(3):
        client.simulate_get(f"{API}/images", remote_addr=limited)
    refused = client.simulate_get(f"{API}/images", remote_addr=limited, headers={"X-Request-ID": "case-429"})
    assert refused.status_code == 429
    assert_hardened(refused, "case-429")


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    ids = {client.simulate_get(f"{API}/images").headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5
    assert all(GENERATED_ID.fullmatch(request_id) for request_id in ids)


@pytest.mark.parametrize("sane", ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "req_1.2:3", "x" * 128])
def test_a_sane_client_request_id_is_echoed(client, sane):
    assert_hardened(client.simulate_get(f"{API}/images", headers={"X-Request-ID": sane}), sane)


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param("x" * 129, id="over-long"),
        pytest.param("a" * 10_000, id="huge"),
        pytest.param("abc\r\nSet-Cookie: session=stolen", id="crlf"),
        pytest.param("abc\nX-Injected: 1", id="lf"),
        pytest.param("abc\x00def", id="nul"),
        pytest.param('abc" "def', id="quotes-and-spaces"),
        pytest.param("<script>alert(1)</script>", id="markup"),
        pytest.param("ümlaut", id="non-ascii"),
        pytest.param("", id="empty"),
    ],
)
def test_a_hostile_client_request_id_is_replaced(client, hostile):
    result = client.simulate_get(f"{API}/images", headers={"X-Request-ID": hostile})

    assert result.status_code == 200
    assert_hardened(result)
    assert "set-cookie" not in result.headers
    assert "x-injected" not in result.headers


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_the_html_pages_carry_the_security_headers_and_may_not_be_framed(client, path):
    result = client.simulate_get(path, headers={"X-Request-ID": "page-1"})

    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/html")
    assert_hardened(result, "page-1")
    policy = result.headers["content-security-policy"]
    assert "object-src 'none'" in policy and "'unsafe-eval'" not in policy


def test_file_downloads_are_never_sniffed_or_framed(client, image):
    result = client.simulate_get(image["file_url"])

    assert result.headers["content-type"] == "image/png"
    assert_hardened(result)
    assert "default-src 'none'" in result.headers["content-security-policy"]


# -- CORS ----------------------------------------------------------------------

def preflight(client, path: str, origin: str, method: str = "PUT"):
    return client.simulate_options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_no_origin_is_allowed_by_default(client, image):
    for result in (
        client.simulate_get(f"{API}/images", headers={"Origin": ALLOWED_ORIGIN}),
        client.simulate_get(image["file_url"], headers={"Origin": "null"}),
        preflight(client, f"{API}/comments/1", ALLOWED_ORIGIN),
    ):
        assert "access-control-allow-origin" not in result.headers
        assert "access-control-allow-headers" not in result.headers
        assert "access-control-allow-credentials" not in result.headers


def test_a_listed_origin_is_allowed_and_its_preflight_allows_authorization_and_content_type(client_with):
    client = client_with(cors_origins=(ALLOWED_ORIGIN,), api_keys=(KEY,))

    answer = preflight(client, f"{API}/comments/1", ALLOWED_ORIGIN)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    allowed_headers = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    allowed_methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "PUT", "DELETE"} <= allowed_methods
    assert_hardened(answer)

    listed = client.simulate_get(f"{API}/images", headers={"Origin": ALLOWED_ORIGIN})
    assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = {h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "location", "retry-after"} <= exposed
    # Not a credentialed (cookie) API: a bearer header is all a browser needs to send.
    assert "access-control-allow-credentials" not in listed.headers


def test_a_refused_write_from_a_listed_origin_is_still_readable_by_its_script(client_with):
    client = client_with(cors_origins=(ALLOWED_ORIGIN,), api_keys=(KEY,))

    refused = client.simulate_delete(f"{API}/images/1", headers={"Origin": ALLOWED_ORIGIN})

    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://gallery.example.evil.example", "http://gallery.example", "null",
     "https://GALLERY.example.evil"],
)
def test_other_origins_get_no_allow_origin(client_with, origin):
    client = client_with(cors_origins=(ALLOWED_ORIGIN,))

    for result in (
        preflight(client, f"{API}/comments/1", origin),
        client.simulate_get(f"{API}/images", headers={"Origin": origin}),
    ):
        assert "access-control-allow-origin" not in result.headers
        assert "access-control-allow-headers" not in result.headers


def test_responses_vary_by_origin_when_origins_are_listed(client_with):
    """A shared cache must not hand one origin's answer (with or without
    Access-Control-Allow-Origin) to another."""
    client = client_with(cors_origins=(ALLOWED_ORIGIN,))

    for origin in (ALLOWED_ORIGIN, "https://evil.example", None):
        headers = {"Origin": origin} if origin else {}
        result = client.simulate_get(f"{API}/images", headers=headers)
        vary = {part.strip().lower() for part in result.headers.get("vary", "").split(",")}
        assert "origin" in vary, origin


# -- the access log ---------------------------------------------------------------

def gunicorn_config():
    """The repository's gunicorn.conf.py as a module (its name is not importable as is)."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf", REPO_ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_access_log_lines_are_json_and_credentials_are_never_available_to_a_format():
    config = gunicorn_config()
    logger = config.JSONAccessLogger(gunicorn.config.Config())
    agent = 'agent "quoted" \\ back\\slash\x01 \u00fc {"status": 500}'
    environ = {
        "REQUEST_METHOD": "PUT", "RAW_URI": "/api/v1.0/comments/1?x=%22", "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": '/api/v1.0/comments/1"\n', "QUERY_STRING": 'x="', "REMOTE_ADDR": "192.0.2.1",
        "HTTP_USER_AGENT": agent, "HTTP_AUTHORIZATION": "Bearer secret-key", "HTTP_COOKIE": "session=secret",
    }
    request = types.SimpleNamespace(headers=[
        ("USER-AGENT", agent), ("AUTHORIZATION", "Bearer secret-key"), ("COOKIE", "session=secret"),
    ])
    response = types.SimpleNamespace(status="200 OK", sent=123, headers=[("X-Request-ID", "abc")])

    atoms = logger.atoms_wrapper_class(
        logger.atoms(response, request, environ, datetime.timedelta(microseconds=1500))
    )
    line = config.access_log_format % atoms

    parsed = json.loads(line)
    assert parsed["user_agent"] == agent
    assert parsed["path"] == '/api/v1.0/comments/1"\n'
    assert parsed["query"] == 'x="'
    assert (parsed["method"], parsed["status"], parsed["bytes"], parsed["request_id"]) == ("PUT", 200, 123, "abc")
    assert parsed["duration_s"] == 0.0015
    assert "\n" not in line and "secret" not in line
    # Even a custom format that asks for the credentials gets nothing.
    custom = "%({authorization}i)s %({Cookie}i)s %({http_authorization}e)s %({HTTP_COOKIE}e)s"
    assert custom % atoms == "- - - -"


# -- the access log, on real Gunicorn ------------------------------------------

@pytest.fixture
def logged_server(tmp_path):
    with GunicornServer.in_folder(tmp_path, workers=2, FALCON_IMG_API_KEYS=KEY) as server:
        yield server


def access_lines(server: GunicornServer, wanted_ids: list[str]) -> list[dict]:
    """The log's JSON lines, once every wanted request id is in (a line is written after its response)."""
    for _ in range(50):
        lines = [line for line in server.log().splitlines() if line.startswith("{")]
        if all(any(request_id in line for line in lines) for request_id in wanted_ids):
            break
        time.sleep(0.1)
    return [json.loads(line) for line in lines]


@pytest.mark.e2e
def test_the_access_log_is_one_json_object_per_request_and_never_holds_a_credential(logged_server):
    server = logged_server
    key = {"Authorization": f"Bearer {KEY}"}
    ids = [f"log-{n}-{uuid.uuid4().hex[:12]}" for n in range(7)]

    body, content_type = urllib3.encode_multipart_formdata({"file": ("logged.png", image_bytes(), "image/png")})
    image = server.request("POST", f"{API}/images", body=body,
                           headers={**key, "Content-Type": content_type, "X-Request-ID": ids[0]})
    assert image.status == 201, image
    image = image.json()
    comment = server.request_json("POST", image["comm_url"], {"text": "logged"}, {**key, "X-Request-ID": ids[1]})
    assert comment.status == 201, comment
    comment = comment.json()
    token = {"Authorization": f"Bearer {comment['edit_token']}"}
    edited = server.request_json("PUT", comment["comm_url"], {"text": "edited"}, {**token, "X-Request-ID": ids[2]})
    assert edited.status == 200
    assert server.request("DELETE", comment["comm_url"], headers={**token, "X-Request-ID": ids[3]}).status == 200
    refused = server.request("DELETE", image["image_url"],
                             headers={"Authorization": "Bearer wrong-secret-7a7a7a7a", "X-Request-ID": ids[4]})
    assert refused.status == 401
    hostile_agent = 'Mozilla/5.0 "quoted" \\ back\\slash {"status": 500} \t tab'
    hostile_path = f"{API}/file/a%22b%5Cc%0A%7B%22x%22%3A1%7D%00"
    assert server.request("GET", hostile_path + "?q=%22%5C&x=\"",
                          headers={"User-Agent": hostile_agent, "X-Request-ID": ids[5]}).status == 404
    deleted = server.request("DELETE", image["image_url"],
                             headers={"Authorization": f"Bearer {image['edit_token']}", "X-Request-ID": ids[6]})
    assert deleted.status == 200

    lines = access_lines(server, ids)
    log = server.log()
    for secret in (KEY, image["edit_token"], comment["edit_token"], "wrong-secret-7a7a7a7a", "Bearer"):
        assert secret not in log
    for request_id in ids:
        assert log.count(request_id) == 1, request_id
        assert sum(line["request_id"] == request_id for line in lines) == 1
    by_id = {line["request_id"]: line for line in lines}
    assert {key for key in by_id[ids[0]]} >= {
        "time", "remote", "method", "path", "query", "status", "bytes", "duration_s", "request_id", "user_agent", "pid",
    }
    upload_line = by_id[ids[0]]
    assert (upload_line["method"], upload_line["path"], upload_line["status"]) == ("POST", f"{API}/images", 201)
    assert upload_line["remote"] == "127.0.0.1"
    assert upload_line["bytes"] > 0 and upload_line["duration_s"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", upload_line["time"])
    assert by_id[ids[4]]["status"] == 401
    hostile = by_id[ids[5]]
    assert hostile["user_agent"] == hostile_agent
    assert hostile["path"] == f'{API}/file/a"b\\c\n{{"x":1}}\x00'
    assert hostile["query"] == 'q=%22%5C&x="'
    assert hostile["status"] == 404
    # Requests that sent no id are logged under the one the server made.
    assert any(GENERATED_ID.fullmatch(line["request_id"]) and line["path"] == "/healthz" for line in lines)
    assert "Traceback" not in log
