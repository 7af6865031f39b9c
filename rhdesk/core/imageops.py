"""Opening the user's images safely: content sniffing, a pixel-count guard, EXIF orientation,
8-bit normalisation and fast thumbnails.

Everything here is blocking CPU work without Qt; callers run it in a thread executor.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import stat
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_PIXELS = 200_000_000

# Pillow warns above MAX_IMAGE_PIXELS and raises above twice that. Making its warning threshold our
# limit, and turning that warning into an error inside pixel_guard(), gives one explicit boundary
# instead of Pillow's default (a warning at 89 MP that nobody sees, an error at 179 MP).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Formats rhdesk decodes and converts. Everything else Pillow can parse is refused by name.
READABLE_FORMATS = frozenset(
    {"JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "HEIF", "AVIF"}
)

_FORMAT_NAMES = {
    "JPEG": "JPEG",
    "MPO": "MPO (multi-picture JPEG)",
    "PNG": "PNG",
    "WEBP": "WebP",
    "BMP": "BMP",
    "DIB": "BMP",
    "TIFF": "TIFF",
    "GIF": "GIF",
    "HEIF": "HEIC",
    "AVIF": "AVIF",
    "PSD": "Photoshop (PSD)",
    "ICO": "Windows icon (ICO)",
    "CUR": "Windows cursor (CUR)",
    "ICNS": "macOS icon (ICNS)",
    "EPS": "PostScript (EPS)",
    "JPEG2000": "JPEG 2000",
    "WMF": "Windows metafile (WMF/EMF)",
    "DDS": "DirectDraw texture (DDS)",
    "TGA": "Targa (TGA)",
    "PPM": "Netpbm (PPM/PGM)",
}

# Camera RAW files are TIFF-like containers: Pillow would read a preview or undecoded sensor data
# from them, so they are refused by extension before their TIFF-ness is taken at face value.
_RAW_SUFFIXES = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf",
     ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".mos", ".mrw", ".iiq", ".rwl"}
)  # fmt: skip

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)

_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageProblem(Exception):
    """An input the app cannot use, told in one sentence that names the file.

    `predicate` completes a sentence about the file: "is empty." becomes `'"x.png" is empty.'`
    (str) and "This file is empty." (`reason`, for UIs that show the name beside it).
    """

    def __init__(self, path: Path | str, predicate: str, *, subject: str = "This file") -> None:
        self.path = Path(path)
        self.predicate = predicate
        self.reason = f"{subject} {predicate}"
        self._subject = subject
        super().__init__(f'"{self.path.name}" {predicate}')

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the exception picklable (process pools, logging handlers) despite the custom init.
        return (_rebuild_problem, (self.path, self.predicate, self._subject))


def _rebuild_problem(path: Path, predicate: str, subject: str) -> ImageProblem:
    return ImageProblem(path, predicate, subject=subject)


def format_name(fmt: str | None) -> str:
    if not fmt:
        return "unknown"
    if fmt in _FORMAT_NAMES:
        return _FORMAT_NAMES[fmt]
    Image.init()
    factory = Image.OPEN.get(fmt, (None, None))[0]
    description = getattr(factory, "format_description", None)
    return f"{description} ({fmt})" if description else fmt


# --- the pixel guard and the HEIF plugin ----------------------------------------------------------

_GUARD_LOCK = threading.RLock()


@contextlib.contextmanager
def pixel_guard() -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning into an error for the code inside.

    warnings.catch_warnings swaps process-wide state; the lock stops two of our executor threads
    from interleaving enter/exit, which could leave the filter installed or drop it mid-decode.
    """
    with _GUARD_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


_heif_lock = threading.Lock()
_heif_ready: bool | None = None


def heif_plugin_ready() -> bool:
    """Register pillow-heif's opener once; False when the plugin is missing or broken."""
    global _heif_ready
    with _heif_lock:
        if _heif_ready is None:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
                _heif_ready = True
            except Exception:  # a broken binary wheel fails with anything from ImportError on
                log.warning(
                    "pillow-heif is unavailable: HEIC images will be refused", exc_info=True
                )
                _heif_ready = False
        return _heif_ready


# --- reading files --------------------------------------------------------------------------------


def _os_problem(path: Path, exc: OSError) -> ImageProblem:
    if isinstance(exc, FileNotFoundError):
        return ImageProblem(path, "could not be found (was it moved or deleted?).")
    if isinstance(exc, IsADirectoryError):
        return ImageProblem(path, "is a folder, not an image.", subject="This")
    if isinstance(exc, PermissionError):
        return ImageProblem(path, "cannot be read: permission denied.")
    return ImageProblem(path, f"cannot be read ({exc.strerror or exc}).")


