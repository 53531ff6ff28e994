"""Does what the database says match what the storage holds? And tidying what doesn't.

``falcon-img check`` runs ``inspect_collection()``; ``--repair`` then runs
``repair()``. What can be repaired is only ever garbage: files no row uses,
blob rows no image uses, variant rows whose file is gone (they are made
again on demand), temporary files a killed writer left. What cannot be
repaired (an image whose bytes are gone or changed) is reported and left for
a person, and keeps the exit status non-zero.

Repairs are safe while the service runs: an upload stores its blob before
its row commits and puts it back if it vanished meanwhile, and blob rows are
removed under the same lock an upload takes (``ingest.release_blob``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from peewee import fn

from .ingest import release_blob
from .models import Blob, Comment, Image, Variant, recount_comments
from .settings import Settings
from .storage import Storage

CHUNK_SIZE = 256 * 1024


@dataclasses.dataclass
class Inspection:
    #: Images whose blob is not in the storage: (image id, name, sha256).
    missing_blobs: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    #: Blobs whose stored bytes no longer have their sha256 or size.
    damaged_blobs: list[str] = dataclasses.field(default_factory=list)
    #: Stored keys that no row knows.
    orphan_files: list[str] = dataclasses.field(default_factory=list)
    #: Blob rows that no image uses.
    orphan_blob_rows: list[str] = dataclasses.field(default_factory=list)
    #: Ready variant rows whose file is gone.
    missing_variants: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: Temporary files older than the threshold.
    stale_temp_files: list[Path] = dataclasses.field(default_factory=list)
    #: Images whose stored comments_count differs from their comments: (id, stored, counted).
    miscounted_images: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)

    @property
    def repairable(self) -> int:
        return (
            len(self.orphan_files) + len(self.orphan_blob_rows) + len(self.missing_variants)
            + len(self.stale_temp_files) + len(self.miscounted_images)
        )

    @property
    def unrepairable(self) -> int:
        return len(self.missing_blobs) + len(self.damaged_blobs)

    @property
    def clean(self) -> bool:
        return self.repairable == 0 and self.unrepairable == 0

    def lines(self) -> list[str]:
        found = []
        found += [f"missing file: image {i} ({name!r}) needs blob {sha}" for i, name, sha in self.missing_blobs]
        found += [f"damaged file: blob {sha} does not match its sha256 or size" for sha in self.damaged_blobs]
        found += [f"orphan file: {key} (no row uses it)" for key in self.orphan_files]
        found += [f"orphan row: blob {sha} (no image uses it)" for sha in self.orphan_blob_rows]
        found += [f"missing variant: {sha}/{label}" for sha, label in self.missing_variants]
        found += [f"stale temporary file: {path}" for path in self.stale_temp_files]
        found += [
            f"wrong comment count: image {image_id} says {stored}, has {counted}"
            for image_id, stored, counted in self.miscounted_images
        ]
        return found


def stale_temp_files(storage: Storage, settings: Settings, older_than: float) -> list[Path]:
    """Temporary files of killed uploads: the spool folder's and the storage's own."""
    cutoff = time.time() - older_than
    found = list(storage.stale_temp_files(older_than=older_than))
    if settings.spool_dir.is_dir():
        for path in settings.spool_dir.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    found.append(path)
            except FileNotFoundError:
                continue
    return found


def sweep_temp_files(storage: Storage, settings: Settings, older_than: float) -> int:
    """Remove stale temporary files; how many went."""
    removed = 0
    for path in stale_temp_files(storage, settings, older_than):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


def inspect_collection(
    storage: Storage, settings: Settings, *, verify: bool = True, temp_age: float = 3600,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> Inspection:
    found = Inspection()
    stored = set(storage.keys())
    blobs = {blob.sha256: blob for blob in Blob.select()}
    used = {sha for (sha,) in Image.select(Image.blob).distinct().tuples()}
    variants = {(v.blob_id, v.label): v for v in Variant.select()}

    for image_id, name, sha in Image.select(Image.id, Image.name, Image.blob).order_by(Image.id).tuples():
        if sha not in stored:
            found.missing_blobs.append((image_id, name, sha))
    found.orphan_blob_rows = sorted(sha for sha in blobs if sha not in used)
    for key in sorted(stored):
        sha, _, label = key.partition("/")
        if label:
            if (sha, label) not in variants:
                found.orphan_files.append(key)
        elif sha not in blobs:
            found.orphan_files.append(key)
    found.missing_variants = sorted(
        pair for pair, variant in variants.items() if variant.ready and f"{pair[0]}/{pair[1]}" not in stored
    )
    if verify:
        for sha in progress(sorted(sha for sha in blobs if sha in stored)):
            if not _matches(storage, sha, blobs[sha].size):
                found.damaged_blobs.append(sha)
    found.stale_temp_files = stale_temp_files(storage, settings, temp_age)
    counted = Comment.select(fn.COUNT(Comment.id)).where(Comment.image == Image.id)
    found.miscounted_images = list(
        Image.select(Image.id, Image.comments_count, counted.alias("counted"))
        .where(Image.comments_count != counted)
        .order_by(Image.id)
        .tuples()
    )
    return found


def repair(found: Inspection, storage: Storage) -> int:
    """Remove what ``found`` lists as garbage; how many things were repaired."""
    repaired = 0
    for key in found.orphan_files:
        sha, _, label = key.partition("/")
        # Looked up again: an upload may have claimed the file since the inspection.
        if label and Variant.select().where((Variant.blob == sha) & (Variant.label == label)).exists():
            continue
        if not label and Blob.select().where(Blob.sha256 == sha).exists():
            continue
        # A primary key goes with its derived files: variants of a blob nobody has.
        storage.delete(key)
        repaired += 1
    for sha in found.orphan_blob_rows:
        release_blob(sha, storage)
        repaired += 1
    for sha, label in found.missing_variants:
        Variant.delete().where((Variant.blob == sha) & (Variant.label == label)).execute()
        repaired += 1
    for path in found.stale_temp_files:
        path.unlink(missing_ok=True)
        repaired += 1
    if found.miscounted_images:
        recount_comments()
        repaired += len(found.miscounted_images)
    return repaired


def _matches(storage: Storage, sha: str, size: int) -> bool:
    digest = hashlib.sha256()
    total = 0
    try:
        with contextlib.closing(storage.open(sha)) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
                total += len(chunk)
    except FileNotFoundError:
        return False
    return total == size and digest.hexdigest() == sha


def sweep_at_start(environ, older_than: float = 3600) -> int:
    """What Gunicorn's master runs before it forks: drop temp files of uploads a crash cut short.

    Only files older than ``older_than`` go, since another instance sharing the
    storage may be writing right now.
    """
    from .settings import Settings
    from .storage import open_storage

    settings = Settings.load(environ=environ)
    return sweep_temp_files(open_storage(settings.resolved_storage_url, settings), settings, older_than)
