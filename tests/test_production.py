"""The production data tier, end to end: real Gunicorn on PostgreSQL and S3, under load, crashes and outages.

Every test starts its own Gunicorn from the repository's gunicorn.conf.py
(tests/servers.py), always stops it, and ends by reading the server's log:
whatever happened, no stack trace may be in it. PostgreSQL tests run when
FALCON_IMG_TEST_DATABASE_URL is set; they create a database of their own on
that server (other suites use the named one at the same time) and drop it
afterwards. S3 is moto's server on loopback (tests/s3server.py); outages are
made with a TCP proxy between the service and its dependency
(tests/tcpproxy.py), so a dependency can vanish and come back on the same
address while Gunicorn keeps running.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3

from s3server import TEST_ENVIRONMENT, S3Server, closed_port
from servers import BIN_DIR, REPO_ROOT, GunicornServer
from support import files_under, image_bytes
from tcpproxy import TCPProxy

pytestmark = pytest.mark.e2e

API = "/api/v1.0"
POSTGRES_URL = os.environ.get("FALCON_IMG_TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="set FALCON_IMG_TEST_DATABASE_URL to run on PostgreSQL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=needs_postgres)]

#: Every socket a test opens gives up after this long: a hung server fails a test, never the run.
CLIENT_TIMEOUT = 30
#: While a dependency is down, an answer must come within its connect timeout and retries
#: (PostgreSQL: 5 s; S3: 3 attempts of 3 s), not after a worker timeout (30 s).
OUTAGE_TIMEOUT = 15
#: How long a dependency that came back may take before every request succeeds again.
RECOVERY_SECONDS = 20


# -- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres_database():
    """A database of this module's own on the test PostgreSQL server: its URL. Dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("set FALCON_IMG_TEST_DATABASE_URL to run on PostgreSQL")
    import psycopg2

    name = f"falcon_img_e2e_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_URL, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            for attempt in range(10):
                try:
                    cursor.execute(f'CREATE DATABASE "{name}"')
                    break
                except psycopg2.errors.ObjectInUse:
                    # Another session is using the template database at this very moment.
                    time.sleep(0.5 + attempt * 0.2)
            else:
                pytest.fail("could not create a test database: template1 stayed busy")
        yield with_database(POSTGRES_URL, name)
    finally:
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.close()


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def servers(tmp_path):
    """Make servers with ``servers(env, workers)``; all of them are stopped when the test ends."""
    started: list[GunicornServer] = []

    def make(env: dict, workers: int = 2, *, server_class=GunicornServer, init_db_args=()) -> GunicornServer:
        root = tmp_path / f"server-{len(started)}"
        server = server_class(
            {"FALCON_IMG_ENV": "testing", "FALCON_IMG_INSTANCE_DIR": str(root / "instance"), **env},
            workers=workers, log_path=root / "gunicorn.log", init_db_args=init_db_args,
        )
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def proxies():
    """Make TCP proxies with ``proxies(target_port)``; all of them are stopped when the test ends."""
    started: list[TCPProxy] = []

    def make(target_port: int, target_host: str = "127.0.0.1") -> TCPProxy:
        proxy = TCPProxy(target_port, target_host)
        started.append(proxy)
        return proxy.start()

    yield make
    for proxy in started:
        proxy.stop()


class ServerWithoutDatabase(GunicornServer):
    """Gunicorn whose database is unreachable from the start.

    No ``init-db`` (it could not connect), and ready once every worker is up
    and /healthz answers at all: with the database down that answer is a 503.
    """

    ready_statuses = (200, 503)

    def init_db(self) -> None:
        pass


# -- talking to a server -----------------------------------------------------

def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def with_address(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}").geturl()


def postgres_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def upload(server: GunicornServer, data: bytes, filename: str, timeout: float = CLIENT_TIMEOUT):
    body, content_type = urllib3.encode_multipart_formdata({"file": (filename, data, "application/octet-stream")})
    return server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type}, timeout=timeout)