def check_file(path: Path) -> int:
    """The file's size in bytes, or an ImageProblem for missing, empty or non-regular files."""
    try:
        st = path.stat()
    except OSError as exc:
        raise _os_problem(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ImageProblem(path, "is a folder, not an image.", subject="This")
    if not stat.S_ISREG(st.st_mode):
        raise ImageProblem(path, "is not a regular file.")
    if st.st_size == 0:
        raise ImageProblem(path, "is empty (0 bytes).")
    return st.st_size


def read_file(path: Path) -> bytes:
    check_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _os_problem(path, exc) from exc
    if not data:  # emptied between stat() and read
        raise ImageProblem(path, "is empty (0 bytes).")
    return data


@contextlib.contextmanager
def open_file(path: Path) -> Iterator[IO[bytes]]:
    check_file(path)
    try:
        fp = path.open("rb")
    except OSError as exc:
        raise _os_problem(path, exc) from exc
    with fp:
        yield fp


# --- sniffing and opening -------------------------------------------------------------------------


def _too_large(path: Path, size: tuple[int, int] | None) -> ImageProblem:
    limit = f"the limit is {MAX_PIXELS // 1_000_000} megapixels."
    if size:
        return ImageProblem(path, f"is too large ({size[0]}×{size[1]} pixels); {limit}")
    return ImageProblem(path, f"is too large; {limit}")


def _size_without_guard(fp: IO[bytes]) -> tuple[int, int] | None:
    """The header size of an image Pillow refused as a bomb, for a message that says how big.

    Calls the format plugins directly, as Image.open does, minus its pixel check: plugins only
    parse headers in their constructor, so this allocates nothing large.
    """
    try:
        fp.seek(0)
        prefix = fp.read(16)
        Image.init()
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            accepted = accept(prefix) if accept else True
            if isinstance(accepted, str) or not accepted:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fp.seek(0)
                    return factory(fp, "").size
            except Exception:
                continue
    except Exception:
        log.debug("could not read the size of a refused image", exc_info=True)
    return None


def _not_an_image(path: Path, head: bytes) -> ImageProblem:
    stripped = head.lstrip()
    lower = stripped[:512].lower()
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return ImageProblem(
            path,
            "is a HEIC photo, but HEIC needs the pillow-heif plugin, which is missing or broken.",
        )
    if path.suffix.lower() in _RAW_SUFFIXES:
        return _raw_problem(path)
    if head.startswith(b"%PDF"):
        return ImageProblem(
            path, "is a PDF document, not an image: export the page as PNG or JPEG."
        )
    if b"<svg" in head[:4096].lower():
        return ImageProblem(path, "is an SVG drawing, not a photo: export it as PNG first.")
    if lower.startswith((b"<!doctype html", b"<html")):
        return ImageProblem(path, "is not an image (it looks like a web page).")
    if head.startswith(b"PK\x03\x04"):
        return ImageProblem(path, "is not an image (it looks like a ZIP archive or document).")
    if _looks_like_text(head):
        return ImageProblem(path, "is not an image (it looks like text).")
    return ImageProblem(path, "is not an image, or is in a format rhdesk cannot read.")


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if not sample or b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a multibyte character cut at the end
            return False
        text = sample[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


def _raw_problem(path: Path) -> ImageProblem:
    return ImageProblem(
        path,
        f"is a camera RAW file ({path.suffix.upper().lstrip('.')}): "
        "export it as JPEG or TIFF first.",
    )


def _read_head(fp: IO[bytes]) -> bytes:
    try:
        fp.seek(0)
        return fp.read(4096)
    except Exception:
        return b""


def open_image(path: Path, fp: IO[bytes]) -> ImageFile.ImageFile:
    """Sniff the format from content and parse the header only; refuse what rhdesk cannot use.

    The caller owns `fp` and the returned image (close it, or use it as a context manager).
    """
    heif_ok = heif_plugin_ready()
    try:
        with pixel_guard():
            im = Image.open(fp)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(path, _size_without_guard(fp)) from exc
    except UnidentifiedImageError as exc:
        raise _not_an_image(path, _read_head(fp)) from exc
    except MemoryError as exc:
        raise ImageProblem(path, "is too large to open with the memory available.") from exc
    except Exception as exc:  # plugins raise OSError, SyntaxError, ValueError, struct.error…
        log.debug("Image.open failed for %s", path, exc_info=True)
        raise ImageProblem(path, "is damaged or incomplete.") from exc

    try:
        fmt = im.format or ""
        if fmt == "HEIF" and not heif_ok:
            raise _not_an_image(path, _read_head(fp))
        if path.suffix.lower() in _RAW_SUFFIXES and fmt in ("TIFF", "JPEG", "MPO"):
            raise _raw_problem(path)
        if fmt not in READABLE_FORMATS:
            raise ImageProblem(
                path,
                f"is a {format_name(fmt)} file, which rhdesk cannot use: "
                "save it as JPEG or PNG first.",
            )
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise _too_large(path, im.size)
        if width < 1 or height < 1:
            raise ImageProblem(path, "is damaged or incomplete (it has no pixels).")
    except BaseException:
        im.close()
        raise
    return im


def load_image(path: Path, im: Image.Image) -> None:
    """Decode the pixels of an opened image; an ImageProblem if they are damaged or too many."""
    try:
        with pixel_guard():
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(path, im.size) from exc
    except MemoryError as exc:
        raise ImageProblem(path, "is too large to open with the memory available.") from exc
    except Exception as exc:
        log.debug("decoding failed for %s", path, exc_info=True)
        raise ImageProblem(path, "is damaged or incomplete.") from exc


# --- orientation and modes ------------------------------------------------------------------------


def read_exif(im: Image.Image, *, decoded: bool) -> Image.Exif:
    """The image's EXIF without decoding pixels (unless `decoded`); empty when unreadable."""
    try:
        if im.format == "PNG" and not decoded:
            # PngImageFile.getexif() decodes the whole image to look for an eXIf chunk after the
            # pixel data; for a cheap look only the chunks before it count.
            exif = Image.Exif()
            raw = im.info.get("exif")
            if raw:
                exif.load(raw)
            return exif
        return im.getexif()
    except Exception:
        log.debug("unreadable EXIF", exc_info=True)
        return Image.Exif()


def orientation_of(exif: Image.Exif) -> int:
    try:
        value = int(exif.get(_ORIENTATION_TAG, 1))
    except (TypeError, ValueError):
        return 1
    return value if value in _TRANSPOSE_FOR_ORIENTATION else 1


def displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return im.transpose(method) if method is not None else im


def is_high_bit_depth(im: Image.Image) -> bool:
    """True for 16-bit (or deeper) sources; call before load(), while the decoder tiles exist.

    Pillow reads 48/64-bit PNG and TIFF straight into 8-bit RGB(A), so only the raw mode in its
    tile descriptors still tells that the file was 16-bit.
    """
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return True
    for tile in getattr(im, "tile", None) or ():
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        if args and isinstance(args[0], str) and ";16" in args[0]:
            return True
    return False


_SRGB_BYTES: bytes | None = None


def srgb_profile_bytes() -> bytes:
    global _SRGB_BYTES
    if _SRGB_BYTES is None:
        _SRGB_BYTES = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _SRGB_BYTES


def _deep_to_8bit(im: Image.Image) -> Image.Image:
    # Image.convert("L") clips deep values to 255 (mid-grey 32768 becomes white): scale instead.
    if im.mode.startswith("I;16"):
        im = im.convert("I")
        divisor = 257.0
    elif im.mode == "I":
        high = im.getextrema()[1]
        divisor = 257.0 if high <= 65535 else high / 255.0
    else:  # "F": 0..1 floats as most tools write them, else scaled to the brightest value
        high = im.getextrema()[1]
        divisor = 1 / 255.0 if high <= 1.0 else (1.0 if high <= 255 else high / 255.0)
    return im.point(lambda v: v / divisor).convert("L")


def _colour_managed(im: Image.Image, source: ImageCms.ImageCmsProfile) -> Image.Image:
    out = ImageCms.profileToProfile(
        im, source, ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile_bytes())), outputMode="RGB"
    )
    assert out is not None  # only None with inPlace=True
    return out


