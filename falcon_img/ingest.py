"""How images enter and leave the collection: the one path shared by the API and the CLI.

Entering: the bytes are spooled to a temporary file (never held whole in
memory) while their size is capped and their sha256 computed; Pillow decides
the format from the bytes and decodes them fully; the blob is put in storage
under its digest, and then the rows are written in one transaction. Leaving:
the rows go first, then the blob, once no image uses it any more.

Ordering and locking give the guarantee the API promises: an Image row is
never visible without its blob. The blob is stored before the row commits;
removing a blob happens under the same lock that adding a reference takes,
and an ingest checks after its commit that its blob is still there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import re
import secrets
import tempfile
import typing
import unicodedata
from pathlib import Path

import peewee
import PIL.Image

from . import models
from .db import UNAVAILABLE_ERRORS, database, is_sqlite, write_transaction
from .models import Blob, Comment, Image, Variant
from .privacy import strip_location
from .settings import Settings
from .storage import Storage, StorageError

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024

# MPO is Pillow's name for a multi-picture JPEG, as phone cameras write them:
# a JPEG to every viewer, accepted wherever JPEG is.
CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}

# Pillow's own bomb guard would stop us at 2x this many pixels with an error
# that says less than ours; our cap (Settings.max_pixels) is checked first.
PIL.Image.MAX_IMAGE_PIXELS = None


class IngestError(Exception):
    """An upload that cannot become an image; ``str()`` is a message for a person."""


class UploadTooLarge(IngestError):
    pass


class TooManyPixels(IngestError):
    pass


class NotAnImage(IngestError):
    pass


class NameTaken(IngestError):
    def __init__(self, message: str, existing: Image | None) -> None:
        super().__init__(message)
        self.existing = existing


@dataclasses.dataclass
class SpooledUpload:
    path: Path
    size: int
    sha256: str


@dataclasses.dataclass
class ImageInfo:
    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclasses.dataclass
class Ingested:
    image: Image
    #: Shown once to whoever created the image; only its hash is stored.
    edit_token: str


# -- names -----------------------------------------------------------------

_PATH_SEPARATORS = re.compile(r"[\\/]")
_UNWANTED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def safe_name(raw: str | None, max_bytes: int = 255) -> str:
    """The last path part of ``raw`` without control characters, cut to ``max_bytes``
    of valid UTF-8; ``""`` when nothing usable is left (the caller generates one)."""
    if not raw:
        return ""
    name = _PATH_SEPARATORS.split(raw)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _UNWANTED_CATEGORIES)
    name = name.strip()
    name = name.encode("utf-8")[:max_bytes].decode("utf-8", "ignore").strip()
    if name in {"", ".", ".."}:
        return ""
    return name


def generated_name(info: ImageInfo) -> str:
    return f"image-{secrets.token_hex(6)}.{EXTENSIONS[info.format]}"


# -- spooling and checking -------------------------------------------------

@contextlib.contextmanager
def spool(stream: typing.BinaryIO, spool_dir: Path, max_bytes: int) -> typing.Iterator[SpooledUpload]:
    """Copy ``stream`` to a temporary file in ``spool_dir``, hashing and capping it.

    Raises UploadTooLarge as soon as more than ``max_bytes`` have been read:
    a huge body is refused without being read to its end. The file is removed
    when the block ends, whatever happens in it.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=spool_dir, prefix="upload-", suffix=".part", delete=False)
    path = Path(handle.name)
    try:
        digest = hashlib.sha256()
        size = 0
        with handle:
            while chunk := stream.read(CHUNK_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"The file is larger than the upload limit of {max_bytes} bytes.")
                digest.update(chunk)
                handle.write(chunk)
        yield SpooledUpload(path=path, size=size, sha256=digest.hexdigest())
    finally:
        path.unlink(missing_ok=True)


