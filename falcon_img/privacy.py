"""Location privacy: GPS metadata taken out of a stored image, pixels untouched.

A photo's EXIF block (JPEG APP1, PNG eXIf, WebP EXIF) can hold a GPS IFD with
where it was taken, and its XMP packet can repeat that as ``exif:GPS*``
properties. ``strip_location`` removes both and leaves every other byte of the
file as it was: the compressed image data, the colour profile, the Exif
sub-IFD, the thumbnail and, above all, the Orientation tag, so a photo still
shows upright. The file is never decoded or re-encoded.

Inside an EXIF (TIFF) block the GPS data is blanked where it lies (the GPS
IFD's table and the values it points to become zero bytes) and the pointer
entry is taken out of its IFD, so every other offset in the block, including
those inside maker notes, stays valid. An XMP property is overwritten with
spaces, so packets keep their length. A block that cannot be read safely is
not kept: it is replaced by a minimal EXIF holding only the Orientation when
that can be read, and dropped otherwise. PNG text chunks that carry such a
block (a compressed XMP packet, ImageMagick's hex "Raw profile type exif")
are removed whole when they hold GPS data.

Everything here reads hostile input: every offset is checked against the
data, IFD chains are followed once each (no loop on cyclic offsets), and the
number of IFDs and entries looked at is capped.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import struct
import tempfile
import typing
import zlib
from pathlib import Path

COPY_CHUNK_SIZE = 64 * 1024

# -- EXIF (TIFF structure) -------------------------------------------------

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825
INTEROP_IFD_TAG = 0xA005
SHORT = 3

#: Real EXIF blocks have a handful of IFDs and a few hundred entries at most.
MAX_IFDS = 16
MAX_ENTRIES = 4096

#: Bytes per value of each TIFF field type (unknown types are left alone).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


class _Unreadable(Exception):
    """The TIFF block cannot be walked safely."""


@dataclasses.dataclass
class _Ifd:
    offset: int
    #: Raw 12-byte entries that lie inside the data (all of them when complete).
    entries: list[bytes]
    #: The whole table, count and next-IFD offset included, lies inside the data.
    complete: bool
    next_offset: int


class _Tiff:
    def __init__(self, data: bytes) -> None:
        if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
            raise _Unreadable("no TIFF header")
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"
        self.entries_read = 0

    def u16(self, offset: int) -> int:
        return struct.unpack_from(self.order + "H", self.data, offset)[0]

    def u32(self, offset: int) -> int:
        return struct.unpack_from(self.order + "I", self.data, offset)[0]

    def entry(self, raw: bytes) -> tuple[int, int, int, int]:
        """``(tag, type, count, value_or_offset)`` of a raw entry."""
        return struct.unpack(self.order + "HHII", raw)

    def ifd(self, offset: int) -> _Ifd | None:
        """The IFD at ``offset``, or None when nothing of it lies inside the data."""
        size = len(self.data)
        if offset < 8 or offset + 2 > size:
            return None
        count = self.u16(offset)
        fitting = min(count, (size - offset - 2) // 12)
        self.entries_read += fitting
        if self.entries_read > MAX_ENTRIES:
            raise _Unreadable("too many entries")
        entries = [self.data[offset + 2 + 12 * i: offset + 14 + 12 * i] for i in range(fitting)]
        table_end = offset + 2 + 12 * count
        complete = table_end + 4 <= size
        next_offset = self.u32(table_end) if complete else 0
        return _Ifd(offset=offset, entries=entries, complete=complete, next_offset=next_offset)


def strip_exif(tiff: bytes) -> bytes | None:
    """``tiff`` without GPS data: None when it has none, b"" when the block should go.

    The result has the same length as ``tiff`` unless the block was unreadable,
    in which case it is a minimal block with the Orientation (when readable).
    """
    try:
        reader = _Tiff(tiff)
    except _Unreadable:
        return b""
    try:
        return _blank_gps(reader)
    except (_Unreadable, struct.error):
        return _minimal_exif(reader)


def _blank_gps(reader: _Tiff) -> bytes | None:
    ifds: list[_Ifd] = []
    pending = [(reader.u32(4), True)]
    seen: set[int] = set()
    while pending:
        offset, in_main_chain = pending.pop()
        if offset in seen:
            continue
        seen.add(offset)
        if len(seen) > MAX_IFDS:
            raise _Unreadable("too many IFDs")
        ifd = reader.ifd(offset)
        if ifd is None:
            if not ifds:
                raise _Unreadable("IFD0 lies outside the block")
            continue
        ifds.append(ifd)
        for raw in ifd.entries:
            tag, _, _, value = reader.entry(raw)
            if tag in (EXIF_IFD_TAG, INTEROP_IFD_TAG):
                pending.append((value, False))
        if in_main_chain and ifd.next_offset:
            pending.append((ifd.next_offset, True))

    holders = [ifd for ifd in ifds if any(reader.entry(raw)[0] == GPS_IFD_TAG for raw in ifd.entries)]
    if not holders:
        return None
    if not all(ifd.complete for ifd in holders):
        raise _Unreadable("a GPS pointer sits in a truncated IFD")

    out = bytearray(reader.data)
    for ifd in holders:
        for raw in ifd.entries:
            tag, _, _, value = reader.entry(raw)
            if tag == GPS_IFD_TAG:
                _blank_ifd(reader, out, value)
    # Rewritten after the blanking, from the original bytes: a hostile GPS
    # offset that points into a kept table cannot damage it.
    for ifd in holders:
        kept = [raw for raw in ifd.entries if reader.entry(raw)[0] != GPS_IFD_TAG]
        table = (
            struct.pack(reader.order + "H", len(kept))
            + b"".join(kept)
            + struct.pack(reader.order + "I", ifd.next_offset)
        )
        old_length = 2 + 12 * len(ifd.entries) + 4
        out[ifd.offset: ifd.offset + old_length] = table.ljust(old_length, b"\x00")
    return bytes(out)


def _blank_ifd(reader: _Tiff, out: bytearray, offset: int) -> None:
    """Zero the IFD at ``offset`` and every value it points to."""
    ifd = reader.ifd(offset)
    if ifd is None:
        # The GPS data is not where the block says: it cannot be found to be blanked.
        raise _Unreadable("GPS IFD outside the block")
    size = len(out)
    for raw in ifd.entries:
        _, kind, count, value = reader.entry(raw)
        length = TYPE_SIZES.get(kind, 0) * count
        if length > 4 and value < size:
            start = max(value, 8)
            end = min(value + length, size)
            out[start:end] = bytes(max(0, end - start))
    end = min(offset + 2 + 12 * reader.u16(offset) + 4, size)
    out[offset:end] = bytes(end - offset)


def _minimal_exif(reader: _Tiff) -> bytes:
    """A block holding only IFD0's Orientation, or b"" when there is none to read."""
    data = reader.data
    offset = reader.u32(4)
    if offset < 8 or offset + 2 > len(data):
        return b""
    fitting = min(reader.u16(offset), (len(data) - offset - 2) // 12, MAX_ENTRIES)
    for index in range(fitting):
        raw = data[offset + 2 + 12 * index: offset + 14 + 12 * index]
        tag, kind, count, _ = reader.entry(raw)
        if tag == ORIENTATION_TAG and kind == SHORT and count == 1:
            orientation = struct.unpack_from(reader.order + "H", raw, 8)[0]
            if 1 <= orientation <= 8:
                return struct.pack(
                    "<2sHIHHHIHHI", b"II", 42, 8, 1, ORIENTATION_TAG, SHORT, 1, orientation, 0, 0
                )
            break
    return b""


def _strip_prefixed_exif(data: bytes) -> bytes | None:
    """strip_exif for blocks that may start with ``Exif\\0\\0`` (kept when there)."""
    prefix = EXIF_HEADER if data.startswith(EXIF_HEADER) else b""
    stripped = strip_exif(data[len(prefix):])
    if stripped is None or stripped == b"":
        return stripped
    return prefix + stripped


# -- XMP -------------------------------------------------------------------

_GPS_NAME = rb"[A-Za-z_][\w.-]*:(?i:gps)[\w.-]*"
_GPS_ATTRIBUTE = re.compile(rb"\s" + _GPS_NAME + rb"\s*=\s*(?:\"[^\"]*\"|'[^']*')")
_GPS_START_TAG = re.compile(rb"<(" + _GPS_NAME + rb")(?=[\s/>])")
#: What is left after a successful strip must not even mention a GPS property.
_GPS_MENTION = re.compile(rb"(?i):gps")
MAX_XMP_BYTES = 4 * 1024 * 1024


def strip_xmp(packet: bytes) -> bytes | None:
    """``packet`` with its GPS properties blanked out: None when it has none,
    b"" when it should be dropped whole. The result has the same length."""
    if not _GPS_MENTION.search(packet):
        return None
    if len(packet) > MAX_XMP_BYTES:
        return b""
    out = bytearray(packet)
    for match in _GPS_ATTRIBUTE.finditer(packet):
        out[match.start(): match.end()] = b" " * (match.end() - match.start())
    position = 0
    while match := _GPS_START_TAG.search(out, position):
        tag_end = out.find(b">", match.end())
        if tag_end < 0:
            return b""
        if out[tag_end - 1: tag_end] == b"/":
            end = tag_end + 1
        else:
            closing = re.compile(rb"</" + re.escape(match.group(1)) + rb"\s*>").search(out, tag_end + 1)
            if closing is None:
                return b""
            end = closing.end()
        out[match.start(): end] = b" " * (end - match.start())
        position = end
    if _GPS_MENTION.search(out):
        return b""
    return bytes(out)


# -- planning edits on a file ----------------------------------------------

@dataclasses.dataclass
class Splice:
    """Replace ``length`` bytes at ``offset`` with ``data``."""

    offset: int
    length: int
    data: bytes


class _Source:
    """Random access to the file being planned; only metadata is ever read.

    Small reads are served from a window of the file, so walking many tiny
    segments or chunks costs no system call each.
    """

    WINDOW = 64 * 1024

    def __init__(self, handle: typing.BinaryIO) -> None:
        self.fd = handle.fileno()
        self.size = os.fstat(self.fd).st_size
        self.window_start = 0
        self.window = b""

    def read(self, offset: int, length: int) -> bytes | None:
        """Exactly ``length`` bytes at ``offset``, or None past the end."""
        if offset < 0 or length < 0 or offset + length > self.size:
            return None
        if length > self.WINDOW:
            data = os.pread(self.fd, length, offset)
            return data if len(data) == length else None
        start = offset - self.window_start
        if start < 0 or start + length > len(self.window):
            self.window_start, self.window = offset, os.pread(self.fd, self.WINDOW, offset)
            start = 0
        data = self.window[start: start + length]
        return data if len(data) == length else None


def strip_location(path: Path, image_format: str) -> bool:
    """Rewrite the image at ``path`` without its location metadata; True if it changed.

    ``image_format`` is Pillow's name for it (JPEG, PNG, WEBP, GIF). The file
    is replaced atomically by a sibling temporary file; unchanged files are
    not touched at all.
    """
    planner = _PLANNERS.get(image_format.upper())
    if planner is None:
        return False
    with path.open("rb") as handle:
        splices = planner(_Source(handle))
    if not splices:
        return False
    _apply(path, splices)
    return True


def _apply(path: Path, splices: list[Splice]) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".strip-", suffix=".part")
    temp = Path(temp_name)
    try:
        with path.open("rb") as source, os.fdopen(fd, "wb") as target:
            position = 0
            for splice in sorted(splices, key=lambda s: s.offset):
                _copy(source, target, splice.offset - position)
                target.write(splice.data)
                position = splice.offset + splice.length
                source.seek(position)
            shutil.copyfileobj(source, target, COPY_CHUNK_SIZE)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _copy(source: typing.BinaryIO, target: typing.BinaryIO, length: int) -> None:
    while length > 0:
        chunk = source.read(min(length, COPY_CHUNK_SIZE))
        if not chunk:
            return
        target.write(chunk)
        length -= len(chunk)


