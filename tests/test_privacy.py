"""Privacy: GPS metadata removed from stored files, pixels and orientation kept (API.md, "Privacy")."""

from __future__ import annotations

import hashlib
import io
import random
import re
import struct
import xml.etree.ElementTree as ElementTree
import zlib

import falcon.testing
import piexif
import PIL.Image
import PIL.ImageCms
import PIL.PngImagePlugin
import pytest

from falcon_img import db, models
from falcon_img.app import create_app
from falcon_img.privacy import strip_location

from support import blob_path, image_bytes, upload

LATITUDE = ((48, 1), (51, 1), (2436, 100))
LONGITUDE = ((2, 1), (17, 1), (4020, 100))
XMP_LATITUDE = b"48,51.406N"
XMP_LONGITUDE = b"2,17.670E"
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmp:Rating="4" tiff:Orientation="6"
    exif:GPSLatitude="48,51.406N" exif:GPSLongitude='2,17.670E'>
   <exif:GPSAltitude>35/1</exif:GPSAltitude>
   <exif:GPSVersionID><rdf:Seq><rdf:li>2</rdf:li><rdf:li>3</rdf:li></rdf:Seq></exif:GPSVersionID>
   <exif:GPSMapDatum rdf:resource="urn:wgs84"/>
   <xmp:CreatorTool>falcon-img tests</xmp:CreatorTool>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


# -- making photos ---------------------------------------------------------

def pixels(size=(64, 48)) -> PIL.Image.Image:
    """An image whose every pixel differs from its neighbours, so a re-encode would show."""
    width, height = size
    data = bytes((x * 7 + y * 13 + c * 71) % 256 for y in range(height) for x in range(width) for c in range(3))
    return PIL.Image.frombytes("RGB", size, data)


def exif_block(orientation: int = 6, gps: bool = True) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + big-endian TIFF) with IFD0, Exif, GPS, IFD1 and a thumbnail."""
    thumbnail = io.BytesIO()
    pixels((16, 12)).save(thumbnail, "JPEG")
    return piexif.dump({
        "0th": {
            piexif.ImageIFD.Orientation: orientation,
            piexif.ImageIFD.Make: b"Falcon",
            piexif.ImageIFD.Model: b"Test camera",
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2020:02:02 12:00:00",
            piexif.ExifIFD.FNumber: (28, 10),
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: LATITUDE,
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: LONGITUDE,
            piexif.GPSIFD.GPSAltitude: (35, 1),
        } if gps else {},
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumbnail.getvalue(),
    })


def coordinates(order: str = ">") -> list[bytes]:
    """The raw bytes of the latitude and longitude rationals as TIFF stores them."""
    return [struct.pack(order + "6I", *(n for pair in value for n in pair)) for value in (LATITUDE, LONGITUDE)]


def icc_profile() -> bytes:
    return PIL.ImageCms.ImageCmsProfile(PIL.ImageCms.createProfile("sRGB")).tobytes()


def photo(fmt: str, exif: bytes | None = None, xmp: bytes | None = None, **save) -> bytes:
    buffer = io.BytesIO()
    options = dict(save)
    if exif is not None:
        options["exif"] = exif
    if xmp is not None and fmt == "PNG":
        info = PIL.PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
        options["pnginfo"] = info
    elif xmp is not None:
        options["xmp"] = xmp
    if fmt == "WEBP":
        options.setdefault("lossless", True)
    pixels().save(buffer, fmt, icc_profile=icc_profile(), **options)
    return buffer.getvalue()


def with_exif_segment(jpeg: bytes, tiff: bytes) -> bytes:
    """``jpeg`` with an APP1 EXIF segment holding ``tiff`` right after SOI."""
    payload = EXIF_HEADER + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


# -- reading files back ------------------------------------------------------

def jpeg_segments(data: bytes) -> tuple[list[bytes], bytes]:
    """The marker segments before the first scan, and everything from SOS on."""
    segments, position = [], 2
    while data[position + 1] != 0xDA:
        length = int.from_bytes(data[position + 2: position + 4], "big")
        segments.append(data[position: position + 2 + length])
        position += 2 + length
    return segments, data[position:]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, whole chunk)`` of every chunk, each CRC checked."""
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position: position + 4], "big")
        kind, body = data[position + 4: position + 8], data[position + 8: position + 8 + length]
        crc = data[position + 8 + length: position + 12 + length]
        assert zlib.crc32(kind + body).to_bytes(4, "big") == crc
        chunks.append((kind, data[position: position + 12 + length]))
        position += 12 + length
    return chunks


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(fourcc, payload)`` of every chunk, checking RIFF sizes and padding on the way."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    chunks, position = [], 12
    while position < len(data):
        kind, length = data[position: position + 4], int.from_bytes(data[position + 4: position + 8], "little")
        chunks.append((kind, data[position + 8: position + 8 + length]))
        position += 8 + length + (length & 1)
    assert position == len(data)
    return chunks


