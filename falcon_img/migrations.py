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
  3. SQLite only: image and comment ids are AUTOINCREMENT, never reused.
  4. image.comments_count, kept by comment writes instead of counted on reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from .db import database, is_sqlite, write_transaction
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


def _v3_ids_never_reused(migrator: SchemaMigrator) -> None:
    """Rebuild SQLite's image and comment tables with AUTOINCREMENT ids (SQLite
    cannot alter a column in place); PostgreSQL's sequences never reused ids."""
    if not is_sqlite():
        return
    for table in ("image", "comment"):
        (create_sql,) = database.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        index_sqls = [
            sql for (sql,) in database.execute_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
            )
        ]
        primary_key = '"id" INTEGER NOT NULL PRIMARY KEY'
        if primary_key not in create_sql or "AUTOINCREMENT" in create_sql:
            raise SchemaError(f"unexpected definition of table {table}: {create_sql}")
        rebuilt = create_sql.replace(primary_key, primary_key + " AUTOINCREMENT", 1).replace(
            f'CREATE TABLE "{table}"', f'CREATE TABLE "{table}_rebuilt"', 1
        )
        database.execute_sql(rebuilt)
        database.execute_sql(f'INSERT INTO "{table}_rebuilt" SELECT * FROM "{table}"')
        database.execute_sql(f'DROP TABLE "{table}"')
        database.execute_sql(f'ALTER TABLE "{table}_rebuilt" RENAME TO "{table}"')
        for sql in index_sqls:
            database.execute_sql(sql)


def _v4_stored_comment_counts(migrator: SchemaMigrator) -> None:
    migrate(migrator.add_column("image", "comments_count", peewee.IntegerField(default=0)))
    database.execute_sql(
        "UPDATE image SET comments_count = (SELECT COUNT(*) FROM comment WHERE comment.image_id = image.id)"
    )


#: The step that brings a database to each version from the one before.
STEPS: dict[int, Callable[[SchemaMigrator], None]] = {
    2: _v2_variants_and_token_indexes,
    3: _v3_ids_never_reused,
    4: _v4_stored_comment_counts,
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
    if not is_sqlite():
        return _upgrade()
    # Rebuilding a table must not cascade into the rows that reference it.
    # SQLite ignores this pragma inside a transaction, so it is set around it.
    database.pragma("foreign_keys", 0)
    try:
        result = _upgrade()
        broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise SchemaError(f"the upgrade left {len(broken)} rows with broken references")
        return result
    finally:
        database.pragma("foreign_keys", 1)


def _upgrade() -> tuple[int | None, int]:
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
