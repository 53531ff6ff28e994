"""Schema versions, and the steps that carry an older database forward in place.

The ``schema_version`` table holds the version a database is at. ``init-db``
calls ``upgrade_schema()``: an empty database gets every table at the current
version; an older one runs each step after its version, in one transaction,
so a failed upgrade leaves the database as it was. Each step is written
against the tables as they were at its version and never changes once
released: a new schema change is a new step.

Versions:
  1. blob, image, comment, schema_version.
  2. variant (sized variants); indexes on edit_token_hash (edit-token lookups).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from .db import database, write_transaction
from .models import SCHEMA_VERSION, SchemaVersion, create_tables

log = logging.getLogger(__name__)


class SchemaError(RuntimeError):
    """The database's schema cannot be used or upgraded by this code."""


def _v2_variants_and_token_indexes(migrator: SchemaMigrator) -> None:
    # The variant table as version 2 defines it (not the live model, which may move on).
    class Variant(peewee.Model):
        sha256 = peewee.FixedCharField(max_length=64)
        label = peewee.CharField(max_length=32)
        content_type = peewee.CharField(max_length=64)
        size = peewee.BigIntegerField(null=True)
        width = peewee.IntegerField(null=True)
        height = peewee.IntegerField(null=True)
        ready = peewee.BooleanField(default=False)
        claimed_at = peewee.DateTimeField()

        class Meta:
            table_name = "variant"
            primary_key = peewee.CompositeKey("sha256", "label")
            constraints = [peewee.SQL("FOREIGN KEY (sha256) REFERENCES blob (sha256) ON DELETE CASCADE")]

    with database.bind_ctx([Variant]):
        database.create_tables([Variant], safe=True)
    migrate(
        migrator.add_index("image", ("edit_token_hash",), False),
        migrator.add_index("comment", ("edit_token_hash",), False),
    )


#: The step that brings a database to each version from the one before.
STEPS: dict[int, Callable[[SchemaMigrator], None]] = {
    2: _v2_variants_and_token_indexes,
}


def schema_version() -> int | None:
    """The version the connected database is at; None when it has no tables yet."""
    tables = set(database.get_tables())
    if "schema_version" in tables:
        row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
        return int(row) if row is not None else 1
    if "image" in tables:
        raise SchemaError("the database has an image table but no schema_version: not a falcon-img database")
    return None


def upgrade_schema() -> tuple[int | None, int]:
    """Create or upgrade the schema to SCHEMA_VERSION; ``(version before, version after)``."""
    with write_transaction():
        before = schema_version()
        if before is None:
            create_tables()
            return None, SCHEMA_VERSION
        if before > SCHEMA_VERSION:
            raise SchemaError(
                f"the database is at schema version {before}, newer than this code's {SCHEMA_VERSION}: "
                "upgrade falcon-img"
            )
        migrator = SchemaMigrator.from_database(database.obj)
        for target in range(before + 1, SCHEMA_VERSION + 1):
            log.info("upgrading the schema from version %d to %d", target - 1, target)
            STEPS[target](migrator)
            SchemaVersion.update(version=target).execute()
        return before, SCHEMA_VERSION