# -- JPEG ------------------------------------------------------------------

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
#: GUID (32 hex digits), full length, offset of this part.
EXTENDED_XMP_FIELDS = 40


MPF_HEADER = b"MPF\x00"


def _plan_mpo(source: _Source) -> list[Splice]:
    """A multi-picture JPEG (as phones write): the primary image, cleaned, alone.

    The extra pictures after the primary one carry EXIF (and GPS) of their own;
    keeping only the primary image, and dropping the MPF index that pointed at
    the others, leaves a plain JPEG of the same picture with nothing to leak.
    """
    return _plan_jpeg(source, primary_only=True)


def _plan_jpeg(source: _Source, primary_only: bool = False) -> list[Splice]:
    if source.read(0, 2) != b"\xff\xd8":
        return []
    splices: list[Splice] = []
    extended_xmp: list[tuple[bytes, int, Splice]] = []
    position = 2
    # Metadata lives in the segments before the first scan; what follows is
    # image data and stays as it is.
    while (head := source.read(position, 2)) is not None and head[0] == 0xFF:
        marker = head[1]
        if marker == 0xFF:
            fill = source.read(position + 1, min(COPY_CHUNK_SIZE, source.size - position - 1)) or b""
            position += max(1, len(fill) - len(fill.lstrip(b"\xff")))
            continue
        if marker in (0xD9, 0xDA):
            if primary_only and marker == 0xDA:
                splices += _after_first_image(source, position)
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        length_field = source.read(position + 2, 2)
        if length_field is None:
            break
        length = int.from_bytes(length_field, "big")
        if length < 2 or position + 2 + length > source.size:
            break
        whole = Splice(position, 2 + length, b"")
        if primary_only and marker == 0xE2 and source.read(position + 4, len(MPF_HEADER)) == MPF_HEADER:
            splices.append(whole)
        if marker == 0xE1:
            payload = source.read(position + 4, length - 2) or b""
            if payload.startswith(EXIF_HEADER):
                splices += _replace_jpeg_segment(whole, EXIF_HEADER, strip_exif(payload[len(EXIF_HEADER):]))
            elif payload.startswith(XMP_HEADER):
                splices += _replace_jpeg_segment(whole, XMP_HEADER, strip_xmp(payload[len(XMP_HEADER):]))
            elif payload.startswith(EXTENDED_XMP_HEADER):
                fields = payload[len(EXTENDED_XMP_HEADER): len(EXTENDED_XMP_HEADER) + EXTENDED_XMP_FIELDS]
                part = payload[len(EXTENDED_XMP_HEADER) + EXTENDED_XMP_FIELDS:]
                extended_xmp.append((fields[:32] + fields[-4:], part, whole))
        position += 2 + length
    # An extended XMP packet is split over several segments: judge it whole.
    if extended_xmp:
        extended_xmp.sort(key=lambda item: item[0])
        if _GPS_MENTION.search(b"".join(part for _, part, _ in extended_xmp)):
            splices += [whole for _, _, whole in extended_xmp]
    return splices


