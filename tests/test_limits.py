"""Rate limits (API.md, error table and "Precise points"): per client, per upload, shared by workers.

The in-process tests use the `memory://` counters, which each app builds
afresh. The end-to-end test runs real Gunicorn with four workers counting
in the Redis this machine runs; it talks from a loopback address of its own,
so its budget is not shared with anyone else's test.
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import threading
import time
import uuid

import pytest
import redis

from falcon_img import db
from falcon_img.app import create_app
from falcon_img.models import Image
from falcon_img.settings import SettingsError

from servers import GunicornServer
from support import client_for, image_bytes, upload

API = "/api/v1.0"
REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
def client_with(settings):
    yield lambda **changes: client_for(settings.replace(**changes))
    db.database.close_all()


def assert_too_many(result, limit: int) -> None:
    assert result.status_code == 429, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert "limit" in result.json["message"]
    assert int(result.headers["retry-after"]) >= 1
    assert result.headers["ratelimit-limit"] == str(limit)
    assert result.headers["ratelimit-remaining"] == "0"
    assert 0 <= int(result.headers["ratelimit-reset"]) <= 60


def image_count() -> int:
    with db.connection():
        return Image.select().count()


# -- the general budget ------------------------------------------------------

def test_the_request_over_the_limit_is_429_with_retry_after_and_ratelimit_headers(client_with):
    client = client_with(rate_limit="5/minute")

    for sent in range(1, 6):
        result = client.simulate_get(f"{API}/images")
        assert result.status_code == 200, result.text
        assert result.headers["ratelimit-limit"] == "5"
        assert result.headers["ratelimit-remaining"] == str(5 - sent)
        assert 0 <= int(result.headers["ratelimit-reset"]) <= 60

    assert_too_many(client.simulate_get(f"{API}/images"), 5)
    # Every route counts against the same budget.
    assert_too_many(client.simulate_get(f"{API}/images/1"), 5)
    assert_too_many(client.simulate_get(f"{API}/no/such/route"), 5)


def test_a_refused_write_changes_nothing(client_with, settings):
    client = client_with(rate_limit="1/minute")
    assert client.simulate_get(f"{API}/images").status_code == 200

    assert_too_many(upload(client, image_bytes(), "late.png"), 1)
    assert image_count() == 0


def test_no_limit_is_set_by_default(client):
    for _ in range(30):
        result = client.simulate_get(f"{API}/images")
        assert result.status_code == 200
    assert "ratelimit-limit" not in result.headers


def test_healthz_is_never_limited(client_with):
    client = client_with(rate_limit="1/minute")

    for _ in range(5):
        assert client.simulate_get("/healthz").status_code == 200
    assert client.simulate_get(f"{API}/images").status_code == 200
    assert client.simulate_get(f"{API}/images").status_code == 429
    assert client.simulate_get("/healthz").status_code == 200


def test_the_pages_files_are_never_limited_but_pages_and_the_api_are(client_with):
    client = client_with(rate_limit="2/minute")
    page = client.simulate_get("/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"?]+)', page.text)
    assert assets
    for _ in range(3):
        for asset in assets:
            assert client.simulate_get(asset).status_code == 200
    assert client.simulate_get(f"{API}/images").status_code == 200
    assert client.simulate_get(f"{API}/images").status_code == 429
    assert client.simulate_get("/").status_code == 429


def test_each_client_address_has_its_own_budget(client_with):
    client = client_with(rate_limit="2/minute")

    for _ in range(2):
        assert client.simulate_get(f"{API}/images", remote_addr="192.0.2.1").status_code == 200
    assert client.simulate_get(f"{API}/images", remote_addr="192.0.2.1").status_code == 429
    assert client.simulate_get(f"{API}/images", remote_addr="192.0.2.2").status_code == 200


def test_an_unreadable_limit_is_refused_at_start(settings):
    with pytest.raises(SettingsError):
        create_app(settings.replace(rate_limit="lots/often"))


# -- the upload budget -----------------------------------------------------

def test_uploads_have_a_separate_stricter_budget(client_with):
    client = client_with(rate_limit="100/minute", upload_rate_limit="2/minute")

    for n in range(2):
        created = upload(client, image_bytes(color=(n, 0, 0)), f"u{n}.png")
        assert created.status_code == 201, created.text
        # The tighter budget is the one announced.
        assert created.headers["ratelimit-limit"] == "2"
        assert created.headers["ratelimit-remaining"] == str(1 - n)

    assert_too_many(upload(client, image_bytes(color=(9, 0, 0)), "u9.png"), 2)
    assert image_count() == 2
    # Everything else still has room in the general budget.
    listed = client.simulate_get(f"{API}/images")
    assert listed.status_code == 200
    assert listed.headers["ratelimit-limit"] == "100"
    image_id = listed.json["images"][0]["id"]
    assert client.simulate_post(f"{API}/images/{image_id}/comments", json={"text": "still ok"}).status_code == 201


def test_the_upload_budget_alone_limits_only_uploads(client_with):
    client = client_with(upload_rate_limit="1/minute")

    assert upload(client, image_bytes(), "first.png").status_code == 201
    assert_too_many(upload(client, image_bytes(color=(1, 2, 3)), "second.png"), 1)
    for _ in range(5):
        assert client.simulate_get(f"{API}/images").status_code == 200


# -- X-Forwarded-For ---------------------------------------------------------

def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(client_with):
    client = client_with(rate_limit="3/minute")

    for n in range(3):
        headers = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert client.simulate_get(f"{API}/images", headers=headers, remote_addr="192.0.2.9").status_code == 200
    refused = client.simulate_get(
        f"{API}/images", headers={"X-Forwarded-For": "198.51.100.77"}, remote_addr="192.0.2.9",
    )
    assert refused.status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(client_with):
    client = client_with(rate_limit="2/minute", trusted_proxy_count=1)
    proxy = "10.0.0.1"

    def through_proxy(client_address: str):
        return client.simulate_get(f"{API}/images", headers={"X-Forwarded-For": client_address}, remote_addr=proxy)

    assert [through_proxy("198.51.100.1").status_code for _ in range(3)] == [200, 200, 429]
    assert [through_proxy("198.51.100.2").status_code for _ in range(3)] == [200, 200, 429]


def test_a_spoofed_leftmost_hop_does_not_escape_the_limit(client_with):
    client = client_with(rate_limit="2/minute", trusted_proxy_count=1)

    statuses = [
        client.simulate_get(
            f"{API}/images",
            # The client wrote the first hop; the trusted proxy appended the address it saw.
            headers={"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.5"},
            remote_addr="10.0.0.1",
        ).status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def test_two_trusted_proxies_use_the_second_hop_from_the_right(client_with):
    client = client_with(rate_limit="1/minute", trusted_proxy_count=2)

    def request(forwarded: str):
        return client.simulate_get(f"{API}/images", headers={"X-Forwarded-For": forwarded}, remote_addr="10.0.0.2")

    assert request("evil, 198.51.100.7, 10.0.0.1").status_code == 200
    assert request("other-evil, 198.51.100.7, 10.0.0.1").status_code == 429
    assert request("198.51.100.8, 10.0.0.1").status_code == 200


def test_with_a_trusted_proxy_a_request_without_the_header_counts_against_the_peer(client_with):
    client = client_with(rate_limit="1/minute", trusted_proxy_count=1)

    assert client.simulate_get(f"{API}/images", remote_addr="10.0.0.3").status_code == 200
    assert client.simulate_get(f"{API}/images", remote_addr="10.0.0.3").status_code == 429
    empty = client.simulate_get(f"{API}/images", headers={"X-Forwarded-For": ""}, remote_addr="10.0.0.3")
    assert empty.status_code == 429


# -- when the counters are out of reach --------------------------------------

def test_requests_are_served_when_the_counter_store_is_down(client_with, caplog):
    client = client_with(rate_limit="1/minute", rate_limit_storage="redis://127.0.0.1:1")

    with caplog.at_level(logging.ERROR, logger="falcon_img"):
        for _ in range(3):
            result = client.simulate_get(f"{API}/images")
            assert result.status_code == 200, result.text
        created = upload(client, image_bytes(), "while-redis-is-down.png")
    assert created.status_code == 201, created.text
    assert any("rate limit storage unavailable" in r.getMessage() for r in caplog.records)


@pytest.fixture
def silent_store():
    """A TCP port that accepts connections and never answers: a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}"