def normalise_mode(im: Image.Image) -> tuple[Image.Image, list[str]]:
    """Return the image as 8-bit L, LA, RGB or RGBA, plus plain-words notes of what changed.

    info["icc_profile"] of the result describes the result (sRGB after a colour-managed CMYK
    conversion, dropped after a naive one).
    """
    mode = im.mode
    info = dict(im.info)
    notes: list[str] = []
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im, notes
    if mode == "1":
        out = im.convert("L")
    elif mode == "P":
        out = im.convert("RGBA" if im.has_transparency_data else "RGB")
    elif mode == "PA":
        out = im.convert("RGBA")
    elif mode == "La":
        out = im.convert("LA")
    elif mode == "RGBa":
        out = im.convert("RGBA")
    elif mode.startswith("I;16") or mode in ("I", "F"):
        out = _deep_to_8bit(im)
        notes.append("Converted 16-bit image to 8-bit")
    elif mode == "CMYK":
        out = None
        if info.get("icc_profile"):
            try:
                out = _colour_managed(im, ImageCms.ImageCmsProfile(io.BytesIO(info["icc_profile"])))
                info["icc_profile"] = srgb_profile_bytes()
                notes.append("Converted CMYK to RGB using its colour profile")
            except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
                log.debug("CMYK profile unusable; converting without it", exc_info=True)
        if out is None:
            out = im.convert("RGB")
            info.pop("icc_profile", None)
            notes.append("Converted CMYK to RGB")
    elif mode == "LAB":
        out = _colour_managed(im, ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")))
        info["icc_profile"] = srgb_profile_bytes()
        notes.append("Converted Lab colour to RGB")
    else:  # RGBX, YCbCr, HSV and other three-channel modes Pillow converts directly
        out = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    out.info = info
    return out, notes


# --- the public helpers ---------------------------------------------------------------------------


def image_size(path: Path) -> tuple[int, int]:
    """Displayed width and height (after EXIF orientation), from the header only."""
    path = Path(path)
    with open_file(path) as fp, open_image(path, fp) as im:
        return displayed_size(im.size, orientation_of(read_exif(im, decoded=False)))


def open_upright(path: Path) -> Image.Image:
    """Decoded first frame, turned upright per EXIF, detached from the file; safe against bombs."""
    path = Path(path)
    with open_file(path) as fp, open_image(path, fp) as im:
        load_image(path, im)
        try:
            # exif_transpose also drops the orientation tag: re-saving cannot turn it twice.
            return ImageOps.exif_transpose(im)
        except Exception:  # it rewrites the EXIF too, which fails on some maker notes
            log.debug("exif_transpose failed for %s", path, exc_info=True)
            upright = apply_orientation(im, orientation_of(read_exif(im, decoded=True)))
            upright = upright.copy() if upright is im else upright
            upright.info = {}
            return upright


def thumbnail(path: Path, max_side: int) -> Image.Image:
    """An RGB or RGBA image, upright, no side longer than max_side.

    JPEGs are decoded at 1/2–1/8 scale straight from the DCT data (draft), HEIC from an embedded
    thumbnail when one is big enough, so a 24-megapixel photo costs a few megapixels of work.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    path = Path(path)
    with open_file(path) as fp, open_image(path, fp) as im:
        orientation = orientation_of(read_exif(im, decoded=False))
        width, height = im.size
        ratio = min(1.0, max_side / max(width, height))
        # Twice the target, like thumbnail(reducing_gap=2.0): the final resample still has
        # pixels to average, so the draft's blockiness does not show.
        box = (max(1, math.ceil(width * ratio * 2)), max(1, math.ceil(height * ratio * 2)))
        with contextlib.suppress(Exception):  # draft is an optimisation; a refusal is harmless
            im.draft("RGB" if im.mode == "RGB" else None, box)
        load_image(path, im)
        if im.format == "PNG":  # an eXIf chunk after the pixels is only visible now
            orientation = orientation_of(read_exif(im, decoded=True))
        try:
            img, _ = normalise_mode(im)
            if img.mode in ("L", "LA"):
                img = img.convert("RGB" if img.mode == "L" else "RGBA")
            img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
            upright = apply_orientation(img, orientation)
            if isinstance(upright, ImageFile.ImageFile):
                upright = upright.copy()  # detach from the file we are about to close
        except MemoryError as exc:
            raise ImageProblem(path, "is too large to preview with the memory available.") from exc
        except Exception as exc:  # never a raw Pillow error to the UI: a sentence, and a log
            log.exception("thumbnail of %s failed", path)
            raise ImageProblem(path, f"could not be previewed ({exc}).") from exc
        upright.info = {k: v for k, v in img.info.items() if k == "icc_profile"}
        return upright


def thumbnail_bytes(path: Path, max_side: int, fmt: str = "PNG") -> bytes:
    img = thumbnail(path, max_side)
    fmt = "JPEG" if fmt.upper() in ("JPG", "JPEG") else fmt.upper()
    params: dict[str, object] = {}
    if icc := img.info.get("icc_profile"):
        params["icc_profile"] = icc
    if fmt == "JPEG":
        if img.mode == "RGBA":
            flat = Image.new("RGB", img.size, (255, 255, 255))
            flat.paste(img, mask=img.getchannel("A"))
            img = flat
        params["quality"] = 90
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()
