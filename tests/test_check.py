"""`falcon-img check [--repair]`: the database and the storage agree, or a person hears of it."""

from __future__ import annotations

import os
import time

from falcon_img import db
from falcon_img.cli import cli
from falcon_img.models import Blob, Image, Variant
from falcon_img.storage import LocalStorage

from support import blob_path, image_bytes, upload


def check(runner, settings, *args):
    return runner.invoke(cli, ["check", *args], obj=settings)


def test_a_consistent_collection_passes(client, runner, settings):
    assert upload(client, image_bytes(), "a.png").status_code == 201
    assert client.simulate_get("/api/v1.0/file/a.png").status_code == 200
    result = check(runner, settings)
    assert result.exit_code == 0, result.output
    assert "0 problem(s) found" in result.output


def test_a_missing_file_is_reported_and_cannot_be_repaired(client, runner, settings, blobs_dir):
    image = upload(client, image_bytes(), "a.png").json
    blob_path(blobs_dir, image["sha256"]).unlink()
    result = check(runner, settings, "--repair")
    assert result.exit_code == 1
    assert f"missing file: image {image['id']} ('a.png')" in result.output
    with db.connection():
        assert Image.select().count() == 1


def test_a_damaged_file_is_reported(client, runner, settings, blobs_dir):
    image = upload(client, image_bytes(), "a.png").json
    path = blob_path(blobs_dir, image["sha256"])
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    result = check(runner, settings)
    assert result.exit_code == 1
    assert f"damaged file: blob {image['sha256']}" in result.output
    assert check(runner, settings, "--no-verify").exit_code == 0


def test_orphans_and_stale_temp_files_are_repaired(client, runner, settings, blobs_dir):
    kept = upload(client, image_bytes(color=(1, 2, 3)), "kept.png").json
    # A file no row knows (as a crash between storing and committing leaves).
    orphan = "ab" * 32
    source = settings.spool_dir / "orphan-source"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"not referenced")
    LocalStorage(blobs_dir).put(orphan, source)
    source.unlink()
    # A blob row no image uses.
    with db.connection():
        Blob.create(sha256="cd" * 32, content_type="image/png", size=1, width=1, height=1)
    # A ready variant whose file is gone.
    assert client.simulate_get("/api/v1.0/file/kept.png").status_code == 200
    big = upload(client, image_bytes("JPEG", (800, 600)), "big.jpg").json
    assert client.simulate_get("/api/v1.0/file/big.jpg", params={"w": "160"}).status_code == 200
    variant_file = blob_path(blobs_dir, big["sha256"]).with_name(big["sha256"] + ".d") / "w160.jpg"
    variant_file.unlink()
    # Temp files a killed upload left.
    stale_spool = settings.spool_dir / "upload-killed.part"
    stale_spool.write_bytes(b"half")
    stale_store = blobs_dir / ".tmp" / "killed.part"
    stale_store.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale_spool, (old, old))
    os.utime(stale_store, (old, old))
    fresh_spool = settings.spool_dir / "upload-in-progress.part"
    fresh_spool.write_bytes(b"still being written")

    found = check(runner, settings)
    assert found.exit_code == 1
    for expected in (f"orphan file: {orphan}", f"orphan row: blob {'cd' * 32}",
                     f"missing variant: {big['sha256']}/w160.jpg", "stale temporary file"):
        assert expected in found.output
    assert "upload-in-progress" not in found.output

    repaired = check(runner, settings, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "5 repaired, 0 remaining" in repaired.output
    assert not blob_path(blobs_dir, orphan).exists()
    assert not stale_spool.exists() and not stale_store.exists()
    assert fresh_spool.exists()
    with db.connection():
        assert not Blob.select().where(Blob.sha256 == "cd" * 32).exists()
        assert Variant.select().count() == 0
    # What is in use is untouched, and a removed variant is made again on demand.
    assert client.simulate_get(kept["file_url"]).status_code == 200
    assert client.simulate_get("/api/v1.0/file/big.jpg", params={"w": "160"}).status_code == 200
    assert variant_file.exists()
    assert check(runner, settings).exit_code == 0


def test_temp_age_zero_counts_every_temp_file(client, runner, settings):
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    (settings.spool_dir / "upload-x.part").write_bytes(b"x")
    assert check(runner, settings).exit_code == 0
    result = check(runner, settings, "--repair", "--temp-age", "0")
    assert result.exit_code == 0
    assert not (settings.spool_dir / "upload-x.part").exists()


def test_a_drifted_comment_count_is_reported_and_recounted(client, runner, settings, image):
    for text in ("a", "b"):
        assert client.simulate_post(image["comm_url"], json={"text": text}).status_code == 201
    with db.connection():
        Image.update(comments_count=7).where(Image.id == image["id"]).execute()
    found = check(runner, settings, "--no-verify")
    assert found.exit_code == 1
    assert f"wrong comment count: image {image['id']} says 7, has 2" in found.output
    assert check(runner, settings, "--no-verify", "--repair").exit_code == 0
    assert client.simulate_get(image["image_url"]).json["comments_count"] == 2
