"""Settings: one frozen value that says how an app instance is wired.

Layers, each overriding the one before: defaults in code, then
``config/<env>.toml``, then environment variables, then explicit overrides
(what ``create_app()`` is given). Reading the environment is the caller's
choice: ``Settings.load(environ=os.environ)`` is done by the entry points
(``wsgi.py`` and the CLI) only, so tests build apps from plain mappings.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Variables read from the environment under a name other than FALCON_IMG_<FIELD>.
ENVIRONMENT_NAMES = {"database_url": "DATABASE_URL"}

PROJECT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

#: The smallest value a numeric setting can take and still work (a cap of 0 refuses everything).
MINIMUMS = {
    "max_upload_bytes": 1, "max_pixels": 1, "max_name_bytes": 1, "database_pool_size": 1,
    "file_cache_seconds": 0, "trusted_proxy_count": 0, "body_timeout_seconds": 1,
}


#: The image formats uploads may have (Pillow's names).
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    instance_dir: Path = Path("instance")
    #: Empty means the embedded default: SQLite under the instance dir.
    database_url: str = ""
    #: Empty means the embedded default: files under the instance dir.
    storage_url: str = ""
    max_upload_bytes: int = 16 * 1024 * 1024
    max_pixels: int = 50_000_000
    accepted_formats: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP")
    max_name_bytes: int = 255
    #: Connections each worker process keeps to PostgreSQL.
    database_pool_size: int = 8
    #: Seconds one SQL statement may run in the web app (PostgreSQL), 0 for no limit.
    database_statement_timeout: int = 20
    #: Seconds a browser or proxy may reuse a downloaded file without asking again.
    file_cache_seconds: int = 3600
    api_keys: tuple[str, ...] = ()
    anonymous_posts: bool = False
    keep_metadata: bool = False
    cors_origins: tuple[str, ...] = ()
    rate_limit: str = ""
    upload_rate_limit: str = ""
    rate_limit_storage: str = "memory://"
    trusted_proxy_count: int = 0
    #: Seconds a client has to send a request body; keep it below the worker timeout.
    body_timeout_seconds: int = 20
    variant_widths: tuple[int, ...] = (160, 320, 640, 1280)
    s3_endpoint_url: str = ""
    extra: Mapping[str, typing.Any] = field(default_factory=dict)

    # -- derived values -------------------------------------------------

    @property
    def resources_dir(self) -> Path:
        return Path(self.instance_dir).resolve() / "resources"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(self.resources_dir / "db" / "images.sqlite")

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return "file://" + str(self.resources_dir / "images")

    @property
    def spool_dir(self) -> Path:
        """Where uploads are written while they are read and checked."""
        return self.resources_dir / "incoming"

    @property
    def import_dir(self) -> Path:
        """The folder ``init-db`` imports from when given no ``-p``."""
        return self.resources_dir / "tmp_img"

    # -- building -------------------------------------------------------

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, typing.Any] | None = None,
        environ: Mapping[str, str] | None = None,
        config_dir: Path | None = None,
    ) -> Settings:
        """Defaults, then config/<env>.toml, then ``environ``, then ``overrides``."""
        overrides = dict(overrides or {})
        environ = environ or {}
        from_env = _read_environ(environ)
        env = overrides.get("env") or from_env.get("env") or cls.env
        values: dict[str, typing.Any] = {}
        values.update(_read_toml(config_dir, env))
        values.update(from_env)
        values.update(overrides)
        values["env"] = env
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, typing.Any]) -> Settings:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(unknown)}")
        hints = typing.get_type_hints(cls)
        converted = {name: _convert(name, hints[name], value) for name, value in values.items()}
        for name, minimum in MINIMUMS.items():
            if name in converted and converted[name] < minimum:
                raise SettingsError(f"setting {name!r} must be at least {minimum}, not {converted[name]!r}")
        if "accepted_formats" in converted:
            formats = tuple(fmt.upper() for fmt in converted["accepted_formats"])
            unknown_formats = sorted(set(formats) - IMAGE_FORMATS)
            if unknown_formats or not formats:
                raise SettingsError(
                    f"accepted_formats must be some of {', '.join(sorted(IMAGE_FORMATS))}, not {formats!r}"
                )
            converted["accepted_formats"] = formats
        return cls(**converted)

    def replace(self, **changes: typing.Any) -> Settings:
        return self.from_mapping({**dataclasses.asdict(self), **changes})


def _read_environ(environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for f in dataclasses.fields(Settings):
        if f.name == "extra":
            continue
        name = ENVIRONMENT_NAMES.get(f.name, "FALCON_IMG_" + f.name.upper())
        if name in environ:
            values[f.name] = environ[name]
    return values


def _read_toml(config_dir: Path | None, env: str) -> dict[str, typing.Any]:
    if not env.replace("-", "").replace("_", "").isalnum():
        raise SettingsError(f"FALCON_IMG_ENV must be a plain name, not {env!r}")
    for directory in [config_dir] if config_dir else [Path.cwd() / "config", PROJECT_CONFIG_DIR]:
        path = Path(directory) / f"{env}.toml"
        if path.is_file():
            with path.open("rb") as fh:
                return tomllib.load(fh)
    return {}


def _convert(name: str, hint: typing.Any, value: typing.Any) -> typing.Any:
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if hint is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if hint is Path:
            return Path(value)
        if origin is tuple:
            (item_type, _) = typing.get_args(hint)
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            return tuple(item_type(item) for item in value)
        if hint is str:
            return str(value)
        return value
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r} has an unusable value {value!r}") from exc
