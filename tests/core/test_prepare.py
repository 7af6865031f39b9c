"""Input preparation against a corpus of real photos and bad inputs built in tmp_path."""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

from rhdesk.core import imageops
from rhdesk.core.prepare import (
    SUPPORTED_DESCRIPTION,
    ImageInfo,
    ImageProblem,
    PreparedImage,
    inspect_image,
    prepare_image,
    upload_filename,
)

# The shared photo set lives beside the repository, as in tests/conftest.py.
TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
MB = 1024 * 1024
GPS_IFD = 0x8825
MODEL = 0x0110
ORIENTATION = 0x0112


# --- builders -------------------------------------------------------------------------------------


def photo(name: str) -> Path:
    path = TESTDATA / name
    if not path.exists():
        pytest.skip(f"test photo {name} is missing")
    return path


def rocket() -> Image.Image:
    with Image.open(photo("rocket.jpg")) as im:
        return im.convert("RGB")


def camera_exif(*, orientation: int = 1, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestMaker"
    exif[MODEL] = "TestCam 1"
    exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)}
    return exif


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def handmade_png(width: int, height: int, depth: int, colour_type: int, rows: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def header_only_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width×height but holds almost no data: costs a few bytes."""
    path.write_bytes(handmade_png(width, height, 1, 0, b"\x00"))
    return path


def marked_image(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """White with a red block in the top-left corner, to see where a rotation moves it."""
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    return img


def decoded(prepared: PreparedImage) -> Image.Image:
    im = Image.open(io.BytesIO(prepared.data))
    im.load()
    return im


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first start-of-scan marker: the compressed pixels."""
    return jpeg[jpeg.index(b"\xff\xda") :]


def is_reddish(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > 200 and rgb[1] < 80 and rgb[2] < 80


def cutout() -> Image.Image:
    """The rocket photo cut out with a soft oval: real transparency (logo.png is fully opaque)."""
    img = rocket().convert("RGBA")
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).ellipse((60, 20, 580, 400), fill=255)
    img.putalpha(mask)
    return img


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))


# --- originals that need nothing -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["rocket.jpg", "astronaut.png", "logo.png", "chelsea.png"])
def test_real_photo_that_needs_nothing_is_uploaded_untouched(name: str) -> None:
    path = photo(name)
    prepared = prepare_image(path)
    assert prepared.data == path.read_bytes()
    assert prepared.source == path
    assert prepared.filename == name
    assert prepared.content_type == ("image/jpeg" if name.endswith(".jpg") else "image/png")
    with Image.open(path) as im:
        assert (prepared.width, prepared.height) == im.size
    assert prepared.notes == ()


def test_inspect_reads_header_facts() -> None:
    info = inspect_image(photo("rocket.jpg"))
    assert isinstance(info, ImageInfo)
    assert (info.format, info.width, info.height, info.mode) == ("JPEG", 640, 427, "RGB")
    assert info.file_size == photo("rocket.jpg").stat().st_size
    assert not info.has_alpha and not info.animated and not info.has_gps
    assert info.notes == ()
    logo = inspect_image(photo("logo.png"))
    assert logo.format == "PNG" and logo.has_alpha