def test_requests_are_served_when_the_counter_store_hangs(client_with, silent_store, caplog):
    client = client_with(rate_limit="1/minute", upload_rate_limit="1/minute", rate_limit_storage=silent_store)
    answers = []

    def use_the_api():
        answers.extend(client.simulate_get(f"{API}/images").status_code for _ in range(2))
        answers.append(upload(client, image_bytes(), "while-redis-hangs.png").status_code)

    with caplog.at_level(logging.ERROR, logger="falcon_img"):
        worker = threading.Thread(target=use_the_api, daemon=True)
        worker.start()
        # A liveness bound, not a timing assertion: a hung store must not hang requests.
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert answers == [200, 200, 201]
    assert any("rate limit storage unavailable" in r.getMessage() for r in caplog.records)


# -- shared by every worker: real Gunicorn and Redis --------------------------

def own_loopback_address() -> str:
    """A loopback address no other test uses: its rate-limit counters are this test's alone."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def forget_counters(address: str) -> None:
    """Delete this test's counters (and only them) from the shared Redis."""
    store = redis.Redis.from_url(REDIS_URL)
    try:
        for key in store.scan_iter(match=f"LIMITS:LIMITER/*/{address}/*"):
            store.delete(key)
    finally:
        store.close()


def redis_answers() -> bool:
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(store.ping())
    except redis.RedisError:
        return False
    finally:
        store.close()