def measure_file(path: Path) -> tuple[int, str]:
    """``(size, sha256 hex)`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def inspect_image(path: Path, accepted_formats: typing.Iterable[str], max_pixels: int) -> ImageInfo:
    """Decide the format from the bytes and prove they decode, or raise.

    The pixel cap is checked from the header, before any pixel is decoded, so a
    decompression bomb costs nothing. JPEGs decode in draft mode (at 1/8 scale)
    so checking a large photo does not cost its full bitmap in memory; the whole
    entropy-coded stream is still read, which is what catches truncation.
    """
    # No "MPO" in `formats`: Pillow has no opener of that name (a KeyError, so a 500,
    # for any bytes no other format claims); its JPEG opener returns MPO files itself.
    accepted = [fmt for fmt in accepted_formats if fmt in CONTENT_TYPES and fmt != "MPO"]
    names = ", ".join(accepted)
    try:
        with PIL.Image.open(path, formats=accepted) as image:
            fmt = image.format
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixels(
                    f"The image is {width}x{height} pixels, more than the limit of {max_pixels} pixels."
                )
            if fmt in ("JPEG", "MPO"):
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except IngestError:
        raise
    except PIL.Image.DecompressionBombError as exc:
        raise TooManyPixels(f"The image has more pixels than the limit of {max_pixels}.") from exc
    except (PIL.UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            IndexError, TypeError, MemoryError) as exc:
        raise NotAnImage(f"The file is not a complete image in an accepted format ({names}).") from exc
    if fmt not in CONTENT_TYPES or width < 1 or height < 1:
        raise NotAnImage(f"The file is not a complete image in an accepted format ({names}).")
    return ImageInfo(format=fmt, width=width, height=height)


# -- entering --------------------------------------------------------------

def ingest_spooled(spooled: SpooledUpload, name: str | None, *, storage: Storage, settings: Settings) -> Ingested:
    """Turn a spooled upload into a stored blob and an Image row, or raise IngestError."""
    info = inspect_image(spooled.path, settings.accepted_formats, settings.max_pixels)
    # Privacy (API.md): GPS metadata leaves the file before it is stored, and
    # the key, sha256 and size then describe the stripped bytes.
    if not settings.keep_metadata and strip_location(spooled.path, info.format):
        spooled.size, spooled.sha256 = measure_file(spooled.path)
    final_name = safe_name(name, settings.max_name_bytes) or generated_name(info)
    existing = Image.get_or_none(Image.name == final_name)
    if existing is not None:
        raise NameTaken(f"An image named {final_name!r} already exists.", existing)

    key = spooled.sha256
    storage.put(key, spooled.path)
    edit_token = models.new_edit_token()
    try:
        with write_transaction():
            _lock_blob_row(key, info, spooled.size)
            image = Image.create(name=final_name, blob=key, edit_token_hash=models.hash_token(edit_token))
    except peewee.IntegrityError as exc:
        release_blob(key, storage)
        existing = Image.get_or_none(Image.name == final_name)
        if existing is None:
            raise
        raise NameTaken(f"An image named {final_name!r} already exists.", existing) from exc
    except BaseException:
        with contextlib.suppress(Exception):
            release_blob(key, storage)
        raise
    if not storage.exists(key):
        # A delete of the last image sharing these bytes removed the blob after we
        # stored it and before our row was committed; put it back.
        storage.put(key, spooled.path)
    return Ingested(image=image, edit_token=edit_token)


def ingest_image(stream: typing.BinaryIO, name: str | None, *, storage: Storage, settings: Settings) -> Ingested:
    """Spool ``stream`` and ingest it: what the importer calls for each file."""
    with spool(stream, settings.spool_dir, settings.max_upload_bytes) as spooled:
        return ingest_spooled(spooled, name, storage=storage, settings=settings)


def _lock_blob_row(key: str, info: ImageInfo, size: int) -> None:
    """Take the blob's lock, then create its row or keep the existing one."""
    _lock_blob(key)
    (
        Blob.insert(sha256=key, content_type=info.content_type, size=size, width=info.width, height=info.height)
        .on_conflict(conflict_target=[Blob.sha256], update={Blob.size: Blob.size})
        .execute()
    )


def _lock_blob(key: str) -> None:
    """Serialise, until the transaction ends, everything that adds or removes uses of ``key``.

    On SQLite the write transaction's database lock already does. On
    PostgreSQL a lock on the blob's row is not enough: the row may not exist
    (yet, or any more) while an upload and a removal race, so both take an
    advisory lock named by the digest instead.
    """
    if not is_sqlite():
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


# -- leaving ---------------------------------------------------------------

def remove_image(image_id: int, *, storage: Storage) -> bool:
    """Delete an image, its comments and (when unshared) its blob; False if it was gone."""
    with write_transaction():
        image = Image.get_or_none(Image.id == image_id)
        if image is None:
            return False
        Comment.delete().where(Comment.image == image_id).execute()
        image.delete_instance()
    try:
        release_blob(image.blob_id, storage)
    except (StorageError, *UNAVAILABLE_ERRORS) as exc:
        # The image is gone for clients either way; an orphan blob is only disk
        # space, and `falcon-img check --repair` removes it. An outage is expected
        # and says enough in one line; anything else keeps its traceback.
        log.warning("could not remove blob %s of deleted image %s: %s", image.blob_id, image_id, exc)
    except Exception:
        log.warning("could not remove blob %s of deleted image %s", image.blob_id, image_id, exc_info=True)
    return True


def release_blob(key: str, storage: Storage) -> None:
    """Remove a blob (row and bytes, with derived files) unless an image still uses it."""
    with write_transaction():
        _lock_blob(key)
        if Image.select().where(Image.blob == key).exists():
            return
        Variant.delete().where(Variant.blob == key).execute()
        Blob.delete().where(Blob.sha256 == key).execute()
        # Inside the transaction: an ingest of the same bytes waits on the lock,
        # and finds the blob missing after its commit (and puts it back).
        storage.delete(key)