def itxt_text(data: bytes) -> bytes:
    """The text of an uncompressed iTXt chunk's data."""
    _, _, rest = data.partition(b"\x00")
    assert rest[:1] == b"\x00"
    _, _, rest = rest[2:].partition(b"\x00")
    return rest.partition(b"\x00")[2]


def load_exif(block: bytes) -> dict:
    return piexif.load(block if block.startswith(EXIF_HEADER) else EXIF_HEADER + block)


def decoded(data: bytes) -> bytes:
    with PIL.Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def gps_found_by_pillow(data: bytes) -> dict:
    """The GPS IFD a reader finds in ``data`` (Pillow, which bounds its work on damaged EXIF)."""
    with PIL.Image.open(io.BytesIO(data)) as image:
        try:
            return dict(image.getexif().get_ifd(piexif.ImageIFD.GPSTag))
        except Exception:  # damaged beyond reading: there is no GPS IFD to find
            return {}


def assert_no_location(data: bytes) -> None:
    for raw in coordinates(">") + coordinates("<") + [XMP_LATITUDE, XMP_LONGITUDE]:
        assert raw not in data


def assert_location_gone_pixels_and_orientation_kept(stored: bytes, original: bytes) -> None:
    assert_no_location(stored)
    assert decoded(stored) == decoded(original)
    with PIL.Image.open(io.BytesIO(stored)) as image:
        assert image.getexif()[piexif.ImageIFD.Orientation] == 6


def assert_stripped_xmp(packet: bytes) -> None:
    assert not re.search(rb"(?i)gps", packet)
    assert b'xmp:Rating="4"' in packet
    assert b"<xmp:CreatorTool>falcon-img tests</xmp:CreatorTool>" in packet
    ElementTree.fromstring(packet)


def assert_stripped_exif(block: bytes, original_block: bytes) -> None:
    stored, original = load_exif(block), load_exif(original_block)
    assert stored["GPS"] == {}
    assert piexif.ImageIFD.GPSTag not in stored["0th"]
    assert stored["0th"] == {k: v for k, v in original["0th"].items() if k != piexif.ImageIFD.GPSTag}
    assert stored["0th"][piexif.ImageIFD.Orientation] == 6
    assert stored["Exif"] == original["Exif"]
    assert stored["1st"] == original["1st"]
    assert stored["thumbnail"] == original["thumbnail"]


def stored_upload(client, blobs_dir, data: bytes, filename: str) -> bytes:
    """Upload ``data``; check sha256, size and ETag describe the stored bytes; return them."""
    result = upload(client, data, filename)
    assert result.status_code == 201, result.text
    body = result.json
    stored = blob_path(blobs_dir, body["sha256"]).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == body["sha256"]
    assert len(stored) == body["size"]
    shown = client.simulate_get(body["image_url"]).json
    assert (shown["sha256"], shown["size"]) == (body["sha256"], body["size"])
    download = client.simulate_get(body["file_url"])
    assert download.status_code == 200
    assert download.headers["etag"] == f'"{body["sha256"]}"'
    assert int(download.headers["content-length"]) == len(stored)
    assert download.content == stored
    return stored


