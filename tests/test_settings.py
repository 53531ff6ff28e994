"""Settings: defaults < config/<env>.toml < environment < overrides, and create_app(mapping)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import falcon.testing
import pytest

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.settings import Settings, SettingsError

from support import blob_path, image_bytes, upload


def write_config(directory: Path, env: str, text: str) -> Path:
    path = directory / f"{env}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def app_from_mapping(tmp_path):
    """``app_from_mapping(overrides)``: a TestClient for create_app(overrides), on fresh tables."""
    def build(overrides: dict) -> falcon.testing.TestClient:
        application = create_app(overrides)
        with db.connection():
            models.drop_tables()
            models.create_tables()
        return falcon.testing.TestClient(application)
    yield build
    db.database.close_all()


def test_create_app_uses_a_mapping_of_overrides(app_from_mapping, tmp_path):
    instance = tmp_path / "elsewhere"
    small, large = image_bytes(size=(8, 8)), image_bytes(size=(300, 300), color=(1, 2, 3))
    client = app_from_mapping({
        "env": "testing",
        "instance_dir": instance,
        "max_upload_bytes": len(small),
        "file_cache_seconds": 42,
    })

    created = upload(client, small, "small.png")
    assert created.status_code == 201, created.text
    assert blob_path(instance.resolve() / "resources" / "images", created.json["sha256"]).read_bytes() == small
    assert (instance / "resources" / "db" / "images.sqlite").is_file()
    assert client.simulate_get(created.json["file_url"]).headers["cache-control"] == "public, max-age=42"
    assert upload(client, large, "large.png").status_code == 413


def test_create_app_accepts_a_settings_value(app_from_mapping, tmp_path):
    settings = Settings.load(overrides={"env": "testing", "instance_dir": tmp_path / "i", "max_pixels": 10})
    client = falcon.testing.TestClient(create_app(settings))
    with db.connection():
        models.create_tables()
    assert upload(client, image_bytes(size=(8, 8)), "big.png").status_code == 413
    db.database.close_all()


def test_create_app_rejects_an_unusable_mapping(tmp_path):
    with pytest.raises(SettingsError):
        create_app({"instance_dir": tmp_path, "max_upload_bytes": "sixteen megabytes"})
    with pytest.raises(SettingsError):
        create_app({"instance_dir": tmp_path, "no_such_setting": 1})


def test_code_defaults_apply_when_nothing_else_is_given(tmp_path):
    settings = Settings.load(config_dir=tmp_path)

    assert settings.env == "development"
    assert settings.max_upload_bytes == 16 * 1024 * 1024
    assert settings.max_pixels == 50_000_000
    assert settings.accepted_formats == ("JPEG", "PNG", "GIF", "WEBP")
    assert settings.api_keys == ()
    assert settings.resolved_database_url == "sqlite:///" + str(
        Path("instance").resolve() / "resources" / "db" / "images.sqlite"
    )
    assert settings.resolved_storage_url == "file://" + str(Path("instance").resolve() / "resources" / "images")


def test_each_layer_overrides_the_one_before(tmp_path):
    write_config(tmp_path, "staging", """
