"""Shared fixtures: a temp instance per test, on SQLite and (when configured) PostgreSQL.

Set FALCON_IMG_TEST_DATABASE_URL=postgresql://... to run every database test
against PostgreSQL as well; each test then starts from empty tables.
"""

from __future__ import annotations

import os
from pathlib import Path

import falcon.testing
import pytest
from click.testing import CliRunner

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.settings import Settings

from support import image_bytes, upload

POSTGRES_URL = os.environ.get("FALCON_IMG_TEST_DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "instance" / "resources" / "db" / "images.sqlite")
    return POSTGRES_URL


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings.load(
        overrides={"env": "testing", "instance_dir": tmp_path / "instance", "database_url": database_url},
    )


@pytest.fixture
def app(settings):
    application = create_app(settings)
    with db.connection():
        models.drop_tables()
        models.create_tables()
    yield application
    db.database.close_all()


@pytest.fixture
def client(app) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def blobs_dir(settings) -> Path:
    return settings.resources_dir / "images"


@pytest.fixture
def image(client) -> dict:
    """One uploaded image's 201 representation."""
    result = upload(client, image_bytes(), "cat.png")
    assert result.status_code == 201, result.text
    return result.json