@pytest.fixture
def keeping_client(settings):
    """A client of an app started with FALCON_IMG_KEEP_METADATA=true."""
    application = create_app(settings.replace(keep_metadata=True))
    with db.connection():
        models.drop_tables()
        models.create_tables()
    yield falcon.testing.TestClient(application)
    db.database.close_all()


# -- through the API ---------------------------------------------------------

def test_upload_removes_gps_from_a_jpeg_and_keeps_orientation_pixels_and_other_segments(client, blobs_dir):
    original = photo("JPEG", exif=exif_block(), xmp=XMP, quality=90)
    assert all(raw in original for raw in coordinates(">"))

    stored = stored_upload(client, blobs_dir, original, "photo.jpg")

    assert_location_gone_pixels_and_orientation_kept(stored, original)
    segments, scan = jpeg_segments(stored)
    original_segments, original_scan = jpeg_segments(original)
    assert scan == original_scan
    assert len(segments) == len(original_segments)
    location = [(i, s) for i, s in enumerate(segments) if s[4:].startswith((EXIF_HEADER, XMP_HEADER))]
    assert [i for i, _ in location] == [
        i for i, s in enumerate(original_segments) if s[4:].startswith((EXIF_HEADER, XMP_HEADER))
    ]
    others = [s for i, s in enumerate(segments) if i not in dict(location)]
    assert others == [s for i, s in enumerate(original_segments) if i not in dict(location)]
    (exif_segment,) = [s for s in segments if s[4:].startswith(EXIF_HEADER)]
    (original_exif,) = [s for s in original_segments if s[4:].startswith(EXIF_HEADER)]
    assert_stripped_exif(exif_segment[4:], original_exif[4:])
    (xmp_segment,) = [s for s in segments if s[4:].startswith(XMP_HEADER)]
    assert_stripped_xmp(xmp_segment[4 + len(XMP_HEADER):])
    assert not blob_path(blobs_dir, hashlib.sha256(original).hexdigest()).exists()


def test_upload_removes_gps_from_a_png_exif_chunk_and_xmp(client, blobs_dir):
    original = photo("PNG", exif=exif_block(), xmp=XMP)

    stored = stored_upload(client, blobs_dir, original, "photo.png")

    assert_location_gone_pixels_and_orientation_kept(stored, original)
    chunks, original_chunks = png_chunks(stored), png_chunks(original)
    assert [kind for kind, _ in chunks] == [kind for kind, _ in original_chunks]
    for (kind, chunk), (_, original_chunk) in zip(chunks, original_chunks):
        if kind == b"eXIf":
            assert_stripped_exif(chunk[8:-4], original_chunk[8:-4])
        elif kind == b"iTXt":
            assert_stripped_xmp(itxt_text(chunk[8:-4]))
        else:
            assert chunk == original_chunk


def test_upload_removes_gps_from_a_webp_exif_chunk_and_xmp(client, blobs_dir):
    original = photo("WEBP", exif=exif_block(), xmp=XMP)

    stored = stored_upload(client, blobs_dir, original, "photo.webp")

    assert_location_gone_pixels_and_orientation_kept(stored, original)
    chunks, original_chunks = webp_chunks(stored), webp_chunks(original)
    assert [kind for kind, _ in chunks] == [kind for kind, _ in original_chunks]
    for (kind, payload), (_, original_payload) in zip(chunks, original_chunks):
        if kind == b"EXIF":
            assert_stripped_exif(payload, original_payload)
        elif kind == b"XMP ":
            assert_stripped_xmp(payload)
        else:
            assert payload == original_payload


@pytest.mark.parametrize(
    ("fmt", "filename"),
    [("JPEG", "plain.jpg"), ("PNG", "plain.png"), ("WEBP", "plain.webp"), ("GIF", "plain.gif")],
)
def test_upload_stores_an_image_without_location_byte_for_byte(client, blobs_dir, fmt, filename):
    original = image_bytes(fmt)
    assert stored_upload(client, blobs_dir, original, filename) == original


