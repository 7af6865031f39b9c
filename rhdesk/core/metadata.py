"""What a result file says about itself: the source photo's colour profile and camera facts, and
the prompt (with model and task ids) that made it.

Photographers keep results next to their originals, in Lightroom or Bridge: the result must keep
the source's ICC profile (or its colours shift), the camera and the date taken (or the catalogue
sorts it wrongly), and must not carry the location (a GPS tag leaks where someone lives).

The files are rewritten at the container level, never re-encoded: for PNG the chunks before the
image data are replaced, for JPEG the APP1/APP2 segments; the compressed pixels are copied
byte for byte, so there is no loss and a 4K result takes milliseconds. Other formats are left as
they are. Whatever goes wrong, the result file is never lost: the original stays in place.

Blocking file work without Qt: callers run it in a thread executor.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image

from rhdesk import __version__

log = logging.getLogger("rhdesk.metadata")

# EXIF tags (TIFF/EXIF 2.32 numbers).
IMAGE_DESCRIPTION = 0x010E
MAKE = 0x010F
MODEL = 0x0110
ORIENTATION = 0x0112
SOFTWARE = 0x0131
DATE_TIME = 0x0132
ARTIST = 0x013B
COPYRIGHT = 0x8298
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATE_TIME_ORIGINAL = 0x9003
DATE_TIME_DIGITIZED = 0x9004
OFFSET_TIME_ORIGINAL = 0x9011
USER_COMMENT = 0x9286

# What of the source's EXIF a result keeps: who and what took it, and when. Not the location,
# not serial numbers, not maker notes (opaque, often with more private data in them).
_KEPT_MAIN = (MAKE, MODEL, DATE_TIME, ARTIST, COPYRIGHT)
_KEPT_EXIF = (
    DATE_TIME_ORIGINAL,
    DATE_TIME_DIGITIZED,
    OFFSET_TIME_ORIGINAL,
    0x829A,  # ExposureTime
    0x829D,  # FNumber
    0x8827,  # ISO
    0x920A,  # FocalLength
    0xA433,  # LensMake
    0xA434,  # LensModel
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_DESCRIPTION_KEY = "Description"  # a registered PNG keyword (readers show it)
PNG_RHDESK_KEY = "rhdesk"  # machine-readable JSON: prompt, model, task ids
PNG_XMP_KEY = "XML:com.adobe.xmp"
_OWN_PNG_KEYS = {PNG_DESCRIPTION_KEY, PNG_RHDESK_KEY, PNG_XMP_KEY, "Software"}
_ICC_NAME = b"ICC profile"

_JPEG_EXIF_HEADER = b"Exif\x00\x00"
_JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
_JPEG_ICC_HEADER = b"ICC_PROFILE\x00"
_JPEG_SEGMENT_MAX = 65533  # payload bytes an APPn segment can hold (length field minus itself)
_JPEG_ICC_CHUNK = _JPEG_SEGMENT_MAX - len(_JPEG_ICC_HEADER) - 2

XMP_NS_RHDESK = "https://rhdesk.app/ns/1.0/"


@dataclass(frozen=True)
class SourceFacts:
    icc_profile: bytes | None
    main: dict[int, Any]  # kept tags of the main IFD (never GPS)
    sub: dict[int, Any]  # kept tags of the EXIF sub-IFD


@dataclass(frozen=True)
class ResultMetadata:
    """What `read_metadata` finds in a file (for tests, the history and the batch report)."""

    prompt: str | None
    model: str | None
    task_id: str | None
    remote_id: str | None
    icc_profile: bytes | None
    make: str | None
    camera_model: str | None
    date_taken: str | None
    orientation: int | None
    has_gps: bool
    xmp: str | None


# --- public API -----------------------------------------------------------------------------------


def embed_metadata(
    result: Path,
    *,
    source: Path | None,
    prompt: str,
    model: str,
    task_id: str | None,
    remote_id: str | None,
) -> None:
    """Give `result` the source's colour profile and basic EXIF (minus GPS) plus the prompt,
    model and task ids. Rewrites the file atomically; on any failure it is left untouched."""
    result = Path(result)
    try:
        data = result.read_bytes()
        facts = source_facts(source) if source is not None else SourceFacts(None, {}, {})
        exif = _result_exif(facts, prompt, model)
        xmp = _xmp_packet(prompt, model, task_id, remote_id)
        record = {"prompt": prompt, "model": model, "task_id": task_id, "remote_id": remote_id}
        if data.startswith(PNG_SIGNATURE):
            out = _png_with_metadata(data, facts.icc_profile, exif, prompt, record, xmp)
        elif data.startswith(b"\xff\xd8"):
            out = _jpeg_with_metadata(data, facts.icc_profile, exif, xmp)
        else:
            log.info("no metadata written to %s: only PNG and JPEG results are supported", result)
            return
        _check_decodes(out)
        _replace_atomically(result, out)
    except Exception:
        # The result is what the user paid for; missing metadata is not worth losing it.
        log.warning("could not write metadata to %s; the result is kept as it was", result,
                    exc_info=True)  # fmt: skip


def source_facts(source: Path) -> SourceFacts:
    """The colour profile and the kept EXIF of a source photo (headers only, no decoding)."""
    from rhdesk.core import imageops

    with contextlib.suppress(Exception):
        imageops.heif_plugin_ready()  # registers the HEIC opener when it is installed
    try:
        with Image.open(source) as im:
            icc = im.info.get("icc_profile") or None
            src = im.getexif()
    except Exception:
        log.info("no metadata read from %s", source, exc_info=True)
        return SourceFacts(None, {}, {})
    main = {tag: src[tag] for tag in _KEPT_MAIN if src.get(tag) not in (None, "", b"")}
    try:
        sub = src.get_ifd(EXIF_IFD)
    except Exception:  # a damaged sub-IFD: keep what the main IFD had
        sub = {}
    kept_sub = {tag: sub[tag] for tag in _KEPT_EXIF if sub.get(tag) not in (None, "", b"")}
    return SourceFacts(icc, main, kept_sub)


def read_metadata(path: Path) -> ResultMetadata:
    with Image.open(path) as im:
        exif = im.getexif()
        info = dict(im.info)
        text = dict(getattr(im, "text", {}) or {})
    sub = exif.get_ifd(EXIF_IFD) if EXIF_IFD in exif else {}
    record: dict[str, Any] = {}
    if PNG_RHDESK_KEY in text:
        with contextlib.suppress(ValueError):
            record = json.loads(text[PNG_RHDESK_KEY])
    xmp = info.get("xmp") or text.get(PNG_XMP_KEY)
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    prompt = record.get("prompt") or text.get(PNG_DESCRIPTION_KEY)
    if prompt is None and sub.get(USER_COMMENT):
        prompt = _decode_user_comment(sub[USER_COMMENT])
    if prompt is None and exif.get(IMAGE_DESCRIPTION):
        prompt = _text(exif[IMAGE_DESCRIPTION])
    return ResultMetadata(
        prompt=prompt,
        model=record.get("model") or _xmp_attr(xmp, "rhdesk:model"),
        task_id=record.get("task_id") or _xmp_attr(xmp, "rhdesk:taskId"),
        remote_id=record.get("remote_id") or _xmp_attr(xmp, "rhdesk:remoteTaskId"),
        icc_profile=info.get("icc_profile") or None,
        make=_text(exif.get(MAKE)),
        camera_model=_text(exif.get(MODEL)),
        date_taken=_text(sub.get(DATE_TIME_ORIGINAL)),
        orientation=exif.get(ORIENTATION),
        has_gps=GPS_IFD in exif,
        xmp=xmp,
    )


# --- building the pieces --------------------------------------------------------------------------


def _result_exif(facts: SourceFacts, prompt: str, model: str) -> bytes:
    """TIFF bytes (no "Exif" header) for the result."""
    exif = Image.Exif()
    for tag, value in facts.main.items():
        exif[tag] = value
    sub = dict(facts.sub)
    # The model returns an upright picture: any rotation of the source is already applied.
    exif[ORIENTATION] = 1
    # EXIF says ASCII; UTF-8 is what exiftool, Lightroom and browsers read in practice.
    exif[IMAGE_DESCRIPTION] = prompt.encode("utf-8")
    exif[SOFTWARE] = f"rhdesk {__version__} ({model})"
    sub[USER_COMMENT] = _user_comment(prompt)
    exif[EXIF_IFD] = sub
    raw = exif.tobytes()
    return raw[len(_JPEG_EXIF_HEADER) :] if raw.startswith(_JPEG_EXIF_HEADER) else raw


def _exif_big_endian() -> bool:
    return Image.Exif().tobytes()[6:8] == b"MM"


_BIG_ENDIAN = _exif_big_endian()


def _user_comment(text: str) -> bytes:
    if text.isascii():
        return b"ASCII\x00\x00\x00" + text.encode("ascii")
    # UNICODE comments are UCS-2 in the byte order of the EXIF block they sit in.
    return b"UNICODE\x00" + text.encode("utf-16-be" if _BIG_ENDIAN else "utf-16-le")


def _decode_user_comment(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        for enc in ("utf-16-be", "utf-16-le") if _BIG_ENDIAN else ("utf-16-le", "utf-16-be"):
            with contextlib.suppress(UnicodeDecodeError):
                return body.decode(enc)
    return body.decode("utf-8", "replace").rstrip("\x00")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value).rstrip("\x00")


def _xmp_packet(prompt: str, model: str, task_id: str | None, remote_id: str | None) -> bytes:
    attrs = [
        f"xmp:CreatorTool={quoteattr(f'rhdesk {__version__}')}",
        f"rhdesk:model={quoteattr(model)}",
    ]
    if task_id:
        attrs.append(f"rhdesk:taskId={quoteattr(str(task_id))}")
    if remote_id:
        attrs.append(f"rhdesk:remoteTaskId={quoteattr(str(remote_id))}")
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'    xmlns:rhdesk="{XMP_NS_RHDESK}"\n'
        f"    {' '.join(attrs)}>\n"
        "   <dc:description><rdf:Alt>"
        f'<rdf:li xml:lang="x-default">{escape(prompt)}</rdf:li>'
        "</rdf:Alt></dc:description>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _xmp_attr(xmp: str | None, name: str) -> str | None:
    if not xmp:
        return None
    marker = f"{name}="
    i = xmp.find(marker)
    if i < 0:
        return None
    quote = xmp[i + len(marker)]
    end = xmp.find(quote, i + len(marker) + 1)
    from xml.sax.saxutils import unescape

    return unescape(xmp[i + len(marker) + 1 : end], {"&quot;": '"', "&apos;": "'"})


# --- PNG ------------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated PNG chunk header")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated PNG chunk")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("PNG without IHDR")
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_text_key(kind: bytes, body: bytes) -> str | None:
    if kind not in (b"tEXt", b"iTXt", b"zTXt"):
        return None
    return body.split(b"\x00", 1)[0].decode("latin-1")


def _itxt(key: str, text: str) -> bytes:
    # keyword, compression flag 0, method 0, empty language, empty translated keyword, UTF-8 text
    return key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")


def _png_with_metadata(
    data: bytes,
    icc: bytes | None,
    exif: bytes,
    prompt: str,
    record: dict[str, Any],
    xmp: bytes,
) -> bytes:
    chunks = _png_chunks(data)
    kept: list[tuple[bytes, bytes]] = []
    for kind, body in chunks[1:]:
        if kind == b"eXIf" or (icc and kind in (b"iCCP", b"sRGB")):
            continue  # replaced (sRGB and iCCP must not both be present)
        if _png_text_key(kind, body) in _OWN_PNG_KEYS:
            continue
        kept.append((kind, body))
    added: list[bytes] = []
    if icc:
        added.append(_png_chunk(b"iCCP", _ICC_NAME + b"\x00\x00" + zlib.compress(icc, 9)))
    added.append(_png_chunk(b"eXIf", exif))
    added.append(_png_chunk(b"iTXt", _itxt(PNG_DESCRIPTION_KEY, prompt)))
    added.append(_png_chunk(b"tEXt", b"Software\x00" + f"rhdesk {__version__}".encode("latin-1")))
    added.append(_png_chunk(b"iTXt", _itxt(PNG_RHDESK_KEY, json.dumps(record, ensure_ascii=False))))
    added.append(_png_chunk(b"iTXt", _itxt(PNG_XMP_KEY, xmp.decode("utf-8"))))
    # Everything new goes right after IHDR: iCCP and eXIf must precede PLTE and IDAT.
    out = [PNG_SIGNATURE, _png_chunk(b"IHDR", chunks[0][1]), *added]
    out += [_png_chunk(kind, body) for kind, body in kept]
    if not kept or kept[-1][0] != b"IEND":
        raise ValueError("PNG without IEND")
    return b"".join(out)


# --- JPEG -----------------------------------------------------------------------------------------


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > _JPEG_SEGMENT_MAX:
        raise ValueError("metadata too large for one JPEG segment")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_metadata(data: bytes, icc: bytes | None, exif: bytes, xmp: bytes) -> bytes:
    pos = 2
    leading: list[bytes] = []  # APP0 (JFIF/JFXX) stays first, as readers expect
    others: list[bytes] = []
    result_icc: list[bytes] = []
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is the picture, copied untouched
            rest = data[pos:]
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            others.append(data[pos : pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos : pos + 2 + length]
        payload = segment[4:]
        pos += 2 + length
        if marker == 0xE1 and payload.startswith(
            (_JPEG_EXIF_HEADER, _JPEG_XMP_HEADER, _JPEG_XMP_EXTENSION_HEADER)
        ):
            continue
        if marker == 0xE2 and payload.startswith(_JPEG_ICC_HEADER):
            result_icc.append(segment)
            continue
        (leading if marker == 0xE0 and not others else others).append(segment)
    added = [
        _jpeg_segment(0xE1, _JPEG_EXIF_HEADER + exif),
        _jpeg_segment(0xE1, _JPEG_XMP_HEADER + xmp),
    ]
    if icc:
        parts = [icc[i : i + _JPEG_ICC_CHUNK] for i in range(0, len(icc), _JPEG_ICC_CHUNK)]
        if len(parts) > 255:
            raise ValueError("ICC profile too large for JPEG")
        for n, part in enumerate(parts, 1):
            added.append(_jpeg_segment(0xE2, _JPEG_ICC_HEADER + bytes((n, len(parts))) + part))
    else:
        added += result_icc  # no source profile: the result keeps its own
    return b"".join([b"\xff\xd8", *leading, *added, *others, rest])


# --- writing --------------------------------------------------------------------------------------


def _check_decodes(data: bytes) -> None:
    """The rewritten file must still be a readable image before it replaces the original."""
    with Image.open(io.BytesIO(data)) as im:
        im.verify()


def _replace_atomically(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.meta.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