def _after_first_image(source: _Source, scan_start: int) -> list[Splice]:
    """Cut everything after the first End Of Image marker that follows ``scan_start``.

    Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
    restart marker, so the first FF D9 after the first scan ends the image.
    """
    position = scan_start
    carry = b""
    while position < source.size:
        length = min(COPY_CHUNK_SIZE, source.size - position)
        chunk = carry + (source.read(position, length) or b"")
        found = chunk.find(b"\xff\xd9")
        if found >= 0:
            end = position - len(carry) + found + 2
            return [Splice(end, source.size - end, b"")] if end < source.size else []
        carry = chunk[-1:]
        position += length
    return []


def _replace_jpeg_segment(whole: Splice, header: bytes, stripped: bytes | None) -> list[Splice]:
    if stripped is None:
        return []
    if stripped == b"":
        return [whole]
    payload = header + stripped
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return [Splice(whole.offset, whole.length, segment)]


# -- PNG -------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
RAW_PROFILE_PREFIX = b"raw profile type "
MAX_TEXT_BYTES = 8 * 1024 * 1024


def _plan_png(source: _Source) -> list[Splice]:
    if source.read(0, 8) != PNG_SIGNATURE:
        return []
    splices: list[Splice] = []
    position = 8
    while (head := source.read(position, 8)) is not None:
        length = int.from_bytes(head[:4], "big")
        kind = head[4:]
        whole = Splice(position, 12 + length, b"")
        if position + 12 + length > source.size:
            break
        if kind in (b"eXIf", b"tEXt", b"zTXt", b"iTXt"):
            data = source.read(position + 8, length) or b""
            if kind == b"eXIf":
                stripped = _strip_prefixed_exif(data)
            else:
                stripped = _strip_png_text(kind, data)
            if stripped == b"":
                splices.append(whole)
            elif stripped is not None:
                splices.append(Splice(position, whole.length, _png_chunk(kind, stripped)))
        position += 12 + length
        if kind == b"IEND":
            break
    return splices


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _strip_png_text(kind: bytes, data: bytes) -> bytes | None:
    """A text chunk's new data: None to keep it, b"" to drop it.

    Only the chunks that carry metadata blocks are looked at: the XMP packet
    and ImageMagick's hex-encoded "Raw profile type exif/APP1/xmp".
    """
    keyword, _, rest = data.partition(b"\x00")
    is_xmp = keyword == XMP_KEYWORD
    profile = keyword.lower()[len(RAW_PROFILE_PREFIX):] if keyword.lower().startswith(RAW_PROFILE_PREFIX) else None
    if not is_xmp and profile is None:
        return None
    if kind == b"tEXt":
        compressed, head, text = False, b"", rest
    elif kind == b"zTXt":
        compressed, head, text = True, b"", rest[1:]
    else:
        flag, method, rest = rest[:1], rest[1:2], rest[2:]
        language, _, rest = rest.partition(b"\x00")
        translated, _, text = rest.partition(b"\x00")
        compressed = flag == b"\x01"
        head = flag + method + language + b"\x00" + translated + b"\x00"
    if compressed:
        text = _inflate(text)
        if text is None:
            return b""
    if is_xmp:
        stripped = strip_xmp(text)
        if stripped is None or stripped == b"" or compressed:
            return None if stripped is None else b""
        return keyword + b"\x00" + head + stripped
    return None if _raw_profile_is_clean(profile, text) else b""