def test_upload_stores_a_photo_whose_exif_has_no_gps_byte_for_byte(client, blobs_dir):
    original = photo("JPEG", exif=exif_block(gps=False), xmp=XMP.replace(b"GPS", b"Gallery"))
    assert stored_upload(client, blobs_dir, original, "nogps.jpg") == original


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_keep_metadata_stores_files_byte_for_byte_with_gps(keeping_client, blobs_dir, fmt):
    original = photo(fmt, exif=exif_block(), xmp=XMP)
    stored = stored_upload(keeping_client, blobs_dir, original, f"kept.{fmt.lower()}")
    assert stored == original
    assert all(raw in stored for raw in coordinates(">"))


def test_the_same_photo_uploaded_twice_is_stored_once_after_stripping(client, blobs_dir):
    original = photo("JPEG", exif=exif_block())
    first = upload(client, original, "one.jpg").json
    second = upload(client, original, "two.jpg").json
    assert first["sha256"] == second["sha256"]
    assert first["size"] == second["size"] == blob_path(blobs_dir, first["sha256"]).stat().st_size


# -- hostile metadata ------------------------------------------------------

def entry(order: str, tag: int, kind: int, count: int, value: int) -> bytes:
    if kind == 3 and count == 1:
        return struct.pack(order + "HHIHH", tag, kind, count, value, 0)
    return struct.pack(order + "HHII", tag, kind, count, value)


def gps_ifd(order: str, offset: int, next_offset: int = 0, count: int | None = None) -> bytes:
    """A GPS IFD at ``offset`` with latitude and longitude, their values right after it."""
    values = offset + 2 + 24 + 4
    table = struct.pack(order + "H", 2 if count is None else count)
    table += entry(order, 2, 5, 3, values) + entry(order, 4, 5, 3, values + 24)
    return table + struct.pack(order + "I", next_offset) + b"".join(coordinates(order))


