"""The Storage contract, held by every store: a local folder and an S3 bucket.

Each contract test runs against LocalStorage in a temp folder and against
S3Storage talking HTTP to moto's S3 server on 127.0.0.1 (a fresh bucket per
test). The S3-only tests pin down how objects are named in the bucket, and
one API test runs an upload, downloads and a delete through the app on S3.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import falcon.testing
import pytest

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.s3storage import S3Storage
from falcon_img.storage import LocalStorage, StorageError, StorageURLError, open_storage

from s3server import CLEARED_ENVIRONMENT, TEST_ENVIRONMENT, S3Server, closed_port
from support import image_bytes, upload

PREFIX = "images"
BIG_FILE_BYTES = 20 * 1024 * 1024
CHUNK = 1024 * 1024


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def aws_environment(monkeypatch):
    for name in CLEARED_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3(s3_server, aws_environment):
    """The running server, emptied after the test."""
    yield s3_server
    s3_server.reset()


@pytest.fixture
def bucket(s3) -> str:
    return s3.new_bucket()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "blobs")
    server = request.getfixturevalue("s3")
    return S3Storage(request.getfixturevalue("bucket"), PREFIX, endpoint_url=server.endpoint_url)


def stored_file(tmp_path: Path, data: bytes) -> tuple[str, Path]:
    """``(sha256 key, path)`` of a new file holding ``data``."""
    key = hashlib.sha256(data).hexdigest()
    path = tmp_path / f"source-{key[:12]}-{len(data)}"
    path.write_bytes(data)
    return key, path


def read_all(stream, piece: int = 64 * 1024) -> bytes:
    """Read the way a WSGI server copies a body out: in pieces until b''."""
    chunks = []
    try:
        while chunk := stream.read(piece):
            chunks.append(chunk)
    finally:
        stream.close()
    return b"".join(chunks)


SAMPLE = bytes(range(256)) * 40 + b"the end"


# -- the contract -------------------------------------------------------------

def test_put_then_exists_size_and_open_give_the_same_bytes(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)

    store.put(key, source)

    assert store.exists(key)
    assert store.size(key) == len(SAMPLE)
    assert read_all(store.open(key)) == SAMPLE
    assert source.read_bytes() == SAMPLE, "put leaves the source file in place"


def test_putting_the_same_key_twice_keeps_one_intact_copy(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)

    store.put(key, source)
    store.put(key, source)

    assert read_all(store.open(key)) == SAMPLE
    assert list(store.keys()) == [key]


@pytest.mark.parametrize(
    ("start", "length"),
    [(0, 1), (0, 100), (300, 1000), (len(SAMPLE) - 7, 7), (len(SAMPLE) - 1, 1), (0, len(SAMPLE))],
    ids=["first-byte", "head", "middle", "tail", "last-byte", "whole"],
)
def test_open_with_start_and_length_reads_exactly_that_window(store, tmp_path, start, length):
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)

    assert read_all(store.open(key, start, length)) == SAMPLE[start : start + length]


def test_open_with_a_start_alone_reads_to_the_end(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)

    assert read_all(store.open(key, 1000)) == SAMPLE[1000:]


def test_a_window_can_be_read_in_small_pieces(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)

    assert read_all(store.open(key, 10, 5000), piece=7) == SAMPLE[10:5010]


def test_a_missing_key_does_not_exist_and_cannot_be_opened_or_sized(store):
    missing = "0" * 64

    assert not store.exists(missing)
    with pytest.raises(FileNotFoundError):
        store.size(missing)
    with pytest.raises(FileNotFoundError):
        store.open(missing)
    with pytest.raises(FileNotFoundError):
        store.open(missing, 10, 20)


def test_delete_removes_the_key_and_its_derived_files_but_nothing_else(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)
    other, other_source = stored_file(tmp_path, b"another image")
    _, variant_source = stored_file(tmp_path, b"a smaller variant")
    for name, path in [(key, source), (f"{key}/w320.webp", variant_source), (f"{key}/w640.webp", variant_source),
                       (other, other_source), (f"{other}/w320.webp", variant_source)]:
        store.put(name, path)

    store.delete(key)

    assert not store.exists(key)
    assert not store.exists(f"{key}/w320.webp")
    assert sorted(store.keys()) == sorted([other, f"{other}/w320.webp"])
    assert read_all(store.open(other)) == b"another image"


def test_deleting_a_derived_file_leaves_its_blob(store, tmp_path):
    key, source = stored_file(tmp_path, SAMPLE)
    _, variant_source = stored_file(tmp_path, b"a smaller variant")
    store.put(key, source)
    store.put(f"{key}/w320.webp", variant_source)

    store.delete(f"{key}/w320.webp")

    assert list(store.keys()) == [key]


def test_deleting_a_missing_key_is_fine(store):
    store.delete("0" * 64)
    store.delete("0" * 64 + "/w320.webp")

    assert list(store.keys()) == []


def test_keys_lists_every_stored_key_including_derived_files(store, tmp_path):
    first, first_source = stored_file(tmp_path, b"first")
    second, second_source = stored_file(tmp_path, b"second")
    _, variant_source = stored_file(tmp_path, b"variant")
    store.put(first, first_source)
    store.put(second, second_source)
    store.put(f"{first}/w160.webp", variant_source)

    assert sorted(store.keys()) == sorted([first, second, f"{first}/w160.webp"])


def test_put_refuses_names_that_are_not_storage_keys(store, tmp_path):
    _, source = stored_file(tmp_path, SAMPLE)

    for bad in ["../etc/passwd", "ABC", "0" * 64 + "/../x", ""]:
        with pytest.raises(ValueError):
            store.put(bad, source)


def test_a_large_file_round_trips_intact(store, tmp_path, request):
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(BIG_FILE_BYTES // CHUNK):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            out.write(chunk)
    key = digest.hexdigest()

    store.put(key, source)

    assert store.size(key) == BIG_FILE_BYTES
    stream = store.open(key)
    read_back = hashlib.sha256()
    try:
        while chunk := stream.read(CHUNK):
            read_back.update(chunk)
    finally:
        stream.close()
    assert read_back.hexdigest() == key
    tail = read_all(store.open(key, BIG_FILE_BYTES - 10, 10))
    with source.open("rb") as original:
        original.seek(BIG_FILE_BYTES - 10)
        assert tail == original.read()
    if isinstance(store, S3Storage):
        etag = request.getfixturevalue("s3").client().head_object(Bucket=store.bucket, Key=f"{PREFIX}/{key}")["ETag"]
        # A multipart object's ETag ends in "-<number of parts>": 20 MB in 8 MB parts.
        assert re.fullmatch(r'"[0-9a-f]{32}-3"', etag), etag


def test_check_passes_on_a_healthy_store(store):
    store.check()


def test_a_new_store_has_no_stale_temp_files(store):
    store.check()

    assert store.stale_temp_files() == []


# -- broken stores --------------------------------------------------------------

def test_local_check_fails_when_the_folder_cannot_be_made(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")

    with pytest.raises(StorageError):
        LocalStorage(blocker / "blobs").check()


def test_s3_check_fails_when_the_endpoint_refuses_connections(aws_environment):
    store = S3Storage("images", PREFIX, endpoint_url=f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(StorageError):
        store.check()


def test_s3_check_fails_when_the_bucket_does_not_exist(s3):
    store = S3Storage("no-such-bucket", PREFIX, endpoint_url=s3.endpoint_url)

    with pytest.raises(StorageError):
        store.check()


def test_s3_reads_and_writes_fail_as_storage_errors_when_the_endpoint_is_down(aws_environment, tmp_path):
    store = S3Storage("images", PREFIX, endpoint_url=f"http://127.0.0.1:{closed_port()}")
    key, source = stored_file(tmp_path, SAMPLE)

    for attempt in [
        lambda: store.put(key, source),
        lambda: store.exists(key),
        lambda: store.size(key),
        lambda: store.open(key, 0, 10),
        lambda: store.delete(key),
        lambda: list(store.keys()),
    ]:
        with pytest.raises(StorageError):
            attempt()


def test_s3_put_into_a_missing_bucket_is_a_storage_error(s3, tmp_path):
    store = S3Storage("no-such-bucket", PREFIX, endpoint_url=s3.endpoint_url)
    key, source = stored_file(tmp_path, SAMPLE)

    with pytest.raises(StorageError):
        store.put(key, source)


# -- how S3 objects are named ---------------------------------------------------

def test_s3_objects_are_named_prefix_slash_key(s3, bucket, tmp_path):
    store = S3Storage(bucket, PREFIX, endpoint_url=s3.endpoint_url)
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)
    store.put(f"{key}/w320.webp", source)

    listed = s3.client().list_objects_v2(Bucket=bucket)["Contents"]

    assert sorted(entry["Key"] for entry in listed) == [f"{PREFIX}/{key}", f"{PREFIX}/{key}/w320.webp"]


def test_s3_without_a_prefix_names_objects_by_key_alone(s3, bucket, tmp_path):
    store = S3Storage(bucket, "", endpoint_url=s3.endpoint_url)
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)
    store.check()

    listed = s3.client().list_objects_v2(Bucket=bucket)["Contents"]

    assert [entry["Key"] for entry in listed] == [key]
    assert list(store.keys()) == [key]


def test_s3_keys_ignores_other_objects_in_the_bucket(s3, bucket, tmp_path):
    store = S3Storage(bucket, PREFIX, endpoint_url=s3.endpoint_url)
    key, source = stored_file(tmp_path, SAMPLE)
    store.put(key, source)
    raw = s3.client()
    raw.put_object(Bucket=bucket, Key="elsewhere/" + key, Body=b"x")
    raw.put_object(Bucket=bucket, Key=f"{PREFIX}/notes.txt", Body=b"x")

    assert list(store.keys()) == [key]


def test_open_storage_reads_bucket_and_prefix_from_an_s3_url(aws_environment):
    store = open_storage("s3://media-bucket//falcon/images/", None)

    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.endpoint_url) == ("media-bucket", "falcon/images", None)


def test_open_storage_takes_the_s3_endpoint_from_settings(aws_environment, tmp_path):
    from falcon_img.settings import Settings

    settings = Settings.load(overrides={"instance_dir": tmp_path, "s3_endpoint_url": "http://127.0.0.1:9000"})
    store = open_storage("s3://media-bucket", settings)

    assert (store.bucket, store.prefix, store.endpoint_url) == ("media-bucket", "", "http://127.0.0.1:9000")


def test_an_s3_url_without_a_bucket_is_refused(aws_environment):
    with pytest.raises(StorageURLError):
        open_storage("s3:///images", None)


# -- the API on S3 ----------------------------------------------------------------

def test_the_api_stores_serves_and_deletes_images_in_an_s3_bucket(s3, bucket, tmp_path, database_url):
    app = create_app({
        "env": "testing",
        "instance_dir": tmp_path / "instance",
        "database_url": database_url,
        "storage_url": f"s3://{bucket}/{PREFIX}",
        "s3_endpoint_url": s3.endpoint_url,
    })
    with db.connection():
        models.drop_tables()
        models.create_tables()
    try:
        client = falcon.testing.TestClient(app)
        data = image_bytes("PNG", size=(400, 300), color=(10, 120, 200))
        created = upload(client, data, "sky.png")
        assert created.status_code == 201, created.text
        image = created.json
        object_name = f"{PREFIX}/{image['sha256']}"
        raw = s3.client()
        assert raw.head_object(Bucket=bucket, Key=object_name)["ContentLength"] == len(data)

        whole = client.simulate_get(image["file_url"])
        assert whole.status_code == 200
        assert whole.content == data
        assert whole.headers["content-length"] == str(len(data))

        window = client.simulate_get(image["file_url"], headers={"Range": "bytes=10-49"})
        assert window.status_code == 206
        assert window.content == data[10:50]
        assert window.headers["content-range"] == f"bytes 10-49/{len(data)}"

        tail = client.simulate_get(image["file_url"], headers={"Range": "bytes=-16"})
        assert tail.status_code == 206
        assert tail.content == data[-16:]

        variant = client.simulate_get(image["file_url"], params={"w": "160"})
        assert variant.status_code == 200, variant.text
        assert variant.content != data
        variants = raw.list_objects_v2(Bucket=bucket, Prefix=object_name + "/")["Contents"]
        assert len(variants) == 1 and variants[0]["Size"] == len(variant.content)

        health = client.simulate_get("/healthz")
        assert health.status_code == 200, health.text
        assert health.json["storage"] == "ok"

        deleted = client.simulate_delete(
            f"/api/v1.0/images/{image['id']}", headers={"Authorization": f"Bearer {image['edit_token']}"}
        )
        assert deleted.status_code == 200, deleted.text
        assert "Contents" not in raw.list_objects_v2(Bucket=bucket, Prefix=object_name), "blob and variant are gone"
        assert client.simulate_get(image["file_url"]).status_code == 404
    finally:
        db.database.close_all()
