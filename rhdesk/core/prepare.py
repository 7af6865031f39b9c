"""Turning whatever the user dropped into an upload the Seedream models accept.

The model takes PNG or JPEG up to 10 MB. Originals go up untouched whenever they already qualify;
otherwise the image is turned upright, brought to 8-bit RGB(A), stripped of its GPS location and
re-encoded with the least loss that fits. Every step taken is written down as a plain-words note.

Blocking CPU work without Qt: callers run it in a thread executor.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageFile, ImageOps, JpegImagePlugin

from rhdesk.core import imageops
from rhdesk.core.imageops import ImageProblem

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_DESCRIPTION",
    "SUPPORTED_EXTENSIONS",
    "ImageInfo",
    "ImageProblem",
    "PreparedImage",
    "inspect_image",
    "prepare_image",
    "upload_filename",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SUPPORTED_DESCRIPTION = "JPEG, PNG, HEIC, WebP, AVIF, TIFF, BMP or GIF"
SUPPORTED_EXTENSIONS = (
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".heic", ".heif", ".hif", ".webp", ".avif",
    ".tif", ".tiff", ".bmp", ".dib", ".gif", ".mpo",
)  # fmt: skip

# Re-encoding ladder for JPEG that is over the limit. Below 70 artefacts show on faces and skies;
# past that point losing pixels costs less than losing quality.
JPEG_QUALITIES = (95, 90, 85, 80, 75, 70)
# Quality used once the image must also be scaled down: resolution is already being given up.
SCALED_JPEG_QUALITY = 85
# A first attempt this far over the limit will not fit at 90 or 85: go straight to the last rung.
HOPELESS_RATIO = 2.5
SCALE_STEP = 0.9  # every downscale round shrinks each side by at least this factor
MIN_SIDE = 16  # below this there is nothing left worth uploading
SMALL_SIDE = 300
MAX_ASPECT = 16

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png"}
_EXTENSION = {"JPEG": ".jpg", "PNG": ".png"}
_FAMILY = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}
_ANIMATION_FORMATS = frozenset({"GIF", "WEBP", "PNG", "AVIF"})
_LOSSY_FORMATS = frozenset({"JPEG", "MPO", "HEIF", "AVIF"})
_PASSTHROUGH_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
_GPS_IFD = 0x8825
_ORIENTATION_TAG = 0x0112
_MAX_JPEG_SEGMENT = 65533  # payload bytes an APPn segment can hold
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"

# The IJG reference luminance table at quality 50; file tables are scaled copies of it.
_IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    format: str  # sniffed from content: "JPEG", "PNG", "WEBP", "HEIF", "MPO"…
    width: int  # as displayed, after EXIF orientation
    height: int
    file_size: int
    mode: str
    has_alpha: bool
    animated: bool
    has_gps: bool
    has_icc: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PreparedImage:
    source: Path
    data: bytes = field(repr=False)
    filename: str
    content_type: str
    width: int
    height: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Facts:
    format: str
    mode: str
    stored_size: tuple[int, int]
    orientation: int
    has_alpha: bool
    animated: bool  # an animation (GIF, WebP, APNG, AVIF sequence)
    multi: bool  # several pictures that are not an animation (MPO, multi-page TIFF, HEIC bursts)
    has_gps: bool
    xmp_has_gps: bool
    has_icc: bool
    high_bit_depth: bool
    lossy: bool
    exif: bytes | None

    @property
    def size(self) -> tuple[int, int]:
        return imageops.displayed_size(self.stored_size, self.orientation)


# --- public API -----------------------------------------------------------------------------------


def inspect_image(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    formats: tuple[str, ...] = ("PNG", "JPEG"),
    strip_gps: bool = True,
) -> ImageInfo:
    """Cheap facts and a forecast of what prepare_image will do; reads headers, decodes nothing."""
    path = Path(path)
    allowed = _allowed_formats(formats)
    file_size = imageops.check_file(path)
    with imageops.open_file(path) as fp, imageops.open_image(path, fp) as im:
        try:
            facts = _facts(im, fp, decoded=False)
        except ImageProblem:
            raise
        except Exception as exc:
            log.debug("header facts failed for %s", path, exc_info=True)
            raise ImageProblem(path, "is damaged or incomplete.") from exc
    width, height = facts.size
    return ImageInfo(
        path=path,
        format=facts.format,
        width=width,
        height=height,
        file_size=file_size,
        mode=facts.mode,
        has_alpha=facts.has_alpha,
        animated=facts.animated,
        has_gps=facts.has_gps,
        has_icc=facts.has_icc,
        notes=tuple(_forecast(facts, file_size, max_bytes, allowed, strip_gps)),
    )


def prepare_image(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    formats: tuple[str, ...] = ("PNG", "JPEG"),
    strip_gps: bool = True,
) -> PreparedImage:
    """Bytes ready for upload: PNG or JPEG (per `formats`), upright, at most `max_bytes`."""
    path = Path(path)
    allowed = _allowed_formats(formats)
    if max_bytes < 1024:
        raise ValueError("max_bytes must be at least 1 KB")
    data = imageops.read_file(path)
    fp = io.BytesIO(data)
    with imageops.open_image(path, fp) as im:
        try:
            return _prepare(path, data, fp, im, max_bytes, allowed, strip_gps)
        except ImageProblem:
            raise
        except MemoryError as exc:
            raise ImageProblem(path, "is too large to convert with the memory available.") from exc
        except Exception as exc:
            # A bug or an exotic file Pillow half-understands: the user gets a sentence, the log
            # gets the traceback.
            log.exception("preparing %s failed", path)
            raise ImageProblem(path, f"could not be converted for upload ({exc}).") from exc


def upload_filename(source: Path, fmt: str) -> str:
    """An ASCII-only name for the upload, derived from the source's stem ("image" if nothing is
    left), with the extension of the encoded format."""
    stem = unicodedata.normalize("NFKD", Path(source).stem)
    stem = stem.encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80].rstrip("._-")
    return (stem or "image") + _EXTENSION[fmt]


# --- facts ----------------------------------------------------------------------------------------


def _allowed_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    allowed = tuple(dict.fromkeys("JPEG" if f.upper() == "JPG" else f.upper() for f in formats))
    if not allowed or any(f not in _MIME for f in allowed):
        raise ValueError(f"formats must be a non-empty subset of PNG and JPEG, not {formats!r}")
    return allowed


def _webp_is_lossless(fp: IO[bytes]) -> bool:
    """Whether a WebP's (first) bitstream is VP8L, by walking its RIFF chunks without decoding."""
    fp.seek(12)
    for _ in range(1000):  # bounded: a malformed file must not loop forever
        header = fp.read(8)
        if len(header) < 8:
            return False
        fourcc, size = header[:4], struct.unpack("<I", header[4:])[0]
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        if fourcc == b"ANMF":  # an animation frame: 16 bytes of frame header, then its chunks
            fp.seek(16, io.SEEK_CUR)
            continue
        fp.seek(size + (size & 1), io.SEEK_CUR)
    return False


