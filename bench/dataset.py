"""The benchmark's data: made fresh in a temp instance dir, through the app's own code.

Images enter through ``falcon_img.ingest.ingest_image`` (the path the API and the
importer share: spool, hash, decode check, store, rows); comments are rows made with
``falcon_img.models``. Only the depth test's million-row table is bulk-inserted with
Peewee's ``insert_many`` (a million ingests would take hours): its extra Image rows
point at blobs the seeded images already stored.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import os
import random
import time
from pathlib import Path

import peewee
import PIL.Image

from falcon_img import db, models
from falcon_img.app import open_services
from falcon_img.ingest import ingest_image
from falcon_img.models import Blob, Comment, Image
from falcon_img.settings import Settings


@dataclasses.dataclass(frozen=True)
class Size:
    """How much data a run seeds: the full benchmark's, or a small one for --quick."""

    images: int = 1_000
    comments: int = 10_000
    comments_on_tested_image: int = 50
    depth_rows: int = 1_000_000
    #: 3000x2000 JPEGs whose first ?w=320 is timed (each can be cold only once).
    cold_variant_images: int = 5


FULL = Size()
QUICK = Size(images=200, comments=2_000, depth_rows=100_000, cold_variant_images=2)

SMALL_TARGET_BYTES = 100_000
LARGE_TARGET_BYTES = 5_000_000
SMALL_DIMENSIONS = (640, 480)
LARGE_DIMENSIONS = (3400, 2550)
COLD_VARIANT_DIMENSIONS = (3000, 2000)
#: Pure noise at quality 100 without chroma subsampling is ~4 bytes a pixel: 12.3 MP is ~50 MB.
UPLOAD_DIMENSIONS = (4050, 3040)


@dataclasses.dataclass
class Dataset:
    settings: Settings
    #: The folder LocalStorage keeps blobs in (nginx's root).
    storage_root: Path
    small_names: list[str]
    small_ids: list[int]
    small_sizes: list[int]
    large_name: str
    large_size: int
    #: Storage paths of the two files above, relative to storage_root.
    small_blob_path: str
    large_blob_path: str
    tested_image_id: int
    cold_variant_names: list[str]
    comments: int
    seconds: float


@dataclasses.dataclass
class DepthTable:
    settings: Settings
    rows: int
    #: The id after which the page at depth (rows - 1000) starts.
    deep_after: int
    seconds: float


# -- pictures ------------------------------------------------------------------

