"""GET /healthz: 200 when the database and the storage answer, else 503 (API.md, "Endpoints")."""

from __future__ import annotations

import falcon.testing
import pytest

from falcon_img import db
from falcon_img.app import create_app
from falcon_img.models import Image

from support import client_for, files_under, image_bytes, upload

CLOSED_PORT_DATABASE = "postgresql://postgres@127.0.0.1:1/test"


@pytest.fixture
def unwritable_storage_client(settings, tmp_path):
    """A client whose storage folder would have to live inside a regular file."""
    regular_file = tmp_path / "not-a-directory"
    regular_file.write_bytes(b"just a file")
    yield client_for(settings.replace(storage_url="file://" + str(regular_file / "images")))
    db.database.close_all()


@pytest.fixture
def unreachable_database_client(tmp_path):
    application = create_app({
        "env": "testing", "instance_dir": tmp_path / "instance", "database_url": CLOSED_PORT_DATABASE,
    })
    yield falcon.testing.TestClient(application)
    db.database.close_all()


def test_health_is_ok_when_database_and_storage_answer(client):
    result = client.simulate_get("/healthz")

    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["status"] == "ok"
    assert result.json["database"] == "ok"
    assert result.json["storage"] == "ok"
    assert "no-store" in result.headers["cache-control"]


def test_repeated_health_checks_give_their_connection_back(client):
    """More checks than the pool has connections: each returns what it borrowed."""
    for _ in range(40):
        assert client.simulate_get("/healthz").status_code == 200


def test_health_is_503_json_when_the_storage_cannot_be_written(unwritable_storage_client):
    result = unwritable_storage_client.simulate_get("/healthz")

    assert result.status_code == 503
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["status"] != "ok"
    assert result.json["storage"] != "ok"
    assert result.json["database"] == "ok"
    assert "storage" in result.json["message"]
    assert "retry-after" in result.headers


def test_health_is_503_json_when_the_database_is_unreachable(unreachable_database_client):
    result = unreachable_database_client.simulate_get("/healthz")

    assert result.status_code == 503
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["status"] != "ok"
    assert result.json["database"] != "ok"
    assert result.json["storage"] == "ok"
    assert "database" in result.json["message"]
    assert "Traceback" not in result.text


def test_health_stays_503_while_the_database_stays_unreachable(unreachable_database_client):
    for _ in range(3):
        assert unreachable_database_client.simulate_get("/healthz").status_code == 503


def test_an_upload_while_the_storage_is_down_is_503_and_leaves_no_row(unwritable_storage_client, settings):
    result = upload(unwritable_storage_client, image_bytes(), "cat.png")

    assert result.status_code == 503, result.text
    assert result.json["message"]
    with db.connection():
        assert Image.select().count() == 0
    assert files_under(settings.spool_dir) == set()
    assert unwritable_storage_client.simulate_get("/api/v1.0/images").json["images"] == []
