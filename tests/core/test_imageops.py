"""Thumbnails, upright opening and header-only sizes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageOps, JpegImagePlugin

from rhdesk.core import imageops
from rhdesk.core.imageops import ImageProblem, image_size, open_upright, thumbnail, thumbnail_bytes

# The shared photo set lives beside the repository, as in tests/conftest.py.
TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
ORIENTATION = 0x0112


def photo(name: str) -> Path:
    path = TESTDATA / name
    if not path.exists():
        pytest.skip(f"test photo {name} is missing")
    return path


def rotated_camera_jpeg(path: Path, size: tuple[int, int], orientation: int = 6) -> Path:
    """A camera-sized JPEG stored sideways, red block in the stored top-left corner."""
    with Image.open(photo("rocket.jpg")) as src:
        img = src.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 5, size[1] // 5), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    img.save(path, quality=85, exif=exif)
    return path


def is_reddish(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > 200 and rgb[1] < 80 and rgb[2] < 80


def header_only_png(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))
    )
    return path


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rotated_camera_jpeg(tmp_path_factory.mktemp("camera") / "DSC_0001.JPG", (6000, 4000))


def test_thumbnail_of_24_megapixel_jpeg_uses_draft_and_is_upright(
    camera_jpeg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scales: list[int] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):  # type: ignore[no-untyped-def]
        result = real_draft(self, mode, size)
        if self.decoderconfig:
            scales.append(self.decoderconfig[0])
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    thumb = thumbnail(camera_jpeg, 256)

    assert scales and scales[0] == 8  # decoded at 750×500, not 6000×4000
    assert thumb.mode == "RGB"
    assert max(thumb.size) == 256
    assert thumb.size == (171, 256)  # portrait once upright
    # Orientation 6 turns the stored top-left corner to the top-right.
    assert is_reddish(thumb.getpixel((thumb.width - 5, 5)))
    assert not is_reddish(thumb.getpixel((5, 5)))


def test_image_size_is_displayed_size_from_the_header(camera_jpeg: Path) -> None:
    assert image_size(camera_jpeg) == (4000, 6000)
    assert image_size(photo("rocket.jpg")) == (640, 427)


def test_open_upright_turns_and_forgets_the_orientation(tmp_path: Path) -> None:
    path = rotated_camera_jpeg(tmp_path / "side.jpg", (300, 200), orientation=8)
    img = open_upright(path)
    assert img.size == (200, 300)
    # Orientation 8 turns the stored top-left corner to the bottom-left.
    assert is_reddish(img.getpixel((5, 295)))
    assert img.getexif().get(ORIENTATION, 1) == 1
    again = ImageOps.exif_transpose(img)
    assert again.size == img.size


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16", "CMYK", "1"])
def test_thumbnail_is_always_rgb_or_rgba(tmp_path: Path, mode: str) -> None:
    fmt = {"CMYK": "JPEG", "I;16": "PNG"}.get(mode, "PNG")
    path = tmp_path / f"m.{fmt.lower()}"
    with Image.open(photo("coffee.png")) as src:
        img = src.convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode == "I;16":
        img = Image.new("I;16", img.size, 32896)
    elif mode != "RGBA":
        img = img.convert(mode)
    img.save(path, fmt)
    thumb = thumbnail(path, 100)
    assert thumb.mode in ("RGB", "RGBA")
    assert max(thumb.size) == 100
    if mode == "I;16":
        assert thumb.getpixel((10, 10)) == (128, 128, 128)
    if mode in ("RGBA", "LA"):
        assert thumb.mode == "RGBA"


def test_thumbnail_never_upscales() -> None:
    assert thumbnail(photo("rocket.jpg"), 4000).size == (640, 427)


def test_thumbnail_bytes_png_and_jpeg() -> None:
    png = thumbnail_bytes(photo("logo.png"), 64)
    with Image.open(io.BytesIO(png)) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (64, 64), "RGBA")
    jpeg = thumbnail_bytes(photo("logo.png"), 64, "jpg")
    with Image.open(io.BytesIO(jpeg)) as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")


def test_thumbnail_keeps_the_colour_profile() -> None:
    with Image.open(photo("rocket.jpg")) as src:
        icc = src.info.get("icc_profile")
    if not icc:
        pytest.skip("rocket.jpg carries no ICC profile")
    png = thumbnail_bytes(photo("rocket.jpg"), 64)
    with Image.open(io.BytesIO(png)) as im:
        assert im.info.get("icc_profile") == icc


def test_heic_thumbnail(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow-heif wheel has no HEVC encoder to make a test HEIC")
    assert imageops.heif_plugin_ready()
    path = tmp_path / "IMG_0001.heic"
    with Image.open(photo("rocket.jpg")) as src:
        src.save(path, "HEIF", quality=80)
    assert image_size(path) == (640, 427)
    thumb = thumbnail(path, 128)
    assert thumb.size == (128, 85) and thumb.mode == "RGB"


def test_helpers_refuse_bombs_without_decoding(tmp_path: Path) -> None:
    path = header_only_png(tmp_path / "bomb.png", 50000, 50000)
    for helper in (image_size, open_upright, lambda p: thumbnail(p, 64)):
        with pytest.raises(ImageProblem, match=r"too large \(50000×50000 pixels\)"):
            helper(path)


def test_helpers_refuse_damaged_and_missing_files(tmp_path: Path) -> None:
    data = photo("rocket.jpg").read_bytes()
    half = tmp_path / "half.jpg"
    half.write_bytes(data[: len(data) // 2])
    assert image_size(half) == (640, 427)  # the header is intact
    with pytest.raises(ImageProblem, match='"half.jpg" is damaged or incomplete'):
        open_upright(half)
    with pytest.raises(ImageProblem, match='"nope.png" could not be found'):
        thumbnail(tmp_path / "nope.png", 64)
    text = tmp_path / "readme.png"
    text.write_text("just words\n")
    with pytest.raises(ImageProblem, match="looks like text"):
        image_size(text)


def test_thumbnail_rejects_nonsense_size() -> None:
    with pytest.raises(ValueError):
        thumbnail(photo("rocket.jpg"), 0)
