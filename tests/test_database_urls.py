"""DATABASE_URL as users write it: SQLite paths, PostgreSQL, and Heroku's postgres://."""

from __future__ import annotations

import os

import falcon.testing
import pytest
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.db import DatabaseURLError, open_database

from support import image_bytes, upload

POSTGRES_URL = os.environ.get("FALCON_IMG_TEST_DATABASE_URL", "")


def test_sqlite_urls_are_pooled_and_make_their_folder(tmp_path):
    database = open_database("sqlite:///" + str(tmp_path / "deep" / "er" / "images.sqlite"))
    assert isinstance(database, PooledSqliteDatabase)
    assert (tmp_path / "deep" / "er").is_dir()
    assert database.database == str(tmp_path / "deep" / "er" / "images.sqlite")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_are_pooled_with_the_password_decoded(scheme):
    database = open_database(f"{scheme}://someone:p%40ss%2Fword@db.example.com:6543/images", pool_size=3)
    assert isinstance(database, PooledPostgresqlDatabase)
    params = database.connect_params
    assert (params["user"], params["password"], params["host"], params["port"]) == (
        "someone", "p@ss/word", "db.example.com", 6543,
    )
    assert database.database == "images"
    assert database._max_connections == 3


def test_options_in_the_url_win_over_the_defaults():
    database = open_database("postgres://u@h/d?connect_timeout=2&sslmode=require", statement_timeout=20)
    assert database.connect_params["connect_timeout"] == 2
    assert database.connect_params["sslmode"] == "require"
    assert database.connect_params["options"] == "-c statement_timeout=20000"
    assert database.connect_params["keepalives"] == 1


def test_other_schemes_are_refused():
    with pytest.raises(DatabaseURLError):
        open_database("mysql://u@h/d")


@pytest.mark.skipif(not POSTGRES_URL, reason="FALCON_IMG_TEST_DATABASE_URL is not set")
def test_a_heroku_style_postgres_url_serves_the_api(tmp_path):
    heroku_url = "postgres://" + POSTGRES_URL.split("://", 1)[1]
    app = create_app({"env": "testing", "instance_dir": tmp_path / "instance", "database_url": heroku_url})
    with db.connection():
        models.drop_tables()
        models.create_tables()
    client = falcon.testing.TestClient(app)
    created = upload(client, image_bytes(), "heroku.png")
    assert created.status_code == 201, created.text
    assert client.simulate_get(created.json["image_url"]).json["name"] == "heroku.png"
    db.database.close_all()