def _is_lossy(im: Image.Image, fp: IO[bytes]) -> bool:
    fmt = im.format
    if fmt in _LOSSY_FORMATS:
        return True
    if fmt == "WEBP":
        position = fp.tell()
        try:
            return not _webp_is_lossless(fp)
        except (OSError, struct.error):
            return True
        finally:
            fp.seek(position)  # Pillow may still read from this file
    if fmt == "TIFF":
        return str(im.info.get("compression", "")).lower() in ("jpeg", "tiff_jpeg", "webp")
    return False


def _has_alpha_mode(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode == "P" and im.has_transparency_data
    )


def _xmp_has_gps(im: Image.Image) -> bool:
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = im.info.get(key)
        if isinstance(value, str):
            value = value.encode("utf-8", "ignore")
        if isinstance(value, bytes) and (b"GPSLatitude" in value or b"GPSLongitude" in value):
            return True
    return False


def _exif_has_gps(exif: Image.Exif) -> bool:
    if _GPS_IFD not in exif:
        return False
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:
        return True  # unreadable but present: treat it as a location rather than leak it
    # Some cameras write a GPS block holding only the version tag (0): that is no location.
    return any(tag != 0 for tag in gps)


def _raw_exif(im: Image.Image) -> bytes | None:
    raw = im.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw
    if im.format == "TIFF":
        return None  # TIFF tags are the image structure, not an EXIF block to carry over
    exif = imageops.read_exif(im, decoded=True)
    try:
        return exif.tobytes() if len(exif) else None
    except Exception:  # an EXIF Pillow can read but not write back is not worth failing over
        log.debug("EXIF could not be serialised", exc_info=True)
        return None