def header(order: str, ifd0: int) -> bytes:
    return (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", ifd0)


def cyclic_offsets(order: str = "<") -> bytes:
    # IFD0's next IFD and its Exif pointer lead back to IFD0; the GPS IFD's next to itself.
    ifd0 = struct.pack(order + "H", 3) + entry(order, 0x0112, 3, 1, 6) + entry(order, 0x8769, 4, 1, 8)
    ifd0 += entry(order, 0x8825, 4, 1, 50) + struct.pack(order + "I", 8)
    return header(order, 8) + ifd0 + gps_ifd(order, 50, next_offset=50)


def truncated_ifd0(order: str = ">") -> bytes:
    # The GPS IFD comes first; IFD0 is last and its next-IFD offset is cut off.
    gps = gps_ifd(order, 8)
    ifd0 = struct.pack(order + "H", 2) + entry(order, 0x0112, 3, 1, 6) + entry(order, 0x8825, 4, 1, 8)
    return header(order, 8 + len(gps)) + gps + ifd0


def truncated_values(order: str = "<") -> bytes:
    # The block ends halfway through the longitude.
    ifd0 = struct.pack(order + "H", 2) + entry(order, 0x0112, 3, 1, 6) + entry(order, 0x8825, 4, 1, 38)
    ifd0 += struct.pack(order + "I", 0)
    return (header(order, 8) + ifd0 + gps_ifd(order, 38))[:-12]


def huge_ifd0_count(order: str = "<") -> bytes:
    ifd0 = struct.pack(order + "H", 0xFFFF) + entry(order, 0x0112, 3, 1, 6) + entry(order, 0x8825, 4, 1, 38)
    ifd0 += struct.pack(order + "I", 0)
    return header(order, 8) + ifd0 + gps_ifd(order, 38)


def huge_gps_count(order: str = ">") -> bytes:
    ifd0 = struct.pack(order + "H", 2) + entry(order, 0x0112, 3, 1, 6) + entry(order, 0x8825, 4, 1, 38)
    ifd0 += struct.pack(order + "I", 0)
    return header(order, 8) + ifd0 + gps_ifd(order, 38, count=0xFFFF)


def gps_pointer_out_of_range(order: str = "<") -> bytes:
    ifd0 = struct.pack(order + "H", 2) + entry(order, 0x0112, 3, 1, 6)
    ifd0 += entry(order, 0x8825, 4, 1, 0xFFFFFFF0) + struct.pack(order + "I", 0xFFFFFF00)
    return header(order, 8) + ifd0 + b"".join(coordinates(order))


def not_tiff(order: str = "<") -> bytes:
    return b"JUNK" + b"".join(coordinates(order))


def ifd0_out_of_range(order: str = ">") -> bytes:
    return header(order, 0xFFFFFFF0) + b"".join(coordinates(order))


HOSTILE = {
    # name: (block, whether the orientation can still be read from it)
    "cyclic offsets": (cyclic_offsets, True),
    "truncated IFD0": (truncated_ifd0, True),
    "truncated GPS values": (truncated_values, True),
    "huge IFD0 entry count": (huge_ifd0_count, True),
    "huge GPS entry count": (huge_gps_count, True),
    "GPS pointer out of range": (gps_pointer_out_of_range, True),
    "not TIFF": (not_tiff, False),
    "IFD0 out of range": (ifd0_out_of_range, False),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's own complaints about the input
@pytest.mark.parametrize("name", list(HOSTILE))
def test_upload_with_hostile_exif_is_stored_without_location(client, blobs_dir, name):
    make, orientation_readable = HOSTILE[name]
    original = with_exif_segment(image_bytes("JPEG", quality=90), make())

    stored = stored_upload(client, blobs_dir, original, "hostile.jpg")

    assert decoded(stored) == decoded(original)
    for raw in coordinates("<") + coordinates(">"):
        assert raw[:16] not in stored
    segments, scan = jpeg_segments(stored)
    assert scan == jpeg_segments(original)[1]
    exif_segments = [s for s in segments if s[4:].startswith(EXIF_HEADER)]
    if orientation_readable:
        (segment,) = exif_segments
        exif = load_exif(segment[4:])
        assert exif["GPS"] == {}
        assert exif["0th"][piexif.ImageIFD.Orientation] == 6
        with PIL.Image.open(io.BytesIO(stored)) as image:
            assert image.getexif()[piexif.ImageIFD.Orientation] == 6
    else:
        assert exif_segments == []


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow reading the damaged input
def test_damaged_exif_never_breaks_the_strip_nor_keeps_a_readable_gps_ifd(tmp_path):
    rng = random.Random(20240601)
    original = photo("JPEG", exif=exif_block(), quality=90)
    start = original.index(EXIF_HEADER) + len(EXIF_HEADER)
    end = start + int.from_bytes(original[start - 8: start - 6], "big") - 8
    original_pixels = decoded(original)
    path = tmp_path / "damaged.jpg"
    with_readable_gps = 0
    for _ in range(150):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(start, end - 4)
            width = rng.choice([1, 2, 4])
            damaged[at: at + width] = rng.choice([b"\xff", b"\x00", bytes([rng.randrange(256)])]) * width
        path.write_bytes(bytes(damaged))
        with_readable_gps += bool(gps_found_by_pillow(bytes(damaged)))

        strip_location(path, "JPEG")

        stripped = path.read_bytes()
        assert decoded(stripped) == original_pixels
        assert gps_found_by_pillow(stripped) == {}
    assert with_readable_gps > 50


def test_xmp_whose_gps_cannot_be_cut_out_cleanly_is_dropped(tmp_path):
    broken = XMP.replace(b"</exif:GPSAltitude>", b"")
    original = photo("WEBP", exif=exif_block(), xmp=broken)
    path = tmp_path / "broken.webp"
    path.write_bytes(original)

    assert strip_location(path, "WEBP") is True

    stored = path.read_bytes()
    chunks = webp_chunks(stored)
    assert [kind for kind, _ in chunks] == [kind for kind, _ in webp_chunks(original) if kind != b"XMP "]
    vp8x = dict(chunks)[b"VP8X"]
    assert vp8x[0] & 0x04 == 0 and vp8x[0] & 0x08
    assert_no_location(stored)
    assert decoded(stored) == decoded(original)


def test_webp_exif_that_cannot_be_read_is_dropped(tmp_path):
    original = photo("WEBP", exif=not_tiff())
    path = tmp_path / "junk.webp"
    path.write_bytes(original)

    assert strip_location(path, "WEBP") is True

    stored = path.read_bytes()
    chunks = webp_chunks(stored)
    assert b"EXIF" not in dict(chunks)
    assert dict(chunks)[b"VP8X"][0] & 0x08 == 0
    assert decoded(stored) == decoded(original)


def test_png_text_chunks_carrying_gps_are_removed_and_others_kept(tmp_path):
    exif = exif_block()
    hex_digits = exif.hex()
    raw_profile = "\nexif\n%8d\n%s\n" % (len(exif), "\n".join(
        hex_digits[i: i + 72] for i in range(0, len(hex_digits), 72)
    ))
    info = PIL.PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", raw_profile, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode("utf-8"), zip=True)
    info.add_text("Comment", "taken at 48,51.406N", zip=False)
    buffer = io.BytesIO()
    pixels().save(buffer, "PNG", pnginfo=info)
    original = buffer.getvalue()
    path = tmp_path / "text.png"
    path.write_bytes(original)

    assert strip_location(path, "PNG") is True

    stored = path.read_bytes()
    kinds = [kind for kind, _ in png_chunks(stored)]
    assert kinds == [kind for kind, _ in png_chunks(original) if kind not in (b"zTXt", b"iTXt")]
    assert b"Comment\x00taken at" in stored
    assert decoded(stored) == decoded(original)


def test_strip_leaves_files_without_location_untouched(tmp_path):
    gif = tmp_path / "plain.gif"
    gif.write_bytes(image_bytes("GIF"))
    jpeg = tmp_path / "nogps.jpg"
    jpeg.write_bytes(photo("JPEG", exif=exif_block(gps=False)))
    before = {path: path.stat() for path in (gif, jpeg)}

    assert strip_location(gif, "GIF") is False
    assert strip_location(jpeg, "JPEG") is False

    for path, stat in before.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert sorted(tmp_path.iterdir()) == sorted(before)


# -- multi-picture JPEGs (phone cameras) -------------------------------------

def multi_picture_photo() -> bytes:
    """A two-picture MPO like a phone writes: both pictures carry GPS in their EXIF."""
    buffer = io.BytesIO()
    second = pixels().transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)
    pixels().save(buffer, "MPO", save_all=True, append_images=[second], exif=exif_block(), quality=90)
    return buffer.getvalue()


def test_a_multi_picture_jpeg_is_accepted_as_jpeg_and_keeps_only_its_clean_primary_picture(client, blobs_dir):
    original = multi_picture_photo()
    with PIL.Image.open(io.BytesIO(original)) as opened:
        assert opened.format == "MPO" and opened.n_frames == 2
        primary = opened.convert("RGB").tobytes()
    assert sum(original.count(raw) for raw in coordinates(">")) >= 2
    result = upload(client, original, "phone.jpg")
    assert result.status_code == 201, result.text
    assert result.json["content_type"] == "image/jpeg"
    stored = stored_upload(client, blobs_dir, original, "phone-again.jpg")
    assert_no_location(stored)
    assert b"MPF\x00" not in stored
    with PIL.Image.open(io.BytesIO(stored)) as kept:
        assert kept.format == "JPEG"
        assert getattr(kept, "n_frames", 1) == 1
        assert kept.convert("RGB").tobytes() == primary
        assert kept.getexif()[0x0112] == 6
    # What remains is the original's first picture, byte for byte, but for its metadata.
    assert stored.endswith(b"\xff\xd9")
    assert len(stored) < len(original)


def test_a_multi_picture_jpeg_is_kept_byte_for_byte_when_asked(keeping_client, blobs_dir):
    original = multi_picture_photo()
    result = upload(keeping_client, original, "phone.jpg")
    assert result.status_code == 201, result.text
    assert blob_path(blobs_dir, result.json["sha256"]).read_bytes() == original