def picture(width: int, height: int, noise: float = 30.0) -> PIL.Image.Image:
    """A photo-like, always different picture: smooth random blobs under grain."""
    cells = (max(2, width // 40), max(2, height // 40))
    blobs = PIL.Image.frombytes("RGB", cells, os.urandom(3 * cells[0] * cells[1]))
    base = blobs.resize((width, height), PIL.Image.Resampling.BICUBIC)
    grain = PIL.Image.merge("RGB", [PIL.Image.effect_noise((width, height), noise)] * 3)
    return PIL.Image.blend(base, grain, 0.25)


def jpeg(image: PIL.Image.Image, quality: int, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **options)
    return out.getvalue()


def quality_for(target_bytes: int, width: int, height: int) -> int:
    """The JPEG quality at which pictures of this size land closest to ``target_bytes``."""
    sample = picture(width, height)
    return min(range(60, 99), key=lambda q: abs(len(jpeg(sample, q)) - target_bytes))


def noise_jpeg(width: int, height: int) -> bytes:
    """Incompressible pixels at the highest quality: the largest JPEG per pixel."""
    noise = PIL.Image.frombytes("RGB", (width, height), os.urandom(3 * width * height))
    return jpeg(noise, 100, subsampling=0)


def write_upload_file(path: Path) -> int:
    """A ~50 MB JPEG for the upload memory test; returns its size."""
    path.write_bytes(noise_jpeg(*UPLOAD_DIMENSIONS))
    return path.stat().st_size


# -- seeding ---------------------------------------------------------------------

def instance_settings(instance_dir: Path, **overrides) -> Settings:
    return Settings.load(overrides={"instance_dir": instance_dir, **overrides})


def seed(instance_dir: Path, size: Size, log=print) -> Dataset:
    """Create the database and fill it: images through ingest, comments through the models."""
    started = time.monotonic()
    settings = instance_settings(instance_dir)
    storage = open_services(settings)
    with db.connection():
        models.create_tables()

        quality = quality_for(SMALL_TARGET_BYTES, *SMALL_DIMENSIONS)
        small_names, small_ids, small_sizes = [], [], []
        for number in range(1, size.images + 1):
            name = f"photo-{number:04d}.jpg"
            data = jpeg(picture(*SMALL_DIMENSIONS), quality)
            created = ingest_image(io.BytesIO(data), name, storage=storage, settings=settings)
            small_names.append(name)
            small_ids.append(created.image.id)
            small_sizes.append(created.image.blob.size)
            if number % 250 == 0:
                log(f"  seeded {number} images of ~{SMALL_TARGET_BYTES // 1000} KB")

        large = _near_size(LARGE_TARGET_BYTES, *LARGE_DIMENSIONS)
        large_name = "large-photo.jpg"
        created = ingest_image(io.BytesIO(large), large_name, storage=storage, settings=settings)
        large_size = created.image.blob.size

        cold_names = []
        cold_quality = 90
        for number in range(1, size.cold_variant_images + 1):
            name = f"camera-{number}.jpg"
            data = jpeg(picture(*COLD_VARIANT_DIMENSIONS, noise=20), cold_quality)
            ingest_image(io.BytesIO(data), name, storage=storage, settings=settings)
            cold_names.append(name)

        tested_id = small_ids[len(small_ids) // 2]
        _seed_comments(tested_id, size, small_ids)
        small_blob = storage.path(Image.get(Image.name == small_names[0]).blob_id)
        large_blob = storage.path(Image.get(Image.name == large_name).blob_id)
    db.database.close_all()
    log(f"  seeded {size.images} + 1 + {len(cold_names)} images, {size.comments} comments")
    return Dataset(
        settings=settings,
        storage_root=storage.root,
        small_names=small_names,
        small_ids=small_ids,
        small_sizes=small_sizes,
        large_name=large_name,
        large_size=large_size,
        small_blob_path=str(small_blob.relative_to(storage.root)),
        large_blob_path=str(large_blob.relative_to(storage.root)),
        tested_image_id=tested_id,
        cold_variant_names=cold_names,
        comments=size.comments,
        seconds=time.monotonic() - started,
    )


def _near_size(target_bytes: int, width: int, height: int) -> bytes:
    """One picture, encoded at the quality that lands nearest ``target_bytes``."""
    sample = picture(width, height, noise=40)
    return min((jpeg(sample, q) for q in range(80, 99, 2)), key=lambda data: abs(len(data) - target_bytes))


def _seed_comments(tested_image_id: int, size: Size, image_ids: list[int]) -> None:
    """``comments_on_tested_image`` on one image, the rest spread at random over the others."""
    chooser = random.Random(1)
    others = [image_id for image_id in image_ids if image_id != tested_image_id]
    targets = [tested_image_id] * size.comments_on_tested_image
    targets += [chooser.choice(others) for _ in range(size.comments - len(targets))]
    targets.sort()
    now = models.utcnow()
    rows = [
        {
            "image": image_id,
            "text": f"Comment {number}: {chooser.choice(WORDS)} {chooser.choice(WORDS)}, {chooser.choice(WORDS)}.",
            "created_at": now,
            "updated_at": now,
            "edit_token_hash": models.hash_token(models.new_edit_token()),
        }
        for number, image_id in enumerate(targets, start=1)
    ]
    with db.write_transaction():
        for batch in peewee.chunked(rows, 500):
            Comment.insert_many(batch).execute()
        # Rows inserted in bulk bypass the API, which keeps the stored counts.
        models.recount_comments(sorted(set(targets)))


WORDS = ["lovely light", "great colours", "where is this", "nice framing", "too dark", "sharp", "classic",
         "what lens", "beautiful", "is that a heron", "very moody", "love the grain"]


# -- the depth table ---------------------------------------------------------------

def build_depth_table(source: Dataset, instance_dir: Path, rows: int, comments_per_image: int = 10,
                      log=print) -> DepthTable:
    """A database of ``rows`` images sharing the seeded storage, for the paging-depth test.

    The Blob rows are copied from the seeded database; the Image rows are inserted
    in bulk (``insert_many`` in one transaction) and point at those blobs. The
    first page and the page at depth ``rows - 1000`` get the same number of
    comments each, so the two pages differ only in where they are.
    """
    started = time.monotonic()
    open_services(source.settings)
    with db.connection():
        blobs = list(Blob.select().dicts())
    db.database.close_all()

    settings = instance_settings(instance_dir, storage_url="file://" + str(source.storage_root))
    open_services(settings)
    with db.connection():
        models.create_tables()
        created = datetime.datetime(2024, 1, 1)
        extra = (
            (f"bulk-{number:07d}.jpg", blobs[number % len(blobs)]["sha256"], created)
            for number in range(1, rows + 1)
        )
        with db.write_transaction():
            for batch in peewee.chunked(blobs, 500):
                Blob.insert_many(batch).execute()
            for batch in peewee.chunked(extra, 5_000):
                Image.insert_many(batch, fields=[Image.name, Image.blob, Image.created_at]).execute()
        total = Image.select().count()
        deep_after = Image.select(Image.id).order_by(Image.id).offset(total - 1_000 - 1).limit(1).scalar()
        first_ids = [image.id for image in Image.select(Image.id).order_by(Image.id).limit(100)]
        deep_ids = [image.id for image in Image.select(Image.id).where(Image.id > deep_after)
                    .order_by(Image.id).limit(100)]
        now = models.utcnow()
        comments = [
            {"image": image_id, "text": f"Comment {number} on {image_id}", "created_at": now, "updated_at": now}
            for image_id in first_ids + deep_ids for number in range(comments_per_image)
        ]
        with db.write_transaction():
            for batch in peewee.chunked(comments, 500):
                Comment.insert_many(batch).execute()
            models.recount_comments(first_ids + deep_ids)
        db.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.database.close_all()
    log(f"  depth table: {total:,} image rows inserted in bulk")
    return DepthTable(settings=settings, rows=total, deep_after=deep_after, seconds=time.monotonic() - started)
