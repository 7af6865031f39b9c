"""Stand-in "model outputs": deterministic pictures that are visibly derived from the inputs.

Everything here is pure Pillow and runs in a worker thread, never on the server's event loop.
Outputs depend only on (inputs, prompt, size, index, format), so the same request yields the same
bytes, which lets tests compare results byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

# Effects are computed at this size and scaled up: a 4096² result then costs one resize and
# one composite instead of per-pixel work at full size.
_WORK_SIDE = 1024


def _seed(prompt: str, inputs: Sequence[bytes], width: int, height: int, index: int) -> int:
    h = hashlib.sha256()
    h.update(prompt.encode("utf-8"))
    for data in inputs:
        h.update(hashlib.sha256(data).digest())
    h.update(f"|{width}x{height}|{index}".encode())
    return int.from_bytes(h.digest()[:8], "big")


def _open_rgb(data: bytes, size: tuple[int, int]) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        # JPEG can decode at a fraction of its size: a 24 MP photo then costs a few ms.
        im.draft("RGB", (size[0] * 2, size[1] * 2))
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "P"):
            # Flatten transparency on a mid grey so logos stay visible after the tint.
            rgba = im.convert("RGBA")
            bg = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
            return Image.alpha_composite(bg, rgba).convert("RGB")
        return im.convert("RGB")


def _work_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, _WORK_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _grade_lut(rng: random.Random) -> list[int]:
    """A strong per-channel curve (tint + contrast) so the edit is obvious at a glance."""
    lut: list[int] = []
    gains = [rng.uniform(0.55, 1.35) for _ in range(3)]
    offsets = [rng.randint(-40, 60) for _ in range(3)]
    for c in range(3):
        for v in range(256):
            x = (v - 128) * 1.25 + 128  # a little extra contrast
            lut.append(max(0, min(255, int(x * gains[c] + offsets[c]))))
    return lut


def _vignette(size: tuple[int, int], strength: int) -> Image.Image:
    """An L mask, 0 in the centre rising to `strength` at the corners."""
    grad = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return grad.point(lambda v: min(255, v * strength // 180))


def _edit(
    inputs: Sequence[bytes], rng: random.Random, work: tuple[int, int], index: int
) -> Image.Image:
    first = _open_rgb(inputs[0], work)
    base = ImageOps.fit(first, work, Image.Resampling.BILINEAR)
    if index % 2:
        base = ImageOps.mirror(base)
    base = base.point(_grade_lut(rng))
    # Blend the other inputs in as picture-in-picture tiles along the bottom edge.
    tile_w = max(1, work[0] // 4)
    tile_h = max(1, work[1] // 4)
    margin = max(1, min(work) // 32)
    x = work[0] - margin - tile_w
    for data in inputs[1:4]:
        tile = ImageOps.fit(
            _open_rgb(data, (tile_w, tile_h)), (tile_w, tile_h), Image.Resampling.BILINEAR
        )
        framed = ImageOps.expand(tile, border=max(1, margin // 3), fill=(255, 255, 255))
        base.paste(framed, (x, work[1] - margin - framed.height - work[1] // 10))
        x -= framed.width + margin
        if x < 0:
            break
    return base


def _generate(rng: random.Random, work: tuple[int, int]) -> Image.Image:
    c1 = tuple(rng.randint(0, 255) for _ in range(3))
    c2 = tuple(rng.randint(0, 255) for _ in range(3))
    grad = Image.linear_gradient("L").rotate(rng.uniform(0, 360), Image.Resampling.BILINEAR)
    grad = ImageOps.fit(grad.crop((48, 48, 208, 208)), work, Image.Resampling.BILINEAR)
    img = ImageOps.colorize(grad, c1, c2)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    w, h = work
    for _ in range(rng.randint(4, 9)):
        x0, y0 = rng.randint(-w // 4, w), rng.randint(-h // 4, h)
        r = rng.randint(max(2, min(w, h) // 12), max(3, min(w, h) // 3))
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + r, y0 + r), fill=fill)
        else:
            draw.rectangle((x0, y0, x0 + r, y0 + r * rng.uniform(0.4, 1.6)), fill=fill)
    return img


def _caption(img: Image.Image, prompt: str, index: int, total: int) -> None:
    w, h = img.size
    band = max(12, h // 12)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, h - band, w, h), fill=(16, 16, 16))
    words = " ".join(prompt.split()[:8])
    label = f"{index}/{total} · {words}" if total > 1 else words
    font = ImageFont.load_default(size=max(8, band * 5 // 10))
    draw.text((band // 3, h - band + band // 4), label, fill=(240, 240, 240), font=font)


def render(
    inputs: Sequence[bytes],
    prompt: str,
    width: int,
    height: int,
    index: int = 1,
    total: int = 1,
    fmt: str = "png",
) -> bytes:
    """One result image of exactly width×height, encoded as PNG or JPEG.

    `index` is 1-based within a sequential set; each index gives a different picture.
    """
    rng = random.Random(_seed(prompt, inputs, width, height, index))
    work = _work_size(width, height)
    small = _edit(inputs, rng, work, index) if inputs else _generate(rng, work)
    small = Image.composite(Image.new("RGB", work, (0, 0, 0)), small, _vignette(work, 170))
    img = (
        small.resize((width, height), Image.Resampling.BILINEAR)
        if work != (width, height)
        else small
    )
    # The caption is drawn at full size so the text stays sharp on large results.
    _caption(img, prompt, index, total)
    out = io.BytesIO()
    if fmt == "jpg":
        img.save(out, "JPEG", quality=90)
    else:
        img.save(out, "PNG", compress_level=1)
    return out.getvalue()


def sniff(data: bytes) -> str | None:
    """The Pillow format name ("PNG", "JPEG", …) if `data` is an image Pillow can open."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.format
    except Exception:
        return None