@pytest.fixture
def limited_server(tmp_path):
    # CI starts Redis (.ci/run); a laptop without one skips, saying why.
    if not redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}: counters shared by workers need one")
    with GunicornServer.in_folder(
        tmp_path, workers=4, FALCON_IMG_RATE_LIMIT="20/minute", FALCON_IMG_RATE_LIMIT_STORAGE=REDIS_URL,
    ) as server:
        yield server


def send_in_rounds(server: GunicornServer, address: str, request_ids: list[str], per_round: int) -> list[int]:
    """GET the image list once per request id, each on a fresh connection from ``address``.

    In each round every connection first sends its request without the blank
    line that ends it, so a sync worker that took one is held by it and the
    others must be taken by other workers; then all requests are finished.
    """
    statuses = []
    for start in range(0, len(request_ids), per_round):
        socks = []
        for request_id in request_ids[start:start + per_round]:
            sock = socket.create_connection((server.host, server.port), timeout=30, source_address=(address, 0))
            sock.sendall(f"GET {API}/images HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: {request_id}\r\n".encode())
            socks.append(sock)
        # Idle workers take the waiting connections now (a bounded pause, not an assertion).
        time.sleep(0.2)
        for sock in socks:
            sock.sendall(b"\r\n")
        for sock in socks:
            with sock:
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            statuses.append(int(answer.split(b" ", 2)[1]))
    return statuses


def access_log_lines(server: GunicornServer, request_ids: list[str]) -> list[dict]:
    """The JSON access lines of these requests, once all are written (each comes after its response)."""
    for _ in range(50):
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("request_id") in request_ids]
        if len(mine) == len(request_ids):
            break
        time.sleep(0.1)
    return mine


@pytest.mark.e2e
def test_the_limit_is_shared_by_all_workers(limited_server):
    address = own_loopback_address()
    forget_counters(address)
    request_ids = [f"limits-{uuid.uuid4().hex}" for _ in range(30)]

    try:
        statuses = send_in_rounds(limited_server, address, request_ids, per_round=limited_server.workers)
    finally:
        forget_counters(address)

    assert sorted(set(statuses)) == [200, 429], statuses
    assert statuses.count(200) == 20
    assert statuses.count(429) == 10
    # Several workers answered, and each counted in the one shared budget.
    lines = access_log_lines(limited_server, request_ids)
    assert len(lines) == 30
    assert len({line["pid"] for line in lines}) >= 2, lines
    assert sum(line["status"] == 200 for line in lines) == 20
    assert "Traceback" not in limited_server.log()
