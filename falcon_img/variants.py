"""Sized variants: smaller copies of an image, made once on first request and stored.

Only widths from an allow-list (Settings.variant_widths) and one extra output
format (WebP) exist, so a client can cause at most a handful of variants per
image, each no larger than the original: the list bounds disk, the original's
pixel cap bounds the work of each. A Variant row claims the work before it
starts, so concurrent first requests (in any worker, on any host) make the
file once; the others wait for it to be ready.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import tempfile
import time
import typing
from pathlib import Path

import peewee
import PIL.Image
import PIL.ImageOps

from .models import Blob, Variant, ready_variant_size, utcnow
from .settings import Settings
from .storage import Storage

log = logging.getLogger(__name__)

#: Output formats a client may ask for, and what each source format becomes by default.
REQUESTABLE_FORMATS = {"webp": ("WEBP", "webp", "image/webp")}
DEFAULT_OUTPUT = {
    "image/jpeg": ("JPEG", "jpg", "image/jpeg"),
    "image/png": ("PNG", "png", "image/png"),
    "image/webp": ("WEBP", "webp", "image/webp"),
    # An animated GIF's variant is its first frame; PNG keeps its palette and alpha.
    "image/gif": ("PNG", "png", "image/png"),
}
SAVE_OPTIONS = {
    "JPEG": {"quality": 85, "optimize": True},
    "WEBP": {"quality": 80, "method": 4},
    "PNG": {"optimize": False, "compress_level": 6},
}

#: How long a request waits for another worker to finish the same variant.
WAIT_SECONDS = 20.0
#: A claim older than this is taken over (its maker died).
STALE_CLAIM_SECONDS = 60.0
POLL_SECONDS = 0.05


class VariantUnavailable(Exception):
    """The variant is being made elsewhere and did not appear in time."""


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    width: int
    #: None keeps the source's format family; "webp" converts.
    format: str | None

    def output(self, source_content_type: str) -> tuple[str, str, str]:
        """``(Pillow format, extension, content type)`` of the variant."""
        if self.format:
            return REQUESTABLE_FORMATS[self.format]
        return DEFAULT_OUTPUT[source_content_type]

    def label(self, source_content_type: str) -> str:
        return f"w{self.width}.{self.output(source_content_type)[1]}"


class StoredVariant(typing.NamedTuple):
    key: str
    size: int


def variant_for(blob: Blob, spec: VariantSpec, *, storage: Storage, settings: Settings) -> StoredVariant:
    """The stored variant of ``blob`` for ``spec``, made now if nobody has made it yet."""
    label = spec.label(blob.content_type)
    key = f"{blob.sha256}/{label}"
    # The common case, a variant made long ago, in one prepared query.
    size = ready_variant_size(blob.sha256, label)
    if size is not None:
        return StoredVariant(key, size)
    _, _, content_type = spec.output(blob.content_type)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        variant = Variant.get_or_none((Variant.blob == blob.sha256) & (Variant.label == label))
        if variant is not None and variant.ready:
            return StoredVariant(key, variant.size)
        if _claim(blob, label, content_type, variant):
            made = _make(blob, spec, label, storage=storage, settings=settings)
            return StoredVariant(key, made.size)
        if time.monotonic() > deadline:
            raise VariantUnavailable(f"variant {label} of {blob.sha256} is still being made")
        time.sleep(POLL_SECONDS)


def _claim(blob: Blob, label: str, content_type: str, existing: Variant | None) -> bool:
    """Take the job of making this variant; False when someone else holds it."""
    if existing is None:
        try:
            Variant.insert(blob=blob.sha256, label=label, content_type=content_type, claimed_at=utcnow()).execute()
            return True
        except peewee.IntegrityError:
            if not Blob.select().where(Blob.sha256 == blob.sha256).exists():
                raise Blob.DoesNotExist(f"blob {blob.sha256} was deleted") from None
            return False
    if (utcnow() - existing.claimed_at).total_seconds() < STALE_CLAIM_SECONDS:
        return False
    taken = (
        Variant.update(claimed_at=utcnow())
        .where(
            (Variant.blob == blob.sha256) & (Variant.label == label)
            & (Variant.ready == False) & (Variant.claimed_at == existing.claimed_at)  # noqa: E712
        )
        .execute()
    )
    return taken == 1


def _make(blob: Blob, spec: VariantSpec, label: str, *, storage: Storage, settings: Settings) -> Variant:
    where = (Variant.blob == blob.sha256) & (Variant.label == label)
    try:
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.spool_dir, prefix="variant-") as work:
            source = _local_copy(storage, blob.sha256, Path(work))
            rendered = Path(work) / label
            width, height = render(source, rendered, spec, blob.content_type)
            storage.put(f"{blob.sha256}/{label}", rendered)
            size = rendered.stat().st_size
        Variant.update(ready=True, size=size, width=width, height=height).where(where).execute()
        log.info("made variant %s/%s (%d bytes)", blob.sha256, label, size)
    except BaseException:
        with contextlib.suppress(Exception):
            Variant.delete().where(where & (Variant.ready == False)).execute()  # noqa: E712
        raise
    return Variant.get(where)


def _local_copy(storage: Storage, key: str, work: Path) -> Path:
    """A seekable local file of ``key`` (the stored file itself when the store is local)."""
    local_path = getattr(storage, "path", None)
    if local_path is not None:
        return local_path(key)
    target = work / "source"
    with contextlib.closing(storage.open(key)) as stream, target.open("wb") as out:
        shutil.copyfileobj(stream, out, 256 * 1024)
    return target


def render(source: Path, target: Path, spec: VariantSpec, source_content_type: str) -> tuple[int, int]:
    """Write the variant of ``source`` to ``target``; return its size in pixels."""
    pil_format, _, _ = spec.output(source_content_type)
    with PIL.Image.open(source) as image:
        stored_width, stored_height = image.size
        orientation = image.getexif().get(0x0112, 1)
        turned = orientation in (5, 6, 7, 8)
        shown_width = stored_height if turned else stored_width
        scale = min(1.0, spec.width / shown_width)
        if image.format in ("JPEG", "MPO"):
            # Decode at the smallest DCT scale still at least as big as the result:
            # a 3000-pixel photo becomes a 375-pixel one before resizing starts.
            image.draft("RGB", (math.ceil(stored_width * scale), math.ceil(stored_height * scale)))
        image.seek(0)
        frame = PIL.ImageOps.exif_transpose(image)
        if frame.mode not in ("RGB", "RGBA", "L", "LA"):
            frame = frame.convert("RGBA" if _has_alpha(frame) else "RGB")
        if pil_format == "JPEG" and frame.mode in ("RGBA", "LA"):
            frame = frame.convert("RGB")
        shown_width, shown_height = frame.size
        width = min(spec.width, shown_width)
        height = max(1, round(shown_height * width / shown_width))
        resized = frame.resize((width, height), PIL.Image.Resampling.LANCZOS, reducing_gap=3.0)
        resized.save(target, pil_format, **SAVE_OPTIONS[pil_format])
        return width, height


def _has_alpha(image: PIL.Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info