def test_png_named_jpg_is_sniffed_as_png(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    shutil.copy(photo("astronaut.png"), path)
    assert inspect_image(path).format == "PNG"
    prepared = prepare_image(path)
    assert prepared.content_type == "image/png"
    assert prepared.filename == "holiday.png"
    assert prepared.data == path.read_bytes()


def test_grayscale_jpeg_passes_through(tmp_path: Path) -> None:
    path = tmp_path / "grey.jpg"
    rocket().convert("L").save(path, quality=90)
    prepared = prepare_image(path)
    assert prepared.data == path.read_bytes()


def test_palette_png_with_transparency_passes_through(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    img = Image.new("P", (320, 320), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    ImageDraw.Draw(img).rectangle((0, 0, 160, 320), fill=1)
    img.save(path, transparency=0)
    prepared = prepare_image(path)
    assert prepared.data == path.read_bytes()


# --- bad inputs -----------------------------------------------------------------------------------


def _bad_corpus(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (path, words the refusal must contain)."""
    corpus: dict[str, tuple[Path, str]] = {}

    def add(key: str, path: Path, words: str) -> None:
        corpus[key] = (path, words)

    text = tmp_path / "holiday.jpg"
    text.write_text("Dear diary, today we went to the beach.\n" * 20, encoding="utf-8")
    add("text", text, "it looks like text")

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x00\x01\x02\xfe" + os.urandom(4000))
    add("corrupt", corrupt, "is not an image")

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    add("empty", empty, "is empty")

    half = tmp_path / "half.jpg"
    data = photo("rocket.jpg").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    add("truncated", half, "damaged or incomplete")

    broken_png = tmp_path / "broken.png"
    good = photo("coffee.png").read_bytes()
    broken_png.write_bytes(good[:200] + bytes(b ^ 0x5A for b in good[200:4000]) + good[4000:])
    add("garbled png", broken_png, "damaged or incomplete")

    add("missing", tmp_path / "gone.jpg", "could not be found")

    folder = tmp_path / "album.jpg"
    folder.mkdir()
    add("folder", folder, "is a folder")

    add("huge", header_only_png(tmp_path / "big.png", 50000, 50000), "is too large (50000×50000")
    # Between our 200 MP limit and twice it, where Pillow only warns: still refused.
    add("warned", header_only_png(tmp_path / "wide.png", 20000, 11000), "is too large")

    pdf = tmp_path / "scan.jpg"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    add("pdf", pdf, "PDF document")

    svg = tmp_path / "drawing.png"
    svg.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    add("svg", svg, "SVG")

    html = tmp_path / "download.jpg"
    html.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    add("html", html, "web page")

    psd = tmp_path / "layers.psd"
    header = b"8BPS" + struct.pack(">H", 1) + b"\0" * 6 + struct.pack(">HIIHH", 3, 1, 1, 8, 3)
    psd.write_bytes(header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + b"\x10\x20\x30")
    add("psd", psd, "Photoshop (PSD)")

    ico = tmp_path / "favicon.ico"
    rocket().save(ico, sizes=[(32, 32)])
    add("ico", ico, "Windows icon (ICO)")

    raw = tmp_path / "IMG_0001.dng"
    rocket().save(raw, "TIFF")
    add("raw", raw, "camera RAW")
    return corpus


BAD_KEYS = [
    "text", "corrupt", "empty", "truncated", "garbled png", "missing", "folder", "huge", "warned",
    "pdf", "svg", "html", "psd", "ico", "raw",
]  # fmt: skip


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_input_is_refused_with_a_sentence_naming_the_file(tmp_path: Path, key: str) -> None:
    path, words = _bad_corpus(tmp_path)[key]
    with pytest.raises(ImageProblem) as caught:
        prepare_image(path)
    problem = caught.value
    message = str(problem)
    assert message.startswith(f'"{path.name}" '), message
    assert str(path.parent) not in message  # the name, not the full path
    assert words in message, message
    assert message.endswith(".")
    assert problem.path == path
    assert path.name not in problem.reason
    assert problem.reason[0].isupper() and problem.reason.endswith(".")


@pytest.mark.parametrize("key", [k for k in BAD_KEYS if k not in ("truncated", "garbled png")])
def test_inspect_refuses_the_same_inputs(tmp_path: Path, key: str) -> None:
    path, words = _bad_corpus(tmp_path)[key]
    with pytest.raises(ImageProblem, match=re.escape(words)):
        inspect_image(path)


def test_text_refusal_reads_as_a_sentence(tmp_path: Path) -> None:
    path, _ = _bad_corpus(tmp_path)["text"]
    with pytest.raises(ImageProblem) as caught:
        prepare_image(path)
    assert str(caught.value) == '"holiday.jpg" is not an image (it looks like text).'
    assert caught.value.reason == "This file is not an image (it looks like text)."


def test_huge_refusal_gives_dimensions_and_limit(tmp_path: Path) -> None:
    path = header_only_png(tmp_path / "big.png", 40000, 40000)
    with pytest.raises(ImageProblem) as caught:
        inspect_image(path)
    assert str(caught.value) == (
        '"big.png" is too large (40000×40000 pixels); the limit is 200 megapixels.'
    )


def test_bomb_guard_leaves_global_warning_filters_alone(tmp_path: Path) -> None:
    before = list(warnings.filters)
    for size in ((20000, 11000), (50000, 50000)):
        with pytest.raises(ImageProblem):
            prepare_image(header_only_png(tmp_path / f"b{size[0]}.png", *size))
    assert warnings.filters == before
    assert Image.MAX_IMAGE_PIXELS == imageops.MAX_PIXELS


def test_image_problem_survives_pickling(tmp_path: Path) -> None:
    problem = ImageProblem(tmp_path / "x.png", "is empty (0 bytes).")
    clone = pickle.loads(pickle.dumps(problem))
    assert (str(clone), clone.reason, clone.path) == (str(problem), problem.reason, problem.path)


def test_missing_heif_plugin_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "IMG_1234.HEIC"
    # ftyp box of an iPhone photo; the rest does not matter once the plugin is missing.
    path.write_bytes(struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + b"\0" * 64)
    monkeypatch.setattr(imageops, "_heif_ready", False)
    with pytest.raises(ImageProblem, match="HEIC needs the pillow-heif plugin"):
        prepare_image(path)


# --- orientation, metadata, colour --------------------------------------------------------------


def test_exif_rotated_jpeg_is_uploaded_upright(tmp_path: Path) -> None:
    path = tmp_path / "portrait.jpg"
    marked_image((600, 400)).save(path, exif=camera_exif(orientation=6), quality=95)

    info = inspect_image(path)
    assert (info.width, info.height) == (400, 600)
    assert any("upright" in n for n in info.notes)

    prepared = prepare_image(path)
    assert (prepared.width, prepared.height) == (400, 600)
    assert "Rotated upright (EXIF)" in prepared.notes
    out = decoded(prepared)
    assert out.size == (400, 600)
    # Orientation 6 means "turn 90° clockwise to view": the stored top-left corner ends top-right.
    assert is_reddish(out.getpixel((390, 10)))
    assert not is_reddish(out.getpixel((10, 10)))
    exif = out.getexif()
    assert exif.get(ORIENTATION, 1) == 1
    assert exif[MODEL] == "TestCam 1"


def test_rotated_png_is_turned_and_stays_png(tmp_path: Path) -> None:
    path = tmp_path / "turned.png"
    marked_image((600, 400)).save(path, exif=camera_exif(orientation=8))
    prepared = prepare_image(path)
    assert prepared.content_type == "image/png"
    out = decoded(prepared)
    assert out.size == (400, 600)
    # Orientation 8 turns 90° counter-clockwise: the stored top-left corner ends bottom-left.
    assert is_reddish(out.getpixel((10, 590)))


def test_gps_is_stripped_losslessly_and_camera_kept(tmp_path: Path) -> None:
    path = tmp_path / "beach.jpg"
    rocket().save(path, exif=camera_exif(gps=True), quality=92)
    original = path.read_bytes()

    info = inspect_image(path)
    assert info.has_gps
    assert "GPS location will be removed before upload" in info.notes

    prepared = prepare_image(path)
    assert "GPS removed" in prepared.notes
    assert scan_data(prepared.data) == scan_data(original)  # pixels not re-encoded
    exif = decoded(prepared).getexif()
    assert GPS_IFD not in exif
    assert exif[MODEL] == "TestCam 1"

    kept = prepare_image(path, strip_gps=False)
    assert kept.data == original


def test_gps_is_stripped_when_re_encoding(tmp_path: Path) -> None:
    path = tmp_path / "trip.jpg"
    rocket().save(path, exif=camera_exif(orientation=6, gps=True), quality=92)
    prepared = prepare_image(path)
    exif = decoded(prepared).getexif()
    assert GPS_IFD not in exif
    assert exif[MODEL] == "TestCam 1"
    assert {"Rotated upright (EXIF)", "GPS removed"} <= set(prepared.notes)


def test_gps_in_xmp_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "lightroom.jpg"
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'exif:GPSLatitude="52,22.0N" exif:GPSLongitude="4,53.0E"/></rdf:RDF></x:xmpmeta>'
    )
    rocket().save(path, xmp=xmp, quality=90)
    assert inspect_image(path).has_gps
    prepared = prepare_image(path)
    assert b"GPSLatitude" not in prepared.data
    assert scan_data(prepared.data) == scan_data(path.read_bytes())


def test_icc_profile_is_kept_when_converting(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = tmp_path / "tagged.jpg"
    rocket().save(jpeg, icc_profile=icc, exif=camera_exif(orientation=3))
    webp = tmp_path / "tagged.webp"
    rocket().save(webp, icc_profile=icc, lossless=True)
    for path in (jpeg, webp):
        info = inspect_image(path)
        assert info.has_icc
        out = decoded(prepare_image(path))
        assert out.info.get("icc_profile") == icc, path.name


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (400, 300), (255, 0, 0, 0)).save(path, quality=95)
    info = inspect_image(path)
    assert info.mode == "CMYK"
    assert "CMYK will be converted to RGB" in info.notes
    prepared = prepare_image(path)
    assert prepared.content_type == "image/jpeg"
    out = decoded(prepared)
    assert out.mode == "RGB"
    r, g, b = out.getpixel((200, 150))
    assert r < 40 and g > 215 and b > 215  # cyan ink is cyan light
    assert any("CMYK" in n for n in prepared.notes)


def test_16_bit_grey_png_keeps_its_mid_grey(tmp_path: Path) -> None:
    path = tmp_path / "scan16.png"
    Image.new("I;16", (320, 320), 32896).save(path)
    info = inspect_image(path)
    assert info.mode == "I;16"
    assert "16-bit image will be converted to 8-bit" in info.notes
    prepared = prepare_image(path)
    out = decoded(prepared)
    assert prepared.content_type == "image/png"
    assert out.mode == "L"
    assert out.getpixel((5, 5)) == 128  # not clipped to white
    assert "Converted 16-bit image to 8-bit" in prepared.notes


def test_16_bit_tiff_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.tif"
    Image.new("I;16", (320, 320), 16448).save(path)
    out = decoded(prepare_image(path))
    assert out.mode == "L" and out.getpixel((0, 0)) == 64


def test_48_bit_rgb_png_becomes_8_bit(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    row = b"\x00" + struct.pack(">HHH", 0x8080, 0x4000, 0xFFFF) * 320
    path.write_bytes(handmade_png(320, 320, 16, 2, row * 320))
    assert "16-bit image will be converted to 8-bit" in inspect_image(path).notes
    prepared = prepare_image(path)
    assert prepared.data != path.read_bytes()
    out = decoded(prepared)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (128, 64, 255)


# --- format conversions ---------------------------------------------------------------------------


def test_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    png = tmp_path / "cutout.png"
    cutout().save(png)
    assert inspect_image(png).has_alpha
    assert prepare_image(png).data == png.read_bytes()

    path = tmp_path / "cutout.webp"
    cutout().save(path, lossless=True)
    prepared = prepare_image(path)
    assert prepared.content_type == "image/png"
    out = decoded(prepared)
    assert out.mode == "RGBA"
    assert out.getchannel("A").getextrema()[0] < 255
    assert "Converted from WebP to PNG" in prepared.notes


def test_lossy_webp_becomes_jpeg_and_lossless_webp_becomes_png(tmp_path: Path) -> None:
    lossy, lossless = tmp_path / "web.webp", tmp_path / "flat.webp"
    rocket().save(lossy, quality=80)
    rocket().save(lossless, lossless=True)
    assert prepare_image(lossy).content_type == "image/jpeg"
    assert "Will be converted to JPEG (WebP is not accepted by the model)" in (
        inspect_image(lossy).notes
    )
    assert prepare_image(lossless).content_type == "image/png"
    assert "Will be converted to PNG (WebP is not accepted by the model)" in (
        inspect_image(lossless).notes
    )


@pytest.mark.parametrize("fmt,suffix", [("BMP", ".bmp"), ("TIFF", ".tif")])
def test_lossless_sources_become_identical_png(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"scan{suffix}"
    with Image.open(photo("coffee.png")) as src:
        src.convert("RGB").save(path, fmt)
        expected = src.convert("RGB").tobytes()
    prepared = prepare_image(path)
    assert prepared.content_type == "image/png"
    assert prepared.filename == "scan.png"
    assert decoded(prepared).convert("RGB").tobytes() == expected
    assert inspect_image(path).format == fmt


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "blink.gif"
    frames = [Image.new("RGB", (320, 320), c) for c in ("red", "lime", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    info = inspect_image(path)
    assert info.animated
    assert "Only the first frame of this animation is used" in info.notes
    prepared = prepare_image(path)
    assert prepared.content_type == "image/png"
    assert "Used only the first frame of the animation" in prepared.notes
    assert decoded(prepared).convert("RGB").getpixel((10, 10)) == (255, 0, 0)


def test_transparent_gif_keeps_transparency(tmp_path: Path) -> None:
    path = tmp_path / "sticker.gif"
    img = Image.new("P", (320, 320), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    ImageDraw.Draw(img).ellipse((40, 40, 280, 280), fill=1)
    img.save(path, transparency=0)
    out = decoded(prepare_image(path))
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((160, 160)) == (255, 0, 0, 255)


def test_mpo_uploads_its_first_picture_untouched(tmp_path: Path) -> None:
    path = tmp_path / "stereo.mpo"
    first = rocket()
    with Image.open(photo("coffee.png")) as second:
        first.save(path, "MPO", save_all=True, append_images=[second.convert("RGB")])
    info = inspect_image(path)
    assert info.format == "MPO"
    assert "Only the first picture in this file is used" in info.notes
    prepared = prepare_image(path)
    assert prepared.content_type == "image/jpeg" and prepared.filename == "stereo.jpg"
    assert (prepared.width, prepared.height) == first.size
    assert len(prepared.data) < path.stat().st_size
    assert b"MPF\x00" not in prepared.data
    with Image.open(path) as src:
        src.load()
        assert decoded(prepared).tobytes() == src.tobytes()


def test_only_png_allowed_converts_jpeg(tmp_path: Path) -> None:
    prepared = prepare_image(photo("rocket.jpg"), formats=("PNG",))
    assert prepared.content_type == "image/png" and prepared.filename == "rocket.png"
    assert "Converted from JPEG to PNG" in prepared.notes


def test_only_jpeg_allowed_flattens_alpha(tmp_path: Path) -> None:
    path = tmp_path / "cutout.png"
    cutout().save(path)
    prepared = prepare_image(path, formats=("JPEG",))
    assert prepared.content_type == "image/jpeg"
    out = decoded(prepared)
    assert out.mode == "RGB"
    assert out.getpixel((2, 2)) == (255, 255, 255)
    assert "Transparency flattened onto white (JPEG has none)" in prepared.notes


def test_bad_formats_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        prepare_image(photo("rocket.jpg"), formats=("GIF",))


def test_heic_round_trip(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow-heif wheel has no HEVC encoder to make a test HEIC")
    assert imageops.heif_plugin_ready()
    path = tmp_path / "IMG_0042.HEIC"
    rocket().save(path, "HEIF", quality=85, exif=camera_exif(gps=True))
    info = inspect_image(path)
    assert info.format == "HEIF"
    assert (info.width, info.height) == (640, 427)
    assert "Will be converted to JPEG (HEIC is not accepted by the model)" in info.notes
    assert info.has_gps
    prepared = prepare_image(path)
    assert prepared.content_type == "image/jpeg" and prepared.filename == "IMG_0042.jpg"
    assert prepared.notes[0].startswith("Converted from HEIC to JPEG")
    out = decoded(prepared)
    assert out.size == (640, 427)
    assert GPS_IFD not in out.getexif() and out.getexif()[MODEL] == "TestCam 1"


# --- size limits ----------------------------------------------------------------------------------


def test_noisy_jpeg_over_the_limit_is_brought_under(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    noise((3000, 2000)).save(path, quality=95, exif=camera_exif())
    assert path.stat().st_size > MB
    info = inspect_image(path, max_bytes=MB)
    assert "Will be reduced to fit the 1 MB limit" in info.notes
    prepared = prepare_image(path, max_bytes=MB)
    assert len(prepared.data) <= MB
    assert prepared.content_type == "image/jpeg"
    out = decoded(prepared)
    assert out.size == (prepared.width, prepared.height)
    assert any(n.startswith("Reduced from") for n in prepared.notes), prepared.notes
    assert out.getexif()[MODEL] == "TestCam 1"


def test_jpeg_slightly_over_the_limit_only_loses_quality(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    big = rocket().resize((1920, 1280))
    big.save(path, quality=100, subsampling=0)
    limit = path.stat().st_size * 3 // 4
    prepared = prepare_image(path, max_bytes=limit)
    assert len(prepared.data) <= limit
    assert (prepared.width, prepared.height) == (1920, 1280)
    assert any("JPEG quality" in n for n in prepared.notes), prepared.notes
    assert not any(n.startswith("Scaled down") for n in prepared.notes)


def test_big_rgba_png_is_scaled_and_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "overlay.png"
    noise((700, 500), "RGBA").save(path, compress_level=1)
    prepared = prepare_image(path, max_bytes=MB)
    assert len(prepared.data) <= MB
    assert prepared.content_type == "image/png"
    assert decoded(prepared).mode == "RGBA"
    assert any(n.startswith("Scaled down to") for n in prepared.notes)


def test_big_opaque_png_becomes_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "render.png"
    noise((700, 500)).save(path, compress_level=1)
    prepared = prepare_image(path, max_bytes=MB)
    assert len(prepared.data) <= MB
    assert prepared.content_type == "image/jpeg" and prepared.filename == "render.jpg"
    assert prepared.notes[0].startswith("Converted from PNG to JPEG")
    assert "to fit 1 MB" in prepared.notes[0]


def test_impossible_limit_terminates_with_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "static.png"
    noise((400, 400), "RGBA").save(path, compress_level=1)
    with pytest.raises(ImageProblem, match='"static.png" cannot be made to fit'):
        prepare_image(path, max_bytes=1024)


# --- names, paths, notes --------------------------------------------------------------------------


def test_unicode_path_works_and_upload_name_is_ascii(tmp_path: Path) -> None:
    folder = tmp_path / "相册 été"
    folder.mkdir()
    path = folder / "照片 ü.jpg"
    shutil.copy(photo("rocket.jpg"), path)
    prepared = prepare_image(path)
    assert prepared.filename == "u.jpg"
    assert prepared.filename.isascii()
    assert inspect_image(path).format == "JPEG"

    only_cjk = folder / "照片.png"
    shutil.copy(photo("coffee.png"), only_cjk)
    assert prepare_image(only_cjk).filename == "image.png"

    missing = folder / "不存在.jpg"
    with pytest.raises(ImageProblem, match='"不存在.jpg"'):
        prepare_image(missing)


@pytest.mark.parametrize(
    "stem,fmt,expected",
    [
        ("Café crème", "JPEG", "Cafe_creme.jpg"),
        ("../../etc/passwd", "PNG", "passwd.png"),
        ("...", "PNG", "image.png"),
        ("a" * 200, "JPEG", "a" * 80 + ".jpg"),
        ("IMG_0001 (1)", "JPEG", "IMG_0001_1.jpg"),
    ],
)
def test_upload_filename(stem: str, fmt: str, expected: str) -> None:
    assert upload_filename(Path(f"/x/{stem}.heic"), fmt) == expected


def test_small_and_narrow_images_get_a_note_not_a_refusal(tmp_path: Path) -> None:
    small = tmp_path / "icon.png"
    rocket().resize((200, 150)).save(small)
    assert any(n.startswith("Very small (200×150)") for n in inspect_image(small).notes)
    assert any(n.startswith("Very small") for n in prepare_image(small).notes)

    tiny = tmp_path / "dot.png"
    Image.new("RGB", (8, 8), "blue").save(tiny)
    assert prepare_image(tiny).width == 8

    strip = tmp_path / "banner.png"
    rocket().resize((3400, 200)).save(strip)
    assert any("long and narrow" in n for n in inspect_image(strip).notes)


def test_supported_description_names_the_main_formats() -> None:
    for name in ("JPEG", "PNG", "HEIC", "WebP"):
        assert name in SUPPORTED_DESCRIPTION


def test_png_with_gps_is_re_saved_losslessly_without_it(tmp_path: Path) -> None:
    path = tmp_path / "screenshot.png"
    with Image.open(photo("coffee.png")) as src:
        src.save(path, exif=camera_exif(gps=True))
        expected = src.convert("RGB").tobytes()
    assert inspect_image(path).has_gps
    prepared = prepare_image(path)
    out = decoded(prepared)
    assert prepared.content_type == "image/png"
    assert out.convert("RGB").tobytes() == expected
    assert GPS_IFD not in out.getexif()
    assert "GPS removed" in prepared.notes


def test_multi_page_tiff_uses_first_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    pages = [Image.new("RGB", (320, 320), c) for c in ("navy", "orange")]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    info = inspect_image(path)
    assert not info.animated
    assert "Only the first picture in this file is used" in info.notes
    prepared = prepare_image(path)
    assert decoded(prepared).convert("RGB").getpixel((0, 0)) == (0, 0, 128)
    assert "Used only the first picture in the file" in prepared.notes


def test_avif_becomes_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "phone.avif"
    try:
        rocket().save(path, "AVIF", quality=80)
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"this Pillow cannot write AVIF: {exc}")
    assert inspect_image(path).format == "AVIF"
    prepared = prepare_image(path)
    assert prepared.content_type == "image/jpeg"
    assert (prepared.width, prepared.height) == (640, 427)


def test_concurrent_preparation_is_safe(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    good = []
    for i in range(4):
        path = tmp_path / f"p{i}.jpg"
        rocket().save(path, exif=camera_exif(orientation=6, gps=True))
        good.append(path)
    bombs = [header_only_png(tmp_path / f"bomb{i}.png", 20000, 11000) for i in range(4)]
    before = list(warnings.filters)

    def run(path: Path) -> PreparedImage | ImageProblem:
        try:
            return prepare_image(path)
        except ImageProblem as problem:
            return problem

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, good + bombs))
    assert all(isinstance(r, PreparedImage) and r.width == 427 for r in results[:4])
    assert all(isinstance(r, ImageProblem) and "too large" in str(r) for r in results[4:])
    assert warnings.filters == before
