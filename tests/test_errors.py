"""Errors: every one is JSON with a message; routing, ids and methods (API.md, "Errors", "Precise points")."""

from __future__ import annotations

import falcon.testing
import pytest

from falcon_img import db
from falcon_img.app import create_app

from support import call_wsgi, image_bytes, multipart

BAD_IDS = ["abc", "-1", "0", "99999999999999999999", "9223372036854775808", "%D9%A3", "%EF%BC%93",
           "%205", "5%20", "5.0", "1_0", "+5", "0x5", "1e3"]


def assert_json_error(result, status: int) -> dict:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert isinstance(body["message"], str) and body["message"].strip()
    assert "Traceback" not in result.text
    return body


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1.0", "/api/v1.0/", "/api/v1.0/imagez", "/api/v2.0/images", "/api/v1.0/images/1/x",
             "/api/v1.0/file", "/api/v1.0/comments"],
)
def test_an_unknown_route_is_404_json(client, path):
    assert_json_error(client.simulate_get(path), 404)
    assert_json_error(client.simulate_post(path, json={}), 404)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", "image/png", "text/plain;q=0.1"])
def test_errors_are_json_whatever_the_client_accepts(client, accept):
    assert_json_error(client.simulate_get("/nope", headers={"Accept": accept}), 404)
    assert_json_error(client.simulate_get("/api/v1.0/images", params={"limit": "0"}, headers={"Accept": accept}), 400)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1.0/images", {"GET", "POST"}),
        ("DELETE", "/api/v1.0/images", {"GET", "POST"}),
        ("PATCH", "/api/v1.0/images", {"GET", "POST"}),
        ("PUT", "/api/v1.0/images/1", {"GET", "DELETE"}),
        ("POST", "/api/v1.0/images/1", {"GET", "DELETE"}),
        ("PUT", "/api/v1.0/images/1/comments", {"GET", "POST"}),
        ("DELETE", "/api/v1.0/images/1/comments", {"GET", "POST"}),
        ("POST", "/api/v1.0/comments/1", {"GET", "PUT", "DELETE"}),
        ("PATCH", "/api/v1.0/comments/1", {"GET", "PUT", "DELETE"}),
        ("POST", "/api/v1.0/file/cat.png", {"GET", "HEAD"}),
        ("DELETE", "/api/v1.0/file/cat.png", {"GET", "HEAD"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_method_the_route_does_not_have_is_405_with_allow(client, method, path, allowed):
    result = client.simulate_request(method, path)

    assert_json_error(result, 405)
    advertised = {name.strip() for name in result.headers["allow"].split(",")}
    assert allowed <= advertised
    assert advertised <= allowed | {"OPTIONS", "HEAD"}


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_an_id_that_is_not_a_positive_ascii_integer_is_404(client, image, bad_id):
    assert_json_error(client.simulate_get(f"/api/v1.0/images/{bad_id}"), 404)
    assert_json_error(client.simulate_delete(f"/api/v1.0/images/{bad_id}"), 404)
    assert_json_error(client.simulate_get(f"/api/v1.0/images/{bad_id}/comments"), 404)
    assert_json_error(client.simulate_post(f"/api/v1.0/images/{bad_id}/comments", json={"text": "x"}), 404)
    assert_json_error(client.simulate_get(f"/api/v1.0/comments/{bad_id}"), 404)
    assert_json_error(client.simulate_put(f"/api/v1.0/comments/{bad_id}", json={"text": "x"}), 404)
    assert_json_error(client.simulate_delete(f"/api/v1.0/comments/{bad_id}"), 404)
    # Nothing was touched by any of them.
    assert client.simulate_get(image["image_url"]).json["comments_count"] == 0


def test_the_largest_possible_id_is_an_ordinary_404(client):
    largest = 2**63 - 1
    assert_json_error(client.simulate_get(f"/api/v1.0/images/{largest}"), 404)
    assert_json_error(client.simulate_get(f"/api/v1.0/comments/{largest}"), 404)
    assert_json_error(client.simulate_get(f"/api/v1.0/images/{largest}/comments"), 404)


def test_ids_with_leading_zeros_name_the_same_resource(client, image):
    """Only ASCII digits form an id; leading zeros are still those digits."""
    result = client.simulate_get(f"/api/v1.0/images/00{image['id']}")
    assert result.status_code == 200
    assert result.json["id"] == image["id"]


def test_a_trailing_slash_names_the_same_resource(client, image):
    assert client.simulate_get(image["image_url"] + "/").json["id"] == image["id"]


def test_a_comment_body_without_content_length_is_411(client, image):
    environ = falcon.testing.create_environ(
        image["comm_url"], method="POST", body=b'{"text": "chunked"}',
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    del environ["CONTENT_LENGTH"]
    assert_json_error(call_wsgi(client.app, environ), 411)
    assert client.simulate_get(image["comm_url"]).json["comments"] == []


def test_a_comment_body_over_its_limit_is_413_before_it_is_read(client, image):
    result = client.simulate_post(
        image["comm_url"], body=b'{"text": "x"}', content_type="application/json",
        headers={"Content-Length": str(64 * 1024 * 1024)},
    )
    assert_json_error(result, 413)


def test_a_multipart_upload_with_too_many_parts_is_400(client):
    body, content_type = multipart({f"extra{i}": "x" for i in range(100)})
    assert_json_error(client.simulate_post("/api/v1.0/images", body=body, content_type=content_type), 400)


@pytest.fixture
def unreachable_database(tmp_path):
    """An app whose database is a PostgreSQL port where nothing listens."""
    application = create_app({
        "env": "testing",
        "instance_dir": tmp_path / "instance",
        "database_url": "postgresql://postgres@127.0.0.1:1/test",
    })
    yield falcon.testing.TestClient(application)
    db.database.close_all()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1.0/images", {}),
        ("GET", "/api/v1.0/images/1", {}),
        ("DELETE", "/api/v1.0/images/1", {}),
        ("GET", "/api/v1.0/images/1/comments", {}),
        ("POST", "/api/v1.0/images/1/comments", {"json": {"text": "hi"}}),
        ("GET", "/api/v1.0/comments/1", {}),
        ("PUT", "/api/v1.0/comments/1", {"json": {"text": "hi"}}),
        ("DELETE", "/api/v1.0/comments/1", {}),
        ("GET", "/api/v1.0/file/cat.png", {}),
        ("POST", "/api/v1.0/images", {}),
    ],
)
def test_an_unreachable_database_is_a_503_json_not_a_500(unreachable_database, method, path, kwargs):
    if path == "/api/v1.0/images" and method == "POST":
        body, content_type = multipart({"file": ("cat.png", image_bytes(), "image/png")})
        kwargs = {"body": body, "content_type": content_type}
    result = unreachable_database.simulate_request(method, path, **kwargs)

    body = assert_json_error(result, 503)
    assert "database" in body["message"].lower()
