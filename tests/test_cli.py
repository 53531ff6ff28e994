"""`falcon-img init-db`: tables, the folder importer, --drop, through click's CliRunner.

Every command gets the test's Settings as its context object, so nothing is
read from the environment. Imported images are then read back through the
HTTP API, because that is what an import is for.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from falcon_img import db, models
from falcon_img.app import open_services
from falcon_img.cli import cli
from falcon_img.models import Blob, Comment, Image

from support import blob_path, image_bytes, upload


@pytest.fixture
def empty_database(settings):
    """No tables at all: what a fresh deployment sees (PostgreSQL is shared between tests)."""
    open_services(settings)
    with db.connection():
        models.drop_tables()
    yield
    db.database.close_all()


@pytest.fixture
def import_dir(tmp_path) -> Path:
    folder = tmp_path / "to-import"
    folder.mkdir()
    return folder


def init_db(runner, settings, *args, **kwargs):
    return runner.invoke(cli, ["init-db", *args], obj=settings, **kwargs)


def table_names() -> set[str]:
    with db.connection() as database:
        return set(database.get_tables())


def image_rows() -> dict[str, str]:
    """Every image's name and the sha256 of its blob."""
    with db.connection():
        return {image.name: image.blob_id for image in Image.select()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def truncated_jpeg() -> bytes:
    whole = image_bytes("JPEG", size=(120, 90), color=(10, 120, 200))
    return whole[: len(whole) // 2]


# -- creating tables ---------------------------------------------------------

def test_init_db_creates_the_tables_and_is_safe_to_run_twice(runner, settings, empty_database):
    assert not {"image", "comment", "blob"} & table_names()

    first = init_db(runner, settings)
    second = init_db(runner, settings)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Database ready" in first.stdout
    assert {"schema_version", "blob", "image", "comment", "variant"} <= table_names()
    with db.connection():
        assert models.SchemaVersion.select().count() == 1


def test_init_db_keeps_existing_images(runner, settings, client):
    uploaded = upload(client, image_bytes(), "kept.png")
    assert uploaded.status_code == 201

    result = init_db(runner, settings)

    assert result.exit_code == 0, result.output
    assert set(image_rows()) == {"kept.png"}


# -- importing a folder ------------------------------------------------------

def test_import_reports_imported_skipped_and_rejected_files(runner, settings, client, import_dir, blobs_dir):
    jpeg = image_bytes("JPEG", size=(80, 60), color=(250, 200, 0))
    png = image_bytes("PNG", size=(32, 32), color=(0, 90, 30))
    (import_dir / "sunset.jpg").write_bytes(jpeg)
    (import_dir / "leaf.png").write_bytes(png)
    # Same bytes under another name: a second image sharing one stored blob.
    (import_dir / "leaf-copy.png").write_bytes(png)
    # The name exists already (uploaded before the import): skipped, the existing image untouched.
    existing = upload(client, image_bytes(color=(1, 2, 3)), "taken.png").json
    (import_dir / "taken.png").write_bytes(image_bytes(color=(4, 5, 6)))
    (import_dir / "notes.txt").write_text("not an image\n")
    (import_dir / "broken.jpg").write_bytes(truncated_jpeg())
    # Hidden files are not candidates at all.
    (import_dir / ".DS_Store").write_bytes(b"\0\1\2")

    result = init_db(runner, settings, "-p", str(import_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Imported 3, skipped 1, rejected 2."
    assert "rejected notes.txt:" in result.stderr
    assert "rejected broken.jpg:" in result.stderr
    assert "not a complete image" in result.stderr

    rows = image_rows()
    assert set(rows) == {"sunset.jpg", "leaf.png", "leaf-copy.png", "taken.png"}
    assert rows["sunset.jpg"] == sha256(jpeg)
    assert rows["leaf.png"] == rows["leaf-copy.png"] == sha256(png)
    assert rows["taken.png"] == existing["sha256"]
    for digest in {sha256(jpeg), sha256(png)}:
        assert blob_path(blobs_dir, digest).is_file()
    assert blob_path(blobs_dir, sha256(png)).read_bytes() == png
    with db.connection():
        assert Blob.select().count() == 3

    listed = client.simulate_get("/api/v1.0/images")
    assert listed.status_code == 200
    by_name = {image["name"]: image for image in listed.json["images"]}
    assert set(by_name) == set(rows)
    assert by_name["sunset.jpg"]["content_type"] == "image/jpeg"
    assert (by_name["sunset.jpg"]["width"], by_name["sunset.jpg"]["height"]) == (80, 60)
    assert by_name["leaf.png"]["content_type"] == "image/png"
    downloaded = client.simulate_get(by_name["sunset.jpg"]["file_url"])
    assert downloaded.status_code == 200
    assert downloaded.content == jpeg


def test_import_skips_a_second_file_whose_name_becomes_the_same(runner, settings, client, import_dir):
    # Names are trimmed like upload names: " moon.png" is stored as "moon.png".
    (import_dir / " moon.png").write_bytes(image_bytes(color=(9, 9, 9)))
    (import_dir / "moon.png").write_bytes(image_bytes(color=(8, 8, 8)))

    result = init_db(runner, settings, "--path", str(import_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Imported 1, skipped 1, rejected 0."
    assert set(image_rows()) == {"moon.png"}


def test_running_the_same_import_twice_skips_everything_the_second_time(
    runner, settings, client, import_dir, blobs_dir,
):
    (import_dir / "one.png").write_bytes(image_bytes(color=(10, 10, 10)))
    (import_dir / "two.jpg").write_bytes(image_bytes("JPEG", color=(20, 20, 20)))

    first = init_db(runner, settings, "-p", str(import_dir))
    rows_after_first = image_rows()
    second = init_db(runner, settings, "-p", str(import_dir))

    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1] == "Imported 2, skipped 0, rejected 0."
    assert second.exit_code == 0, second.output
    assert second.stdout.strip().splitlines()[-1] == "Imported 0, skipped 2, rejected 0."
    assert image_rows() == rows_after_first
    assert all(blob_path(blobs_dir, digest).is_file() for digest in rows_after_first.values())
    listed = client.simulate_get("/api/v1.0/images")
    assert sorted(image["name"] for image in listed.json["images"]) == ["one.png", "two.jpg"]


def test_import_uses_the_instance_tmp_img_folder_when_no_path_is_given(runner, settings, client):
    default_dir = settings.import_dir
    assert default_dir == settings.instance_dir.resolve() / "resources" / "tmp_img"
    default_dir.mkdir(parents=True)
    (default_dir / "cat1.jpg").write_bytes(image_bytes("JPEG", color=(120, 60, 30)))

    result = init_db(runner, settings)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Imported 1, skipped 0, rejected 0."
    listed = client.simulate_get("/api/v1.0/images")
    assert [image["name"] for image in listed.json["images"]] == ["cat1.jpg"]


def test_without_a_path_and_without_the_default_folder_nothing_is_imported(runner, settings, client):
    assert not settings.import_dir.exists()

    result = init_db(runner, settings)

    assert result.exit_code == 0, result.output
    assert "Imported" not in result.output
    assert image_rows() == {}


def test_a_missing_import_folder_is_a_usage_error(runner, settings, empty_database, tmp_path):
    result = init_db(runner, settings, "-p", str(tmp_path / "no-such-folder"))

    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "image" not in table_names()


def test_an_empty_import_folder_imports_nothing(runner, settings, client, import_dir):
    result = init_db(runner, settings, "-p", str(import_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Imported 0, skipped 0, rejected 0."


# -- dropping ----------------------------------------------------------------

@pytest.fixture
def image_with_comment(client, image) -> dict:
    posted = client.simulate_post(f"/api/v1.0/images/{image['id']}/comments", json={"text": "keep me"})
    assert posted.status_code == 201
    return image


@pytest.mark.parametrize("answer", ["n\n", ""], ids=["answered-no", "no-answer"])
def test_drop_asks_first_and_changes_nothing_when_not_confirmed(
    runner, settings, image_with_comment, blobs_dir, answer,
):
    result = init_db(runner, settings, "--drop", input=answer)

    assert result.exit_code == 1
    assert "deletes every image and comment" in result.output
    assert "Aborted" in result.output
    assert set(image_rows()) == {image_with_comment["name"]}
    with db.connection():
        assert Comment.select().count() == 1
    assert blob_path(blobs_dir, image_with_comment["sha256"]).is_file()


def test_drop_when_confirmed_at_the_prompt_empties_the_tables(runner, settings, client, image_with_comment):
    result = init_db(runner, settings, "--drop", input="y\n")

    assert result.exit_code == 0, result.output
    assert image_rows() == {}
    assert client.simulate_get("/api/v1.0/images").json["images"] == []


def test_drop_with_yes_empties_the_tables_without_asking(runner, settings, client, image_with_comment):
    result = init_db(runner, settings, "--drop", "--yes")

    assert result.exit_code == 0, result.output
    assert "Continue?" not in result.output
    assert {"blob", "image", "comment"} <= table_names()
    with db.connection():
        assert Image.select().count() == 0
        assert Comment.select().count() == 0
        assert Blob.select().count() == 0
    listed = client.simulate_get("/api/v1.0/images")
    assert listed.status_code == 200
    assert listed.json["images"] == []


def test_drop_then_import_leaves_only_the_imported_images(runner, settings, client, image, import_dir):
    (import_dir / "fresh.png").write_bytes(image_bytes(color=(33, 66, 99)))

    result = init_db(runner, settings, "--drop", "--yes", "-p", str(import_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Imported 1, skipped 0, rejected 0."
    assert set(image_rows()) == {"fresh.png"}
