"""End to end: real HTTP against real Gunicorn, started from the repository's gunicorn.conf.py.

One server (two sync workers, a temp instance dir, SQLite; also PostgreSQL
when FALCON_IMG_TEST_DATABASE_URL is set) serves every test of this module.
The assertions look at what a client and an operator see: statuses, bytes,
headers, files on disk, worker processes and the server's log.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
import urllib3

from servers import GunicornServer
from support import blob_path, image_bytes

pytestmark = pytest.mark.e2e

API = "/api/v1.0"
POSTGRES_URL = os.environ.get("FALCON_IMG_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
WORKERS = 2


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    database_url = POSTGRES_URL if request.param == "postgresql" else ""
    server = GunicornServer.in_folder(root, workers=WORKERS, database_url=database_url)
    with server:
        yield server


def assert_log_is_clean(server: GunicornServer) -> None:
    log = server.log()
    assert "Traceback" not in log, server.log_tail()
    assert "[CRITICAL]" not in log, server.log_tail()


def upload(server: GunicornServer, data: bytes, filename: str):
    body, content_type = urllib3.encode_multipart_formdata({"file": (filename, data, "application/octet-stream")})
    return server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type})


def unique_name(suffix: str) -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}.{suffix}"


def test_the_server_runs_the_configured_number_of_worker_processes(live_server):
    workers = live_server.worker_pids()

    assert len(workers) == WORKERS
    assert live_server.pid not in workers
    log = live_server.log()
    assert f"Listening at: {live_server.url}" in log
    assert sum(f"Booting worker with pid: {pid}" in log for pid in workers) == WORKERS


def test_healthz_answers_ok_over_http(live_server):
    answer = live_server.request("GET", "/healthz")

    assert answer.status == 200
    assert answer.json()["status"] == "ok"
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["X-Request-ID"]


def test_an_image_goes_through_upload_download_comments_and_delete(live_server):
    data = image_bytes("PNG", size=(96, 64), color=(12, 140, 220))
    digest = hashlib.sha256(data).hexdigest()
    name = unique_name("png")

    # Upload.
    created = upload(live_server, data, name)
    assert created.status == 201, created
    image = created.json()
    assert image["message"] == "Image added to collection"
    assert (image["name"], image["sha256"], image["size"]) == (name, digest, len(data))
    assert (image["content_type"], image["width"], image["height"]) == ("image/png", 96, 64)
    assert created.headers["Location"].endswith(f"{API}/images/{image['id']}")
    stored = blob_path(live_server.instance_dir / "resources" / "images", digest)
    assert stored.read_bytes() == data

    # The list shows it, and so does its own URL.
    listed = live_server.request("GET", f"{API}/images?limit=1000")
    assert listed.status == 200
    assert image["id"] in [item["id"] for item in listed.json()["images"]]
    one = live_server.request("GET", image["image_url"])
    assert one.status == 200
    assert one.json()["name"] == name

    # Download: the same bytes, described by their sha256.
    downloaded = live_server.request("GET", image["file_url"])
    assert downloaded.status == 200
    assert downloaded.body == data
    assert hashlib.sha256(downloaded.body).hexdigest() == image["sha256"]
    assert downloaded.headers["Content-Type"] == "image/png"
    assert downloaded.headers["Content-Length"] == str(len(data))
    assert downloaded.headers["ETag"] == f'"{digest}"'
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"

    # A byte range is exactly those bytes.
    ranged = live_server.request("GET", image["file_url"], headers={"Range": "bytes=10-29"})
    assert ranged.status == 206
    assert ranged.body == data[10:30]
    assert ranged.headers["Content-Range"] == f"bytes 10-29/{len(data)}"
    assert ranged.headers["Content-Length"] == "20"

    # Revalidation costs no body.
    revalidated = live_server.request("GET", image["file_url"], headers={"If-None-Match": f'"{digest}"'})
    assert revalidated.status == 304
    assert revalidated.body == b""
    assert revalidated.headers["ETag"] == f'"{digest}"'

    # Comments: create, list, replace, delete.
    posted = live_server.request_json("POST", image["comm_url"], {"text": "nice colour"})
    assert posted.status == 201, posted
    comment = posted.json()
    assert (comment["message"], comment["text"], comment["comm"]) == ("Comment append", "nice colour", "nice colour")
    assert comment["image_id"] == image["id"]
    assert posted.headers["Location"].endswith(comment["comm_url"])

    comments = live_server.request("GET", image["comm_url"])
    assert comments.status == 200
    assert [(c["id"], c["text"]) for c in comments.json()["comments"]] == [(comment["id"], "nice colour")]
    assert comments.json()["img_url"] == image["image_url"]
    assert live_server.request("GET", image["image_url"]).json()["comments_count"] == 1

    replaced = live_server.request_json("PUT", comment["comm_url"], {"text": "even nicer"})
    assert replaced.status == 200, replaced
    assert (replaced.json()["message"], replaced.json()["text"]) == ("Comment change", "even nicer")
    assert live_server.request("GET", comment["comm_url"]).json()["text"] == "even nicer"

    removed = live_server.request("DELETE", comment["comm_url"])
    assert removed.status == 200
    assert removed.json() == {"message": "Comment delete", "id": comment["id"]}
    assert live_server.request("GET", comment["comm_url"]).status == 404
    assert live_server.request("GET", image["comm_url"]).json()["comments"] == []

    # Deleting the image removes its file from disk; its URLs are gone.
    deleted = live_server.request("DELETE", image["image_url"])
    assert deleted.status == 200
    assert deleted.json() == {"message": "Image deleted", "id": image["id"]}
    assert not stored.exists()
    gone = live_server.request("GET", image["file_url"])
    assert gone.status == 404
    assert gone.headers["Content-Type"].startswith("application/json")
    assert gone.json()["message"]
    assert live_server.request("GET", image["image_url"]).status == 404
    listed_after = live_server.request("GET", f"{API}/images?limit=1000")
    assert image["id"] not in [item["id"] for item in listed_after.json()["images"]]

    assert_log_is_clean(live_server)


def test_an_unknown_route_is_a_json_404(live_server):
    for path in ("/no/such/route", f"{API}/nothing-here", f"{API}/images/abc"):
        answer = live_server.request("GET", path, headers={"Accept": "text/html"})

        assert answer.status == 404, path
        assert answer.headers["Content-Type"].startswith("application/json")
        assert isinstance(answer.json()["message"], str) and answer.json()["message"]
    assert_log_is_clean(live_server)


def test_a_chunked_upload_is_refused_with_411_not_a_500(live_server):
    body, content_type = urllib3.encode_multipart_formdata(
        {"file": ("chunked.png", image_bytes(color=(5, 50, 150)), "image/png")}
    )
    chunks = iter([body[:100], body[100:]])

    answer = live_server.request(
        "POST", f"{API}/images", body=chunks,
        headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"}, encode_chunked=True,
    )

    assert answer.status == 411, answer
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "Content-Length" in answer.json()["message"]
    names = [item["name"] for item in live_server.request("GET", f"{API}/images?limit=1000").json()["images"]]
    assert "chunked.png" not in names
    # The workers are still there and still serving.
    assert live_server.request("GET", "/healthz").status == 200
    assert len(live_server.worker_pids()) == WORKERS
    assert_log_is_clean(live_server)


def test_bytes_that_are_not_an_image_are_refused_over_http(live_server):
    answer = upload(live_server, b"GIF89a but not really", unique_name("gif"))

    assert answer.status == 415
    assert answer.json()["message"]
    assert_log_is_clean(live_server)