def _exif_facts(im: Image.Image, *, decoded: bool) -> dict[str, Any]:
    exif = imageops.read_exif(im, decoded=decoded)
    raw = im.info.get("exif") if not decoded else _raw_exif(im)
    return {
        "orientation": imageops.orientation_of(exif),
        "has_gps": _exif_has_gps(exif) or _xmp_has_gps(im),
        "xmp_has_gps": _xmp_has_gps(im),
        "exif": raw if isinstance(raw, bytes) and raw else None,
    }


def _facts(im: Image.Image, fp: IO[bytes], *, decoded: bool) -> _Facts:
    fmt = im.format or ""
    try:
        with imageops.pixel_guard():  # is_animated may parse the next frame's header
            several = bool(getattr(im, "is_animated", False))
    except Exception:
        # Only the first frame is ever used: a damaged or oversized second one does not matter.
        several = False
    animated = several and fmt in _ANIMATION_FORMATS
    return _Facts(
        format=fmt,
        mode=im.mode,
        stored_size=im.size,
        has_alpha=_has_alpha_mode(im),
        animated=animated,
        multi=several and not animated,
        has_icc=bool(im.info.get("icc_profile")),
        high_bit_depth=imageops.is_high_bit_depth(im),
        lossy=_is_lossy(im, fp),
        **_exif_facts(im, decoded=decoded),
    )


# --- forecast for inspect_image -------------------------------------------------------------------


def _size_text(n: int) -> str:
    mib = 1024 * 1024
    if n >= mib:
        return f"{n // mib} MB" if n % mib == 0 else f"{n / mib:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def _target_format(facts: _Facts, allowed: tuple[str, ...], alpha: bool) -> str:
    preferred = "PNG" if alpha or not facts.lossy else "JPEG"
    return preferred if preferred in allowed else allowed[0]


def _shape_notes(size: tuple[int, int]) -> list[str]:
    width, height = size
    notes = []
    if min(width, height) < SMALL_SIDE:
        notes.append(f"Very small ({width}×{height}): results may be poor")
    if max(width, height) > MAX_ASPECT * min(width, height):
        notes.append(f"Very long and narrow ({width}×{height}): the model may refuse beyond 1:16")
    return notes


def _forecast(
    facts: _Facts, file_size: int, max_bytes: int, allowed: tuple[str, ...], strip_gps: bool
) -> list[str]:
    notes: list[str] = []
    family = _FAMILY.get(facts.format)
    if family is None or family not in allowed:
        target = _target_format(facts, allowed, facts.has_alpha)
        name = imageops.format_name(facts.format)
        notes.append(f"Will be converted to {target} ({name} is not accepted by the model)")
    elif facts.orientation != 1:
        notes.append("Will be saved upright (the file is stored rotated)")
    if facts.animated:
        notes.append("Only the first frame of this animation is used")
    elif facts.multi:
        notes.append("Only the first picture in this file is used")
    if facts.mode == "CMYK":
        notes.append("CMYK will be converted to RGB")
    if facts.high_bit_depth:
        notes.append("16-bit image will be converted to 8-bit")
    if strip_gps and facts.has_gps:
        notes.append("GPS location will be removed before upload")
    if file_size > max_bytes:
        notes.append(f"Will be reduced to fit the {_size_text(max_bytes)} limit")
    notes += _shape_notes(facts.size)
    return notes


# --- metadata -------------------------------------------------------------------------------------


def _clean_exif(raw: bytes | None, *, strip_gps: bool, upright: bool) -> bytes | None:
    """EXIF bytes to write: GPS removed if asked, orientation 1 once the pixels are upright.

    Parses into a fresh Exif: Pillow's tobytes() re-adds a GPS block it has cached from an earlier
    get_ifd(), so an Exif object that has been looked at cannot be trusted to lose it.
    None means "write no EXIF" (absent, unreadable, or too big for a JPEG segment).
    """
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        if strip_gps:
            exif.pop(_GPS_IFD, None)
        if upright and _ORIENTATION_TAG in exif:
            exif[_ORIENTATION_TAG] = 1
        out = exif.tobytes()
        if strip_gps:  # belt and braces: this is the user's home address
            check = Image.Exif()
            check.load(out)
            if _GPS_IFD in check:
                return None
    except Exception:
        log.debug("EXIF could not be rewritten; dropping it", exc_info=True)
        return None
    return out if len(out) <= _MAX_JPEG_SEGMENT else None