def _raw_profile_is_clean(profile: bytes, text: bytes) -> bool:
    """Whether a "Raw profile type" text ("\\nname\\n   length\\nhex…") carries no GPS."""
    if profile not in (b"exif", b"app1", b"xmp"):
        return True
    lines = text.split(b"\n")
    try:
        block = bytes.fromhex(b"".join(lines[3:]).decode("ascii"))
    except ValueError:
        return False
    if profile == b"xmp":
        return strip_xmp(block) is None
    return _strip_prefixed_exif(block) is None


def _inflate(data: bytes) -> bytes | None:
    """``data`` decompressed, or None when it is broken or larger than we read."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_TEXT_BYTES)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else text


# -- WebP ------------------------------------------------------------------

VP8X_EXIF_FLAG = 0x08
VP8X_XMP_FLAG = 0x04


def _plan_webp(source: _Source) -> list[Splice]:
    header = source.read(0, 12)
    if header is None or header[:4] != b"RIFF" or header[8:] != b"WEBP":
        return []
    riff_size = int.from_bytes(header[4:8], "little")
    end = min(source.size, 8 + riff_size)
    splices: list[Splice] = []
    removed = 0
    cleared_flags = 0
    vp8x_offset = None
    position = 12
    while position + 8 <= end and (head := source.read(position, 8)) is not None:
        kind = head[:4]
        length = int.from_bytes(head[4:], "little")
        padded = length + (length & 1)
        if position + 8 + length > end:
            break
        whole = Splice(position, min(8 + padded, end - position), b"")
        if kind == b"VP8X" and vp8x_offset is None and length >= 1:
            vp8x_offset = position + 8
        elif kind in (b"EXIF", b"XMP "):
            data = source.read(position + 8, length) or b""
            stripped = _strip_prefixed_exif(data) if kind == b"EXIF" else strip_xmp(data)
            if stripped == b"":
                splices.append(whole)
                removed += whole.length
                cleared_flags |= VP8X_EXIF_FLAG if kind == b"EXIF" else VP8X_XMP_FLAG
            elif stripped is not None:
                chunk = kind + len(stripped).to_bytes(4, "little") + stripped + b"\x00" * (len(stripped) & 1)
                splices.append(Splice(position, whole.length, chunk))
                removed += whole.length - len(chunk)
        position += 8 + padded
    if removed:
        splices.append(Splice(4, 4, max(4, riff_size - removed).to_bytes(4, "little")))
    if cleared_flags and vp8x_offset is not None:
        flags = (source.read(vp8x_offset, 1) or b"\x00")[0]
        splices.append(Splice(vp8x_offset, 1, bytes([flags & ~cleared_flags])))
    return splices


_PLANNERS: dict[str, typing.Callable[[_Source], list[Splice]]] = {
    "JPEG": _plan_jpeg,
    "MPO": _plan_mpo,
    "PNG": _plan_png,
    "WEBP": _plan_webp,
}