def get(server: GunicornServer, path: str, headers: dict | None = None, timeout: float = CLIENT_TIMEOUT):
    return server.request("GET", path, headers=headers, timeout=timeout)


def post_comment(server: GunicornServer, image: dict, text: str, timeout: float = CLIENT_TIMEOUT):
    return server.request(
        "POST", image["comm_url"], body=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"}, timeout=timeout,
    )


def every_page(server: GunicornServer, path: str, key: str) -> list[dict]:
    """The items of a collection, following ``next`` from the first page to the last."""
    items: list[dict] = []
    pages = 0
    while path:
        answer = get(server, path)
        assert answer.status == 200, answer
        page = answer.json()
        items += page[key]
        path = page["next"]
        pages += 1
        assert pages <= 1000, "the pages never end"
    return items


def assert_log_is_clean(server: GunicornServer) -> None:
    log = server.log()
    assert "Traceback" not in log, server.log_tail()
    assert "[CRITICAL]" not in log, server.log_tail()


def assert_unavailable(answer, what: str | None = None) -> None:
    """A 503 a client can act on: JSON with a message, a Retry-After, and no stack trace."""
    assert answer.status == 503, answer
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    assert answer.headers["Retry-After"]
    body = answer.json()
    assert isinstance(body["message"], str) and body["message"]
    if what:
        assert what in body["message"], body
    assert b"Traceback" not in answer.body and b'File "' not in answer.body


def distinct_image(thread: int, index: int) -> tuple[bytes, str, tuple[int, int]]:
    """A small image whose size alone makes its bytes unlike any other's: (bytes, file name, size)."""
    fmt, extension = ("PNG", "png") if thread % 2 == 0 else ("JPEG", "jpg")
    size = (40 + thread, 30 + index)
    color = ((thread * 37) % 256, (index * 23) % 256, 120)
    return image_bytes(fmt, size=size, color=color), f"load-{thread}-{index}.{extension}", size


def run_cli(server: GunicornServer, *args: str) -> subprocess.CompletedProcess:
    """``falcon-img <args>`` with the server's own environment (its database and storage)."""
    return subprocess.run(
        [str(BIN_DIR / "falcon-img"), *args], cwd=REPO_ROOT, env=server.env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )


def server_on(backend: str, request, servers, workers: int):
    """A server on SQLite, or on this module's own PostgreSQL database (emptied first)."""
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_database")
        return servers({"DATABASE_URL": database_url}, workers=workers, init_db_args=("--drop", "--yes"))
    return servers({}, workers=workers)


# -- 1. many workers at once ---------------------------------------------------