def _rewrite_jpeg(
    data: bytes, *, exif: bytes | None, replace_exif: bool, drop_xmp: bool, drop_mpf: bool
) -> bytes | None:
    """Swap metadata segments of a JPEG without touching its compressed pixels.

    With replace_exif, the first EXIF segment becomes `exif` (none if None) and later ones go.
    None when the marker structure is not what the JPEG standard promises.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    pos = 2
    exif_done = False
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: the rest is pixel data
            out += data[pos:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers carry no length
            out += data[pos : pos + 2]
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return None
        payload = data[pos + 4 : end]
        is_exif = marker == 0xE1 and payload.startswith(b"Exif\x00\x00")
        is_xmp = marker == 0xE1 and payload.startswith((_XMP_HEADER, _XMP_EXTENSION_HEADER))
        is_mpf = marker == 0xE2 and payload.startswith(b"MPF\x00")
        if is_exif and replace_exif:
            if not exif_done and exif:
                out += b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
            exif_done = True
        elif not ((is_xmp and drop_xmp) or (is_mpf and drop_mpf)):
            out += data[pos:end]
        pos = end
    return None


def _mpo_first_picture(im: Image.Image, data: bytes) -> bytes | None:
    """The first JPEG of a multi-picture file, cut out byte for byte (no re-encoding)."""
    try:
        size = int(im.mpinfo[0xB002][0]["Size"])  # type: ignore[attr-defined]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None
    first = data[:size]
    return first if size > 4 and first.endswith(b"\xff\xd9") else None


def _same_picture(data: bytes, size: tuple[int, int]) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as check:
            return check.format == "JPEG" and check.size == size
    except Exception:
        return False


def _estimated_jpeg_quality(im: Image.Image) -> int | None:
    """The IJG quality a JPEG was most likely saved at, from its luminance table."""
    table = getattr(im, "quantization", {}).get(0)
    if not table or len(table) != 64:
        return None
    scale = 100 * sum(table) / sum(_IJG_LUMINANCE)
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


# --- the pipeline ---------------------------------------------------------------------------------


def _prepare(
    path: Path,
    data: bytes,
    fp: IO[bytes],
    im: ImageFile.ImageFile,
    max_bytes: int,
    allowed: tuple[str, ...],
    strip_gps: bool,
) -> PreparedImage:
    facts = _facts(im, fp, decoded=False)
    imageops.load_image(path, im)
    if facts.format == "PNG":  # an eXIf chunk after the pixel data is only visible now
        facts = replace(facts, **_exif_facts(im, decoded=True))
    elif facts.exif is None and facts.format != "TIFF":
        facts = replace(facts, exif=_raw_exif(im))
    original = _original_if_acceptable(path, data, im, facts, max_bytes, allowed, strip_gps)
    if original is not None:
        return original
    return _convert(path, im, facts, len(data), max_bytes, allowed, strip_gps)


def _original_if_acceptable(
    path: Path,
    data: bytes,
    im: Image.Image,
    facts: _Facts,
    max_bytes: int,
    allowed: tuple[str, ...],
    strip_gps: bool,
) -> PreparedImage | None:
    """The source bytes themselves (metadata aside) when the model can take them as they are."""
    if facts.orientation != 1 or facts.high_bit_depth:
        return None
    notes: list[str] = []
    remove_gps = strip_gps and facts.has_gps
    if facts.format in ("JPEG", "MPO") and "JPEG" in allowed and im.mode in ("RGB", "L"):
        body: bytes | None = data
        if facts.format == "MPO":
            body = _mpo_first_picture(im, data)
            notes.append("Used only the first picture of this multi-picture file")
        if body is not None and (remove_gps or facts.format == "MPO"):
            body = _rewrite_jpeg(
                body,
                exif=_clean_exif(facts.exif, strip_gps=True, upright=False) if remove_gps else None,
                replace_exif=remove_gps,
                drop_xmp=remove_gps and facts.xmp_has_gps,
                drop_mpf=facts.format == "MPO",
            )
            if body is not None and not _same_picture(body, im.size):
                body = None
        if body is None or len(body) > max_bytes:
            return None
        if remove_gps:
            notes.append("GPS removed")
        return _prepared(path, body, "JPEG", im.size, notes + _shape_notes(im.size))
    if (
        facts.format == "PNG"
        and "PNG" in allowed
        and not facts.animated
        and im.mode in _PASSTHROUGH_PNG_MODES
        and not remove_gps
        and len(data) <= max_bytes
    ):
        return _prepared(path, data, "PNG", im.size, _shape_notes(im.size))
    return None


def _prepared(
    path: Path, data: bytes, fmt: str, size: tuple[int, int], notes: list[str]
) -> PreparedImage:
    return PreparedImage(
        source=path,
        data=data,
        filename=upload_filename(path, fmt),
        content_type=_MIME[fmt],
        width=size[0],
        height=size[1],
        notes=tuple(dict.fromkeys(notes)),
    )


@dataclass
class _Meta:
    exif: bytes | None
    icc: bytes | None
    xmp: bytes | None
    dpi: tuple[float, float] | None

    def params(self, fmt: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.icc:
            params["icc_profile"] = self.icc
        if self.exif:
            params["exif"] = self.exif
        if self.dpi:
            params["dpi"] = self.dpi
        if fmt == "JPEG" and self.xmp:
            params["xmp"] = self.xmp
        return params


def _usable_dpi(value: object) -> tuple[float, float] | None:
    if isinstance(value, tuple) and len(value) == 2:
        try:
            x, y = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None
        if 0 < x < 100_000 and 0 < y < 100_000:
            return (x, y)
    return None


def _convert(
    path: Path,
    im: ImageFile.ImageFile,
    facts: _Facts,
    file_size: int,
    max_bytes: int,
    allowed: tuple[str, ...],
    strip_gps: bool,
) -> PreparedImage:
    notes: list[str] = []
    if facts.animated:
        notes.append("Used only the first frame of the animation")
    elif facts.multi:
        notes.append("Used only the first picture in the file")

    img: Image.Image = im
    xmp = im.info.get("xmp")
    if facts.orientation != 1:
        try:
            img = ImageOps.exif_transpose(im)
            xmp = img.info.get("xmp")  # exif_transpose took the orientation out of it
        except Exception:  # it also rewrites the EXIF, which fails on some maker notes
            log.debug("exif_transpose failed; turning without it", exc_info=True)
            img = imageops.apply_orientation(im, facts.orientation)
            xmp = None  # may still say "rotated", which would turn the picture twice
        notes.append("Rotated upright (EXIF)")

    img, mode_notes = imageops.normalise_mode(img)
    notes += mode_notes
    if facts.high_bit_depth and not any("16-bit" in n for n in notes):
        notes.append("Converted 16-bit image to 8-bit")

    alpha = img.mode in ("LA", "RGBA") and img.getchannel("A").getextrema()[0] < 255
    if img.mode in ("LA", "RGBA") and not alpha:
        img = img.convert(img.mode[:-1])  # an alpha channel that is opaque everywhere
    fmt = _target_format(facts, allowed, alpha)
    if fmt == "JPEG" and alpha:
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img.convert("RGBA"), mask=img.getchannel("A"))
        flat.info = img.info
        img = flat
        notes.append("Transparency flattened onto white (JPEG has none)")

    meta = _Meta(
        exif=_clean_exif(facts.exif, strip_gps=strip_gps, upright=True),
        icc=img.info.get("icc_profile") or None,
        xmp=xmp if isinstance(xmp, bytes) and not (strip_gps and facts.xmp_has_gps) else None,
        dpi=_usable_dpi(im.info.get("dpi")),
    )
    if meta.xmp and len(meta.xmp) > _MAX_JPEG_SEGMENT - len(_XMP_HEADER):
        meta.xmp = None
    if strip_gps and facts.has_gps:
        notes.append("GPS removed")
    # Stale info (a CMYK profile, a palette's transparency) must not leak into the encoder, which
    # falls back to it for PNG.
    img.info = {}

    keep_tables = facts.format in ("JPEG", "MPO") and im.mode in ("RGB", "L")
    fitted = _fit(
        path, img, fmt, meta, max_bytes, allowed, alpha, im if keep_tables else None, file_size
    )
    if _FAMILY.get(facts.format) != fitted.format:
        source_name = imageops.format_name(facts.format)
        how = f" (quality {fitted.quality})" if fitted.quality and not fitted.reduced else ""
        why = f" to fit {_size_text(max_bytes)}" if fitted.switched_to_jpeg else ""
        notes.insert(0, f"Converted from {source_name} to {fitted.format}{how}{why}")
    if fitted.scaled_to:
        w, h = fitted.scaled_to
        notes.append(f"Scaled down to {w}×{h} to fit {_size_text(max_bytes)}")
    if fitted.reduced:
        quality = f" (JPEG quality {fitted.quality})" if fitted.quality else ""
        notes.append(
            f"Reduced from {_size_text(file_size)} to {_size_text(len(fitted.data))}{quality}"
        )
    notes += _shape_notes(fitted.size)
    return _prepared(path, fitted.data, fitted.format, fitted.size, notes)


@dataclass
class _Fitted:
    data: bytes
    format: str
    size: tuple[int, int]
    quality: int | None = None
    reduced: bool = False  # quality or size was given up to meet the limit
    scaled_to: tuple[int, int] | None = None
    switched_to_jpeg: bool = False


def _encode(img: Image.Image, fmt: str, meta: _Meta, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **meta.params(fmt), **params)
    return buf.getvalue()


def _fit(
    path: Path,
    img: Image.Image,
    fmt: str,
    meta: _Meta,
    max_bytes: int,
    allowed: tuple[str, ...],
    alpha: bool,
    jpeg_source: Image.Image | None,
    source_size: int,
) -> _Fitted:
    """Encode within max_bytes giving up as little as possible: first quality, then pixels."""
    switched = False
    if fmt == "PNG":
        data = _encode(img, "PNG", meta)
        if len(data) <= max_bytes:
            return _Fitted(data, "PNG", img.size)
        if alpha or "JPEG" not in allowed:
            return _shrink(path, img, "PNG", meta, max_bytes, len(data), None)
        fmt, switched = "JPEG", True

    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    first_quality, shrink_quality = JPEG_QUALITIES[0], SCALED_JPEG_QUALITY
    if jpeg_source is not None:
        estimated = _estimated_jpeg_quality(jpeg_source)
        # The source's own tables and chroma sampling keep a rotated or cleaned JPEG at its
        # quality and, roughly, its size: pointless when the source itself is over the limit.
        if source_size <= max_bytes:
            data = _encode(
                img,
                "JPEG",
                meta,
                qtables=jpeg_source.quantization,  # type: ignore[attr-defined]
                subsampling=JpegImagePlugin.get_sampling(jpeg_source),
            )
            if len(data) <= max_bytes:
                return _Fitted(data, "JPEG", img.size, quality=estimated)
        if estimated:  # saving above the source's own quality only adds bytes
            first_quality = min(first_quality, estimated - 1)
            shrink_quality = min(shrink_quality, max(50, estimated))
    ladder = [q for q in JPEG_QUALITIES if q <= first_quality] or [max(50, first_quality)]
    i = 0
    while True:
        data = _encode(img, "JPEG", meta, quality=ladder[i])
        if len(data) <= max_bytes:
            # A JPEG source always loses some quality here; another source only if a rung failed.
            reduced = jpeg_source is not None or i > 0
            return _Fitted(data, "JPEG", img.size, ladder[i], reduced, switched_to_jpeg=switched)
        if i == len(ladder) - 1:
            break
        i = len(ladder) - 1 if len(data) > HOPELESS_RATIO * max_bytes else i + 1
    fitted = _shrink(path, img, "JPEG", meta, max_bytes, len(data), shrink_quality)
    fitted.switched_to_jpeg = switched
    return fitted


def _shrink(
    path: Path,
    img: Image.Image,
    fmt: str,
    meta: _Meta,
    max_bytes: int,
    last_size: int,
    quality: int | None,
) -> _Fitted:
    width, height = img.size
    scale = 1.0
    params: dict[str, Any] = {"quality": quality} if quality else {}
    while True:
        # Encoded size follows the pixel count, so aim straight at the limit with a margin;
        # at least SCALE_STEP per round guarantees progress, MIN_SIDE guarantees an end.
        scale *= min(SCALE_STEP, math.sqrt(max_bytes / last_size) * 0.95)
        new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if min(new_size) < MIN_SIDE:
            raise ImageProblem(
                path, f"cannot be made to fit the {_size_text(max_bytes)} limit, even scaled down."
            )
        small = img.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        data = _encode(small, fmt, meta, **params)
        if len(data) <= max_bytes:
            return _Fitted(data, fmt, new_size, quality, reduced=True, scaled_to=new_size)
        last_size = len(data)