max_pixels = 1000
max_upload_bytes = 2000
file_cache_seconds = 10
variant_widths = [100, 200]
""")
    environ = {
        "FALCON_IMG_ENV": "staging",
        "FALCON_IMG_MAX_UPLOAD_BYTES": "3000",
        "FALCON_IMG_FILE_CACHE_SECONDS": "20",
        "UNRELATED_VARIABLE": "ignored",
    }

    settings = Settings.load(overrides={"file_cache_seconds": 30}, environ=environ, config_dir=tmp_path)

    assert settings.env == "staging"
    assert settings.max_pixels == 1000  # from the file
    assert settings.max_upload_bytes == 3000  # the environment beats the file
    assert settings.file_cache_seconds == 30  # overrides beat the environment
    assert settings.variant_widths == (100, 200)
    assert settings.database_pool_size == Settings.database_pool_size  # nobody set it: the code default


def test_the_environment_picks_the_config_file_and_overrides_pick_over_it(tmp_path):
    write_config(tmp_path, "one", "max_pixels = 111\n")
    write_config(tmp_path, "two", "max_pixels = 222\n")

    assert Settings.load(environ={"FALCON_IMG_ENV": "one"}, config_dir=tmp_path).max_pixels == 111
    chosen = Settings.load(overrides={"env": "two"}, environ={"FALCON_IMG_ENV": "one"}, config_dir=tmp_path)
    assert (chosen.env, chosen.max_pixels) == ("two", 222)


def test_an_env_without_a_config_file_uses_the_defaults(tmp_path):
    settings = Settings.load(environ={"FALCON_IMG_ENV": "nowhere"}, config_dir=tmp_path)
    assert settings.env == "nowhere"
    assert settings.max_pixels == 50_000_000


def test_database_url_is_read_from_DATABASE_URL(tmp_path):
    url = "postgresql://user:p%40ss@db.example:5432/images"
    settings = Settings.load(environ={"DATABASE_URL": url}, config_dir=tmp_path)

    assert settings.database_url == url
    assert settings.resolved_database_url == url


def test_environment_values_are_converted_to_their_types(tmp_path):
    settings = Settings.load(
        environ={
            "FALCON_IMG_INSTANCE_DIR": str(tmp_path / "inst"),
            "FALCON_IMG_MAX_PIXELS": "1234",
            "FALCON_IMG_API_KEYS": " key-one, key-two,,",
            "FALCON_IMG_ANONYMOUS_POSTS": "true",
            "FALCON_IMG_KEEP_METADATA": "0",
            "FALCON_IMG_VARIANT_WIDTHS": "100, 300",
            "FALCON_IMG_STORAGE_URL": "file:///srv/images",
        },
        config_dir=tmp_path,
    )

    assert settings.instance_dir == tmp_path / "inst"
    assert settings.max_pixels == 1234
    assert settings.api_keys == ("key-one", "key-two")
    assert settings.anonymous_posts is True
    assert settings.keep_metadata is False
    assert settings.variant_widths == (100, 300)
    assert settings.resolved_storage_url == "file:///srv/images"
    assert settings.spool_dir == (tmp_path / "inst").resolve() / "resources" / "incoming"


def test_settings_are_frozen(tmp_path):
    settings = Settings.load(config_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_pixels = 1  # type: ignore[misc]
    assert settings.replace(max_pixels=5).max_pixels == 5
    assert settings.max_pixels == 50_000_000


@pytest.mark.parametrize(
    ("environ", "overrides"),
    [
        pytest.param({"FALCON_IMG_MAX_UPLOAD_BYTES": "lots"}, {}, id="int-from-env"),
        pytest.param({"FALCON_IMG_ANONYMOUS_POSTS": "maybe"}, {}, id="bool-from-env"),
        pytest.param({"FALCON_IMG_VARIANT_WIDTHS": "160,big"}, {}, id="tuple-item-from-env"),
        pytest.param({"FALCON_IMG_ENV": "../etc"}, {}, id="env-with-a-path"),
        pytest.param({}, {"max_pixels": True}, id="bool-as-int"),
        pytest.param({}, {"max_pixels": "1.5"}, id="fraction"),
        pytest.param({}, {"no_such_setting": 1}, id="unknown-name"),
        pytest.param({}, {"max_upload_bytes": 0}, id="zero-upload-cap"),
        pytest.param({}, {"max_upload_bytes": -1}, id="negative-upload-cap"),
        pytest.param({}, {"max_pixels": 0}, id="zero-pixel-cap"),
        pytest.param({}, {"database_pool_size": 0}, id="empty-pool"),
        pytest.param({}, {"file_cache_seconds": -5}, id="negative-cache-time"),
    ],
)
def test_unusable_values_raise_settings_error(tmp_path, environ, overrides):
    with pytest.raises(SettingsError):
        Settings.load(overrides=overrides, environ=environ, config_dir=tmp_path)


def test_an_unusable_value_in_a_config_file_raises_settings_error(tmp_path):
    write_config(tmp_path, "broken", 'max_pixels = "many"\n')
    with pytest.raises(SettingsError):
        Settings.load(overrides={"env": "broken"}, config_dir=tmp_path)
    write_config(tmp_path, "typo", "max_pixel = 5\n")
    with pytest.raises(SettingsError):
        Settings.load(overrides={"env": "typo"}, config_dir=tmp_path)


@pytest.mark.parametrize("formats", ["JPEG,MPO", "BMP", "", "jpeg,tiff"])
def test_accepted_formats_must_be_formats_the_service_knows(formats):
    with pytest.raises(SettingsError):
        Settings.from_mapping({"accepted_formats": formats})


def test_accepted_formats_are_read_case_insensitively():
    assert Settings.from_mapping({"accepted_formats": "jpeg, png"}).accepted_formats == ("JPEG", "PNG")