COMMENT_THREADS, COMMENTS_PER_THREAD = 16, 25
UPLOAD_THREADS, UPLOADS_PER_THREAD = 8, 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_four_workers_under_concurrent_writes_lose_nothing_and_cross_no_answers(backend, request, servers):
    server = server_on(backend, request, servers, workers=4)

    target_bytes = image_bytes("PNG", size=(80, 60), color=(10, 20, 30))
    created = upload(server, target_bytes, "commented.png")
    assert created.status == 201, created
    target = created.json()

    statuses: collections.Counter = collections.Counter()
    wrong: list[str] = []
    comments_sent: dict[str, int] = {}
    images_sent: dict[str, bytes] = {"commented.png": target_bytes}
    lock = threading.Lock()
    start_together = threading.Barrier(COMMENT_THREADS + UPLOAD_THREADS)

    def seen(answer) -> None:
        with lock:
            statuses[answer.status] += 1

    def commenter(thread: int) -> None:
        start_together.wait(timeout=CLIENT_TIMEOUT)
        for index in range(COMMENTS_PER_THREAD):
            text = f"comment {thread}-{index} {uuid.uuid4().hex[:8]}"
            answer = post_comment(server, target, text)
            seen(answer)
            if answer.status != 201:
                wrong.append(f"POST comment {text!r}: {answer!r}")
                continue
            comment = answer.json()
            if (comment["image_id"], comment["text"]) != (target["id"], text):
                wrong.append(f"POST comment {text!r} answered {comment}")
            with lock:
                comments_sent[text] = comment["id"]
            if index % 5 == 0:
                again = get(server, comment["comm_url"])
                seen(again)
                if again.status != 200 or (again.json()["id"], again.json()["text"]) != (comment["id"], text):
                    wrong.append(f"GET {comment['comm_url']} answered {again!r}")

    def uploader(thread: int) -> None:
        start_together.wait(timeout=CLIENT_TIMEOUT)
        for index in range(UPLOADS_PER_THREAD):
            data, name, (width, height) = distinct_image(thread, index)
            answer = upload(server, data, name)
            seen(answer)
            if answer.status != 201:
                wrong.append(f"POST image {name}: {answer!r}")
                continue
            image = answer.json()
            expected = (name, hashlib.sha256(data).hexdigest(), len(data), width, height)
            if (image["name"], image["sha256"], image["size"], image["width"], image["height"]) != expected:
                wrong.append(f"POST image {name} answered {image}")
            with lock:
                images_sent[name] = data
            again = get(server, image["image_url"])
            seen(again)
            if again.status != 200 or (again.json()["id"], again.json()["name"]) != (image["id"], name):
                wrong.append(f"GET {image['image_url']} answered {again!r}")

    with ThreadPoolExecutor(max_workers=COMMENT_THREADS + UPLOAD_THREADS) as pool:
        futures = [pool.submit(commenter, t) for t in range(COMMENT_THREADS)]
        futures += [pool.submit(uploader, t) for t in range(UPLOAD_THREADS)]
        for future in futures:
            future.result()  # re-raises a client-side failure (timeout, reset) of any thread

    assert not [status for status in statuses if status >= 500], statuses
    assert wrong == []
    assert len(comments_sent) == COMMENT_THREADS * COMMENTS_PER_THREAD
    assert len(images_sent) == UPLOAD_THREADS * UPLOADS_PER_THREAD + 1

    # Every comment is there exactly once, in creation order, on its image.
    comments = every_page(server, target["comm_url"], "comments")
    ids = [comment["id"] for comment in comments]
    assert len(comments) == COMMENT_THREADS * COMMENTS_PER_THREAD
    assert ids == sorted(set(ids))
    assert {comment["text"]: comment["id"] for comment in comments} == comments_sent
    assert {comment["image_id"] for comment in comments} == {target["id"]}
    assert get(server, target["image_url"]).json()["comments_count"] == COMMENT_THREADS * COMMENTS_PER_THREAD

    # Every image is there exactly once, and downloads as the very bytes sent.
    images = every_page(server, f"{API}/images?limit=25", "images")
    image_ids = [image["id"] for image in images]
    assert len(images) == UPLOAD_THREADS * UPLOADS_PER_THREAD + 1
    assert image_ids == sorted(set(image_ids))
    assert {image["name"] for image in images} == set(images_sent)
    for image in images:
        sent = images_sent[image["name"]]
        assert image["sha256"] == hashlib.sha256(sent).hexdigest(), image["name"]
        downloaded = get(server, image["file_url"])
        assert downloaded.status == 200, downloaded
        assert downloaded.body == sent, image["name"]
        assert downloaded.headers["ETag"] == f'"{image["sha256"]}"'
    assert len({image["sha256"] for image in images}) == len(images)

    assert_log_is_clean(server)


