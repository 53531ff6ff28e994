"""Schema upgrades: a database made by an older version is carried forward in place."""

from __future__ import annotations

import datetime
import hashlib
import io

import falcon.testing
import peewee
import PIL.Image
import pytest

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.cli import cli
from falcon_img.migrations import SchemaError, schema_version, upgrade_schema
from falcon_img.storage import LocalStorage

from support import image_bytes, upload


# -- the schema exactly as version 1 created it ---------------------------

class V1Model(peewee.Model):
    class Meta:
        legacy_table_names = False


class V1SchemaVersion(V1Model):
    version = peewee.IntegerField()

    class Meta:
        table_name = "schema_version"


class V1Blob(V1Model):
    sha256 = peewee.FixedCharField(max_length=64, primary_key=True)
    content_type = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField()
    width = peewee.IntegerField()
    height = peewee.IntegerField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "blob"


class V1Image(V1Model):
    id = peewee.BigAutoField()
    name = peewee.CharField(max_length=255, unique=True)
    blob = peewee.ForeignKeyField(V1Blob, column_name="sha256", on_delete="RESTRICT", index=True)
    created_at = peewee.DateTimeField()
    edit_token_hash = peewee.CharField(max_length=64, null=True)

    class Meta:
        table_name = "image"


class V1Comment(V1Model):
    id = peewee.BigAutoField()
    image = peewee.ForeignKeyField(V1Image, on_delete="CASCADE", index=False)
    text = peewee.TextField()
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()
    edit_token_hash = peewee.CharField(max_length=64, null=True)

    class Meta:
        table_name = "comment"
        indexes = ((("image", "id"), False),)


V1_MODELS = [V1SchemaVersion, V1Blob, V1Image, V1Comment]
CREATED = datetime.datetime(2018, 1, 1, 12, 30, 0)


@pytest.fixture
def version_1_database(app, blobs_dir):
    """A database at schema version 1 with two images and three comments, blobs on disk."""
    storage = LocalStorage(blobs_dir)
    with db.connection():
        models.drop_tables()
        with db.database.bind_ctx(V1_MODELS):
            db.database.create_tables(V1_MODELS)
            V1SchemaVersion.create(version=1)
            for number, name in enumerate(["cat1.jpg", "cat2.png"], start=1):
                data = image_bytes("PNG", (40 + number, 30), color=(number * 40, 10, 10))
                sha = hashlib.sha256(data).hexdigest()
                source = blobs_dir.parent / f"seed-{number}"
                source.parent.mkdir(parents=True, exist_ok=True)
                source.write_bytes(data)
                storage.put(sha, source)
                V1Blob.create(sha256=sha, content_type="image/png", size=len(data), width=40 + number, height=30,
                              created_at=CREATED)
                V1Image.create(name=name, blob=sha, created_at=CREATED,
                               edit_token_hash=models.hash_token(f"token-of-image-{number}"))
            for text in ("first", "second", "third"):
                V1Comment.create(image=1, text=text, created_at=CREATED, updated_at=CREATED,
                                 edit_token_hash=models.hash_token(f"token-of-{text}"))
        assert schema_version() == 1
    return storage


def test_init_db_upgrades_a_version_1_database_without_losing_rows(version_1_database, runner, settings, client):
    result = runner.invoke(cli, ["init-db"], obj=settings)
    assert result.exit_code == 0, result.output
    assert f"upgraded from schema 1 to {models.SCHEMA_VERSION}" in result.output
    with db.connection():
        assert schema_version() == models.SCHEMA_VERSION

    listed = client.simulate_get("/api/v1.0/images").json["images"]
    assert [(i["id"], i["name"], i["comments_count"]) for i in listed] == [(1, "cat1.jpg", 3), (2, "cat2.png", 0)]
    assert listed[0]["created_at"] == "2018-01-01T12:30:00Z"
    assert listed[0]["time"] == "2018-01-01 12:30:00"
    comments = client.simulate_get("/api/v1.0/images/1/comments").json["comments"]
    assert [c["text"] for c in comments] == ["first", "second", "third"]
    download = client.simulate_get("/api/v1.0/file/cat1.jpg")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == listed[0]["sha256"]


def test_what_version_2_added_works_on_an_upgraded_database(version_1_database, runner, settings, client):
    assert runner.invoke(cli, ["init-db"], obj=settings).exit_code == 0
    # Variants (a table new in version 2).
    big = io.BytesIO()
    PIL.Image.new("RGB", (800, 600), (1, 2, 3)).save(big, "JPEG")
    assert upload(client, big.getvalue(), "big.jpg").status_code == 201
    assert client.simulate_get("/api/v1.0/file/big.jpg", params={"w": "160"}).status_code == 200
    # Edit tokens made before the upgrade still work (looked up through the new index).
    settings_with_keys = settings.replace(api_keys=("the-key",))
    guarded = falcon.testing.TestClient(create_app(settings_with_keys))
    answer = guarded.simulate_put(
        "/api/v1.0/comments/2", json={"text": "edited"}, headers={"Authorization": "Bearer token-of-second"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json["text"] == "edited"


def test_upgrading_twice_changes_nothing(version_1_database, runner, settings):
    assert runner.invoke(cli, ["init-db"], obj=settings).exit_code == 0
    again = runner.invoke(cli, ["init-db"], obj=settings)
    assert again.exit_code == 0
    assert "upgraded" not in again.output
    with db.connection():
        assert models.Image.select().count() == 2
        assert models.Comment.select().count() == 3


def test_a_database_newer_than_the_code_is_refused(app, runner, settings):
    with db.connection():
        models.SchemaVersion.update(version=models.SCHEMA_VERSION + 1).execute()
    result = runner.invoke(cli, ["init-db"], obj=settings)
    assert result.exit_code != 0
    assert "newer than this code" in result.output


def test_an_empty_database_is_created_at_the_current_version(app):
    with db.connection():
        models.drop_tables()
        assert schema_version() is None
        assert upgrade_schema() == (None, models.SCHEMA_VERSION)
        assert schema_version() == models.SCHEMA_VERSION


def test_tables_that_are_not_ours_are_refused(app):
    with db.connection():
        models.drop_tables()
        db.database.execute_sql("CREATE TABLE image (id INTEGER PRIMARY KEY, name TEXT)")
        with pytest.raises(SchemaError):
            upgrade_schema()
        db.database.execute_sql("DROP TABLE image")


def test_ids_are_never_reused_after_an_upgrade(version_1_database, runner, settings, client):
    assert runner.invoke(cli, ["init-db"], obj=settings).exit_code == 0
    newest = upload(client, image_bytes(color=(7, 7, 7)), "newest.png").json
    assert client.simulate_delete(newest["image_url"]).status_code == 200
    again = upload(client, image_bytes(color=(8, 8, 8)), "again.png").json
    assert again["id"] > newest["id"]
    comment = client.simulate_post("/api/v1.0/images/1/comments", json={"text": "last"}).json
    assert client.simulate_delete(comment["comm_url"]).status_code == 200
    next_comment = client.simulate_post("/api/v1.0/images/1/comments", json={"text": "next"}).json
    assert next_comment["id"] > comment["id"]
    # The rebuilt tables kept their rows, references and constraints.
    assert client.simulate_get("/api/v1.0/images/1").json["comments_count"] == 4
    assert upload(client, image_bytes(color=(9, 9, 9)), "cat1.jpg").status_code == 409
    assert client.simulate_delete("/api/v1.0/images/1").status_code == 200
    with db.connection():
        assert models.Comment.select().where(models.Comment.image == 1).count() == 0
