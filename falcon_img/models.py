"""Rows: blobs, images and comments, and the queries the API pages through.

A ``Blob`` is stored bytes, named by their sha256; an ``Image`` is a name
pointing at a blob, so identical uploads share one stored file. Pages are
keyset pages (``WHERE id > after ORDER BY id LIMIT n``), which cost the same
at any depth, and each page is one SQL query whatever its size.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

import peewee

from .db import database

#: The schema this code reads and writes; ``init-db`` migrates older ones forward.
SCHEMA_VERSION = 4

#: The largest id any backend can store (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def utcnow() -> datetime.datetime:
    """Now, in UTC, as a naive datetime (how both SQLite and PostgreSQL store it)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def hash_token(token: str) -> str:
    """What is stored of an edit token: tokens are random, so a plain digest is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_edit_token() -> str:
    """A fresh credential for one resource: shown once, stored only as its hash."""
    return secrets.token_urlsafe(24)


class IdField(peewee.BigAutoField):
    """A 64-bit id that is never given out twice.

    PostgreSQL sequences never reuse a number; SQLite's rowid does (the id of a
    deleted newest row comes back), so there the column is AUTOINCREMENT: an old
    link or cached id never names a different image or comment.
    """

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if isinstance(database.obj, peewee.SqliteDatabase):
            return peewee.NodeList((node, peewee.SQL("AUTOINCREMENT")))
        return node


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = peewee.IntegerField()

    class Meta:
        table_name = "schema_version"


class Blob(BaseModel):
    sha256 = peewee.FixedCharField(max_length=64, primary_key=True)
    content_type = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField()
    width = peewee.IntegerField()
    height = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)


class Image(BaseModel):
    id = IdField()
    name = peewee.CharField(max_length=255, unique=True)
    blob = peewee.ForeignKeyField(
        Blob, column_name="sha256", object_id_name="blob_id", backref="images", on_delete="RESTRICT", index=True,
    )
    created_at = peewee.DateTimeField(default=utcnow)
    edit_token_hash = peewee.CharField(max_length=64, null=True, index=True)
    #: Kept in step by every comment write (in its transaction): counting on each
    #: read would cost a page time in proportion to its images' comments.
    comments_count = peewee.IntegerField(default=0)


class Comment(BaseModel):
    id = IdField()
    image = peewee.ForeignKeyField(Image, backref="comments", on_delete="CASCADE", index=False)
    text = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    edit_token_hash = peewee.CharField(max_length=64, null=True, index=True)

    class Meta:
        # Serves both "this image's comments in order" and "how many".
        indexes = ((("image", "id"), False),)


class Variant(BaseModel):
    """A resized copy of a blob, stored under ``<sha256>/<label>``.

    The row is also the claim that makes concurrent first requests produce a
    variant once: whoever inserts it makes the file; others wait for ``ready``.
    """

    blob = peewee.ForeignKeyField(
        Blob, column_name="sha256", object_id_name="blob_id", backref="variants", on_delete="CASCADE",
    )
    label = peewee.CharField(max_length=32)
    content_type = peewee.CharField(max_length=64)
    size = peewee.BigIntegerField(null=True)
    width = peewee.IntegerField(null=True)
    height = peewee.IntegerField(null=True)
    ready = peewee.BooleanField(default=False)
    claimed_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("blob", "label")

    @property
    def key(self) -> str:
        return f"{self.blob_id}/{self.label}"


MODELS = [SchemaVersion, Blob, Image, Comment, Variant]


def create_tables() -> None:
    """Create any missing table (safe to run twice) and record the schema version."""
    with database.atomic():
        database.create_tables(MODELS, safe=True)
        if not SchemaVersion.select().exists():
            SchemaVersion.create(version=SCHEMA_VERSION)


def drop_tables() -> None:
    with database.atomic():
        database.drop_tables(list(reversed(MODELS)), safe=True, cascade=not _is_sqlite())


def _is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


# -- queries ---------------------------------------------------------------
#
# What the API shows is read as plain rows (dicts keyed like the marshmallow
# schemas' attributes), straight from the cursor: building model objects for
# a 100-item page costs more than the query itself.

_IMAGE_COLUMNS = (
    Image.id.alias("id"), Image.name.alias("name"), Image.created_at.alias("created_at"),
    Blob.sha256.alias("sha256"), Blob.content_type.alias("content_type"), Blob.size.alias("size"),
    Blob.width.alias("width"), Blob.height.alias("height"), Image.comments_count.alias("comments_count"),
)
_COMMENT_COLUMNS = (
    Comment.id.alias("id"), Comment.image.alias("image_id"), Comment.text.alias("text"),
    Comment.created_at.alias("created_at"), Comment.updated_at.alias("updated_at"),
)
_TIME_KEYS = ("created_at", "updated_at")


def _rows_of(cursor) -> list[dict]:
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    for row in rows:
        for key in _TIME_KEYS:
            # SQLite hands back the stored text; PostgreSQL a datetime already.
            if isinstance(row.get(key), str):
                row[key] = datetime.datetime.fromisoformat(row[key])
    return rows


class PreparedRows:
    """A read query whose SQL is generated once per kind of database, then reused.

    Peewee builds the SQL text anew for every execution, which costs more than
    running the query on a warm connection. ``build`` is called once with
    placeholder numbers; the SQL it produces is kept, and later calls only
    swap the real arguments into the parameter list.
    """

    _PLACEHOLDER_BASE = 7_000_000_000_000_000_001

    def __init__(self, build) -> None:
        self._build = build
        self._compiled: dict[type, tuple[str, list[tuple[int | None, object]]]] = {}

    def __call__(self, *args: int | str) -> list[dict]:
        compiled = self._compiled.get(type(database.obj))
        if compiled is None:
            compiled = self._compiled[type(database.obj)] = self._compile(len(args))
        sql, slots = compiled
        params = [args[index] if index is not None else constant for index, constant in slots]
        return _rows_of(database.execute_sql(sql, params))

    def _compile(self, arity: int):
        placeholders = [self._PLACEHOLDER_BASE + i for i in range(arity)]
        sql, params = self._build(*placeholders).sql()
        # A text column turns its placeholder into a string: match either form.
        spelled = {value: index for index, number in enumerate(placeholders) for value in (number, str(number))}
        slots = [(spelled.get(p), p) for p in params]
        if sorted(index for index, _ in slots if index is not None) != list(range(arity)):
            raise ValueError("each argument of a prepared query must appear exactly once")
        return sql, slots


def _image_rows():
    return Image.select(*_IMAGE_COLUMNS).join(Blob)


_image_row_query = PreparedRows(lambda image_id: _image_rows().where(Image.id == image_id))
_image_page_query = PreparedRows(
    lambda after, count: _image_rows().where(Image.id > after).order_by(Image.id).limit(count)
)
_comment_page_query = PreparedRows(
    lambda image_id, after, count: Comment.select(*_COMMENT_COLUMNS)
    .where((Comment.image == image_id) & (Comment.id > after))
    .order_by(Comment.id)
    .limit(count)
)


def image_row(image_id: int) -> dict:
    """One image as the API shows it (with its comment count); raises Image.DoesNotExist."""
    rows = _image_row_query(image_id)
    if not rows:
        raise Image.DoesNotExist(f"no image {image_id}")
    return rows[0]


def image_page(after: int, limit: int) -> tuple[list[dict], bool]:
    """Up to ``limit`` image rows with id > ``after`` (one query), and whether more follow."""
    rows = _image_page_query(after, limit + 1)
    return rows[:limit], len(rows) > limit


def comment_row(comment: Comment) -> dict:
    return {
        "id": comment.id, "image_id": comment.image_id, "text": comment.text,
        "created_at": comment.created_at, "updated_at": comment.updated_at,
    }


def comment_page(image_id: int, after: int, limit: int) -> tuple[list[dict], bool]:
    rows = _comment_page_query(image_id, after, limit + 1)
    return rows[:limit], len(rows) > limit


_file_row_query = PreparedRows(
    lambda name: Image.select(*_IMAGE_COLUMNS).join(Blob).where(Image.name == name)
)
_image_exists_query = PreparedRows(lambda image_id: Image.select(Image.id).where(Image.id == image_id))


def file_row(name: str) -> dict | None:
    """The image named ``name`` with its blob's facts (what a download needs), or None."""
    rows = _file_row_query(name)
    return rows[0] if rows else None


def image_exists(image_id: int) -> bool:
    return bool(_image_exists_query(image_id))


_ready_variant_query = PreparedRows(
    lambda sha256, label: Variant.select(Variant.size.alias("size")).where(
        (Variant.blob == sha256) & (Variant.label == label) & (Variant.ready == True)  # noqa: E712
    )
)


def ready_variant_size(sha256: str, label: str) -> int | None:
    """The byte size of a variant that is ready to serve, or None."""
    rows = _ready_variant_query(sha256, label)
    return rows[0]["size"] if rows else None


def recount_comments(image_ids: list[int] | None = None) -> int:
    """Set images' comments_count from their comments (all images, or ``image_ids``);
    how many were wrong. For repairs and bulk loads that bypass the API."""
    counted = Comment.select(peewee.fn.COUNT(Comment.id)).where(Comment.image == Image.id)
    wrong = Image.comments_count != counted
    if image_ids is not None:
        wrong &= Image.id.in_(image_ids)
    return Image.update(comments_count=counted).where(wrong).execute()