@pytest.mark.parametrize("backend", BACKENDS)
def test_identical_bytes_uploaded_and_deleted_concurrently_never_leave_an_image_without_its_file(
    backend, request, servers,
):
    """One blob shared by many names, added and removed by four workers at once.

    Whatever the interleaving, an image that was created downloads until it is
    deleted, and when the last name goes the stored file goes with it.
    """
    server = server_on(backend, request, servers, workers=4)
    data = image_bytes("PNG", size=(33, 33), color=(5, 6, 7))
    wrong: list[str] = []
    start_together = threading.Barrier(8)

    def churn(thread: int) -> None:
        start_together.wait(timeout=CLIENT_TIMEOUT)
        for index in range(12):
            created = upload(server, data, f"shared-{thread}-{index}.png")
            if created.status != 201:
                wrong.append(f"upload: {created!r}")
                continue
            image = created.json()
            downloaded = get(server, image["file_url"])
            if downloaded.status != 200 or downloaded.body != data:
                wrong.append(f"download of a live image: {downloaded!r}")
            deleted = server.request("DELETE", image["image_url"], timeout=CLIENT_TIMEOUT)
            if deleted.status != 200:
                wrong.append(f"delete: {deleted!r}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(churn, thread) for thread in range(8)]:
            future.result()

    assert wrong == []
    assert get(server, f"{API}/images").json()["images"] == []
    blobs_dir = server.instance_dir / "resources" / "images"
    assert {path for path in files_under(blobs_dir) if ".tmp" not in path.parts} == set()
    checked = run_cli(server, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert_log_is_clean(server)


# -- 2. a worker killed in the middle of an upload -----------------------------

def test_a_worker_killed_mid_upload_leaves_no_image_and_only_a_temp_file_that_check_removes(servers):
    server = servers({"FALCON_IMG_MAX_UPLOAD_BYTES": str(64 * 1024 * 1024)}, workers=1)
    resources = server.instance_dir / "resources"
    spool_dir, blobs_dir = resources / "incoming", resources / "images"
    stored_before = files_under(blobs_dir)
    (worker,) = server.worker_pids()

    boundary = uuid.uuid4().hex
    preamble = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    closing = f"\r\n--{boundary}--\r\n".encode()
    file_size = 40 * 1024 * 1024
    head = (
        f"POST {API}/images HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(preamble) + file_size + len(closing)}\r\n\r\n"
    ).encode()
    chunk = b"\x89PNG\r\n\x1a\n" + bytes(256 * 1024 - 8)
    sent_of_file = 0
    with socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT) as client:
        client.sendall(head + preamble)
        # A fifth of the file, then the client pauses: the worker is blocked reading the body.
        while sent_of_file < file_size // 5:
            client.sendall(chunk)
            sent_of_file += len(chunk)
        spooled = wait_for(lambda: [p for p in spool_dir.glob("upload-*") if p.stat().st_size >= 1024 * 1024])
        assert spooled, f"no upload is being spooled in {spool_dir}"

        os.kill(worker, signal.SIGKILL)

        # The client learns its upload died: no HTTP answer, the connection ends.
        try:
            client.sendall(chunk * 4)
            answer = client.recv(1024)
        except OSError:
            answer = b""
        assert answer == b""

    replacement = wait_for(lambda: [pid for pid in server.worker_pids() if pid != worker])
    assert replacement and worker not in server.worker_pids(), server.log_tail()

    # Nothing of the upload is visible: no row, no file, no half file to download.
    assert get(server, "/healthz").status == 200
    listed = get(server, f"{API}/images")
    assert listed.status == 200
    assert listed.json()["images"] == []
    assert get(server, f"{API}/file/big.png").status == 404
    assert files_under(blobs_dir) == stored_before

    # Only the spooled part is left, and the consistency check removes it.
    leftovers = sorted(spool_dir.iterdir())
    assert [path.name for path in leftovers] == [spooled[0].name]
    assert 0 < leftovers[0].stat().st_size < file_size
    repaired = run_cli(server, "check", "--repair", "--temp-age", "0")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"stale temporary file: {leftovers[0]}" in repaired.stdout
    assert list(spool_dir.iterdir()) == []
    checked = run_cli(server, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 problem(s) found" in checked.stdout

    # The replacement worker serves, and the same name can be uploaded for real.
    data = image_bytes("PNG", size=(64, 64), color=(1, 99, 200))
    created = upload(server, data, "big.png")
    assert created.status == 201, created
    assert get(server, f"{API}/file/big.png").body == data
    assert f"Worker (pid:{worker}) was sent SIGKILL!" in server.log()
    assert_log_is_clean(server)


def test_starting_the_server_sweeps_temporary_files_older_than_an_hour_and_keeps_fresh_ones(tmp_path, servers):
    resources = tmp_path / "server-0" / "instance" / "resources"
    an_hour_and_more_ago = time.time() - 3700
    planted = {}
    for folder in (resources / "incoming", resources / "images" / ".tmp"):
        folder.mkdir(parents=True)
        for age in ("old", "fresh"):
            path = folder / f"upload-{age}.part"
            path.write_bytes(b"part of an upload a crash cut short")
            if age == "old":
                os.utime(path, (an_hour_and_more_ago, an_hour_and_more_ago))
            planted[path] = age

    server = servers({}, workers=1)

    assert server.instance_dir / "resources" == resources
    for path, age in planted.items():
        assert path.exists() == (age == "fresh"), path
    assert "removed 2 stale temporary file(s)" in server.log()
    assert_log_is_clean(server)


def wait_for(probe, seconds: float = 20, interval: float = 0.05):
    """``probe()`` once it returns something true, or its last (false) value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- 3. S3 storage ---------------------------------------------------------------

def s3_environment(bucket: str, endpoint_url: str) -> dict[str, str]:
    return {
        **TEST_ENVIRONMENT,
        "FALCON_IMG_STORAGE_URL": f"s3://{bucket}/images",
        "FALCON_IMG_S3_ENDPOINT_URL": endpoint_url,
    }


def object_keys(s3: S3Server, bucket: str) -> set[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {entry["Key"] for page in pages for entry in page.get("Contents", ())}


def test_the_api_flow_on_s3_storage_keeps_every_byte_in_the_bucket_and_removes_it_on_delete(s3, servers):
    bucket = s3.new_bucket()
    server = servers(s3_environment(bucket, s3.endpoint_url), workers=2)
    data = image_bytes("PNG", size=(320, 200), color=(40, 160, 90))
    digest = hashlib.sha256(data).hexdigest()

    created = upload(server, data, "bucket.png")
    assert created.status == 201, created
    image = created.json()
    assert (image["sha256"], image["size"]) == (digest, len(data))
    assert object_keys(s3, bucket) == {f"images/{digest}"}
    assert s3.client().get_object(Bucket=bucket, Key=f"images/{digest}")["Body"].read() == data
    # Nothing went to the local disk instead.
    assert files_under(server.instance_dir / "resources" / "images") == set()

    listed = get(server, f"{API}/images")
    assert [item["id"] for item in listed.json()["images"]] == [image["id"]]

    downloaded = get(server, image["file_url"])
    assert downloaded.status == 200
    assert downloaded.body == data
    assert downloaded.headers["Content-Length"] == str(len(data))
    assert downloaded.headers["ETag"] == f'"{digest}"'

    ranged = get(server, image["file_url"], {"Range": "bytes=100-199"})
    assert ranged.status == 206
    assert ranged.body == data[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(data)}"

    revalidated = get(server, image["file_url"], {"If-None-Match": f'"{digest}"'})
    assert revalidated.status == 304
    assert revalidated.body == b""

    variant = get(server, image["file_url"] + "?w=160")
    assert variant.status == 200, variant
    assert variant.body != data and variant.body.startswith(b"\x89PNG")
    variant_keys = {key for key in object_keys(s3, bucket) if key.startswith(f"images/{digest}/")}
    assert len(variant_keys) == 1
    assert get(server, image["file_url"] + "?w=160").body == variant.body

    posted = post_comment(server, image, "stored in a bucket")
    assert posted.status == 201, posted
    comment = posted.json()
    assert [c["id"] for c in get(server, image["comm_url"]).json()["comments"]] == [comment["id"]]
    replaced = server.request(
        "PUT", comment["comm_url"], body=json.dumps({"text": "still there"}).encode(),
        headers={"Content-Type": "application/json"}, timeout=CLIENT_TIMEOUT,
    )
    assert (replaced.status, replaced.json()["text"]) == (200, "still there")
    removed = server.request("DELETE", comment["comm_url"], timeout=CLIENT_TIMEOUT)
    assert removed.json() == {"message": "Comment delete", "id": comment["id"]}
    assert get(server, image["comm_url"]).json()["comments"] == []

    deleted = server.request("DELETE", image["image_url"], timeout=CLIENT_TIMEOUT)
    assert deleted.json() == {"message": "Image deleted", "id": image["id"]}
    assert object_keys(s3, bucket) == set()
    assert get(server, image["file_url"]).status == 404
    assert_log_is_clean(server)


def test_check_on_s3_storage_reports_an_orphan_object_and_repair_removes_only_it(s3, servers):
    bucket = s3.new_bucket()
    server = servers(s3_environment(bucket, s3.endpoint_url), workers=2)
    data = image_bytes("PNG", size=(50, 50), color=(200, 200, 10))
    kept = upload(server, data, "kept.png").json()
    orphan = "ab" * 32
    s3.client().put_object(Bucket=bucket, Key=f"images/{orphan}", Body=b"no row knows me")

    found = run_cli(server, "check")
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"orphan file: {orphan}" in found.stdout
    assert kept["sha256"] not in found.stdout

    repaired = run_cli(server, "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert object_keys(s3, bucket) == {f"images/{kept['sha256']}"}

    again = run_cli(server, "check")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 problem(s) found" in again.stdout
    assert get(server, kept["file_url"]).body == data
    assert_log_is_clean(server)


# -- 4. outages ------------------------------------------------------------------

def requests_needing_the_database(image_id: int = 1, comment_id: int = 1, name: str = "gone.png"):
    """(method, path, body, headers) of one request per endpoint that reads or writes rows."""
    body, content_type = urllib3.encode_multipart_formdata(
        {"file": ("outage.png", image_bytes(color=(9, 9, 9)), "application/octet-stream")}
    )
    text = (json.dumps({"text": "hello"}).encode(), {"Content-Type": "application/json"})
    return [
        ("GET", f"{API}/images", None, {}),
        ("POST", f"{API}/images", body, {"Content-Type": content_type}),
        ("GET", f"{API}/images/{image_id}", None, {}),
        ("GET", f"{API}/images/{image_id}/comments", None, {}),
        ("POST", f"{API}/images/{image_id}/comments", *text),
        ("GET", f"{API}/comments/{comment_id}", None, {}),
        ("PUT", f"{API}/comments/{comment_id}", *text),
        ("DELETE", f"{API}/comments/{comment_id}", None, {}),
        ("DELETE", f"{API}/images/{image_id}", None, {}),
        ("GET", f"{API}/file/{name}", None, {}),
    ]


def test_with_the_database_unreachable_every_request_is_a_json_503_and_the_rest_still_works(servers):
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/falcon_img"
    server = servers({"DATABASE_URL": url}, workers=2, server_class=ServerWithoutDatabase)

    for method, path, body, headers in requests_needing_the_database():
        answer = server.request(method, path, body=body, headers=headers, timeout=OUTAGE_TIMEOUT)
        assert_unavailable(answer, "database")
    head = server.request("HEAD", f"{API}/file/gone.png", timeout=OUTAGE_TIMEOUT)
    assert head.status == 503

    health = get(server, "/healthz", timeout=OUTAGE_TIMEOUT)
    assert_unavailable(health)
    assert health.json()["database"] == "unavailable"
    assert health.json()["storage"] == "ok"
    # What needs no database still answers.
    assert get(server, "/no/such/route").status == 404
    assert get(server, f"{API}/openapi.json").status == 200
    assert len(server.worker_pids()) == 2
    assert_log_is_clean(server)


@needs_postgres
def test_a_database_that_goes_away_gives_503s_and_service_resumes_when_it_returns(
    postgres_database, servers, proxies,
):
    database_host, database_port = postgres_address(postgres_database)
    proxy = proxies(database_port, database_host)
    server = servers(
        {"DATABASE_URL": with_address(postgres_database, proxy.host, proxy.port)},
        workers=2, init_db_args=("--drop", "--yes"),
    )
    data = image_bytes("PNG", size=(30, 30), color=(120, 0, 60))
    image = upload(server, data, "survivor.png").json()
    comment = post_comment(server, image, "before the outage").json()

    def reads(timeout=CLIENT_TIMEOUT):
        return [
            get(server, path, timeout=timeout)
            for path in (f"{API}/images", image["image_url"], image["comm_url"], comment["comm_url"],
                         image["file_url"], "/healthz")
        ]

    for _ in range(3):
        assert [answer.status for answer in reads()] == [200] * 6
    assert proxy.connection_count > 0

    proxy.stop()
    for _ in range(3):
        for answer in reads(timeout=OUTAGE_TIMEOUT):
            assert_unavailable(answer)
        assert_unavailable(post_comment(server, image, "during the outage", timeout=OUTAGE_TIMEOUT), "database")
    health = get(server, "/healthz", timeout=OUTAGE_TIMEOUT)
    assert health.json()["database"] == "unavailable"

    proxy.start()
    # Connections the outage broke may still sit idle in a worker's pool: the first
    # request that meets one is a 503, and the pool is emptied for those that follow.
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        if all(answer.status == 200 for answer in reads()):
            break
        time.sleep(0.2)
    for _ in range(5):
        assert [answer.status for answer in reads()] == [200] * 6
    after = post_comment(server, image, "after the outage")
    assert after.status == 201, after
    texts = [c["text"] for c in every_page(server, image["comm_url"], "comments")]
    assert texts == ["before the outage", "after the outage"]
    assert_log_is_clean(server)


def test_storage_that_goes_away_gives_503s_for_bytes_and_service_resumes_when_it_returns(s3, servers, proxies):
    bucket = s3.new_bucket()
    proxy = proxies(urlsplit(s3.endpoint_url).port)
    server = servers(s3_environment(bucket, f"http://{proxy.host}:{proxy.port}"), workers=2)
    data = image_bytes("PNG", size=(60, 40), color=(0, 80, 160))
    image = upload(server, data, "before.png").json()
    assert get(server, image["file_url"]).body == data
    doomed = upload(server, image_bytes(color=(3, 3, 3)), "doomed.png").json()

    proxy.stop()
    assert_unavailable(get(server, image["file_url"], timeout=OUTAGE_TIMEOUT), "storage")
    assert_unavailable(upload(server, image_bytes(color=(1, 1, 1)), "during.png", timeout=OUTAGE_TIMEOUT), "storage")
    health = get(server, "/healthz", timeout=OUTAGE_TIMEOUT)
    assert_unavailable(health)
    assert (health.json()["database"], health.json()["storage"]) == ("ok", "unavailable")
    # The refused upload left nothing behind.
    assert list((server.instance_dir / "resources" / "incoming").iterdir()) == []
    # An image can still be deleted: its rows go now, its file once the store is back.
    deleted = server.request("DELETE", doomed["image_url"], timeout=OUTAGE_TIMEOUT)
    assert deleted.json() == {"message": "Image deleted", "id": doomed["id"]}
    # Metadata lives in the database and is still served.
    listed = get(server, f"{API}/images")
    assert (listed.status, [item["name"] for item in listed.json()["images"]]) == (200, ["before.png"])
    assert get(server, doomed["file_url"], timeout=OUTAGE_TIMEOUT).status == 404

    proxy.start()
    assert wait_for(lambda: get(server, "/healthz").status == 200, seconds=RECOVERY_SECONDS)
    for _ in range(4):
        assert get(server, image["file_url"]).body == data
    later = image_bytes(color=(2, 2, 2))
    created = upload(server, later, "during.png")
    assert created.status == 201, created
    assert get(server, created.json()["file_url"]).body == later
    # The deleted image's file outlived the outage as an orphan, which check --repair removes.
    assert f"images/{doomed['sha256']}" in object_keys(s3, bucket)
    repaired = run_cli(server, "check", "--repair", "--no-verify")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"orphan row: blob {doomed['sha256']}" in repaired.stdout
    assert object_keys(s3, bucket) == {f"images/{image['sha256']}", f"images/{created.json()['sha256']}"}
    assert_log_is_clean(server)


def test_an_exhausted_connection_pool_is_a_json_503_and_requests_succeed_once_connections_return(servers):
    # Threads outnumber the pool (SQLite's holds 4 x the pool size): four uploads
    # whose bodies have not arrived hold every connection of the worker.
    server = servers({"GUNICORN_THREADS": "6", "FALCON_IMG_DATABASE_POOL_SIZE": "1"}, workers=1)
    spool_dir = server.instance_dir / "resources" / "incoming"
    slow_clients = []
    try:
        for _ in range(4):
            boundary = uuid.uuid4().hex
            preamble = (
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n\r\n"
            ).encode()
            head = (
                f"POST {API}/images HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(preamble) + 1_000_000}\r\n\r\n"
            ).encode()
            client = socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT)
            slow_clients.append(client)
            client.sendall(head + preamble + b"\x89PNG\r\n\x1a\n" + bytes(64 * 1024))
        # Each upload is past the middleware (holding its connection) once its spool file exists.
        assert wait_for(lambda: len(list(spool_dir.glob("upload-*"))) == 4)

        assert_unavailable(get(server, f"{API}/images"))
    finally:
        for client in slow_clients:
            client.close()

    assert wait_for(lambda: not list(spool_dir.glob("upload-*")))
    listed = get(server, f"{API}/images")
    assert (listed.status, listed.json()["images"]) == (200, [])
    assert_log_is_clean(server)


# -- 5. nothing connects before the fork -------------------------------------------

@needs_postgres
def test_database_connections_belong_to_workers_and_never_to_the_master(postgres_database, servers):
    import psycopg2

    server = servers({"DATABASE_URL": postgres_database}, workers=4, init_db_args=("--drop", "--yes"))
    image = upload(server, image_bytes(color=(7, 7, 7)), "forked.png").json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: get(server, image["image_url"]).status, range(48)))
    assert answers == [200] * 48
    # Which worker accepts a connection is up to the kernel; to be sure several hold
    # a database connection at once, keep three of them inside a request: a comment
    # whose body has not all arrived yet (its connection is taken before the body is read).
    held = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(
            f"POST {image['comm_url']} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        held.append(sock)
    time.sleep(1.0)

    database_name = urlsplit(postgres_database).path.lstrip("/")
    with psycopg2.connect(POSTGRES_URL, connect_timeout=10) as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT client_port FROM pg_stat_activity WHERE datname = %s AND client_port IS NOT NULL",
            (database_name,),
        )
        client_ports = [port for (port,) in cursor.fetchall()]
    admin.close()
    assert client_ports, "the workers hold no connection to the database"

    master, workers = server.pid, server.worker_pids()
    owners = {port: owner_of_local_port(port, [master, *workers]) for port in client_ports}
    assert master not in owners.values(), owners
    assert set(owners.values()) <= set(workers), owners
    assert len(set(owners.values())) >= 2, owners
    _, database_port = postgres_address(postgres_database)
    assert tcp_peers_of(master, database_port) == [], "the master holds a connection to the database"
    for sock in held:
        sock.close()
    assert_log_is_clean(server)


def tcp_sockets() -> list[tuple[int, int, int]]:
    """(local port, remote port, inode) of every TCP socket of this network namespace."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            found.append((local_port, remote_port, int(fields[9])))
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def owner_of_local_port(port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the TCP socket whose local end is ``port``."""
    inodes = {inode for local, _, inode in tcp_sockets() if local == port and inode}
    for pid in pids:
        if inodes & socket_inodes(pid):
            return pid
    return None


def tcp_peers_of(pid: int, remote_port: int) -> list[int]:
    """Inodes of ``pid``'s TCP sockets connected to ``remote_port``."""
    mine = socket_inodes(pid)
    return [inode for _, remote, inode in tcp_sockets() if remote == remote_port and inode in mine]
