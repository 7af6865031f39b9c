"""Output-size presets (aspect ratio × tier) valid for each model, and 'match the first input'."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rhdesk.core.catalogue import ModelSpec
from rhdesk.core.validation import check_size

ASPECTS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (4, 3),
    (3, 4),
    (3, 2),
    (2, 3),
    (16, 9),
    (9, 16),
    (21, 9),
)
TIERS: dict[str, int] = {"1K": 1024 * 1024, "2K": 2048 * 2048, "3K": 3072 * 3072, "4K": 4096 * 4096}


@dataclass(frozen=True)
class SizePreset:
    key: str  # "16:9@2K"
    aspect: tuple[int, int]
    tier: str
    width: int
    height: int

    @property
    def label(self) -> str:
        return f"{self.aspect[0]}:{self.aspect[1]} {self.tier} — {self.width}×{self.height}"


def _fit(model: ModelSpec, ratio: float, pixels: float) -> tuple[int, int] | None:
    """Largest width×height on the model's grid with this ratio and at most `pixels` pixels."""
    sw, sh = model.width.step, model.height.step
    w = math.sqrt(pixels * ratio)
    w = int(w // sw * sw)
    for _ in range(64):
        h = int(round(w / ratio / sh) * sh)
        if w * h <= pixels and not check_size(model, w, h):
            return w, h
        if w * h > pixels:
            w -= sw
            continue
        break
    # clamp into the model's ranges, keeping the ratio as well as the grid allows
    w = max(model.width.min, min(model.width.max, w))
    h = int(round(w / ratio / sh) * sh)
    h = max(model.height.min, min(model.height.max, h))
    return (w, h) if not check_size(model, w, h) else None


def presets_for(model: ModelSpec) -> list[SizePreset]:
    out: list[SizePreset] = []
    for tier, px in TIERS.items():
        for a, b in ASPECTS:
            wh = _fit(model, a / b, min(px, model.max_pixels))
            if wh is None:
                continue
            w, h = wh
            if not 0.7 * px <= w * h <= 1.3 * px:  # the model cannot really do this tier
                continue
            out.append(SizePreset(f"{a}:{b}@{tier}", (a, b), tier, w, h))
    return out


def preset_by_key(model: ModelSpec, key: str) -> SizePreset | None:
    key = key.strip().upper().replace(" ", "@")
    for p in presets_for(model):
        if p.key.upper() == key:
            return p
    return None


def default_size(model: ModelSpec) -> tuple[int, int]:
    w, h = model.width.default, model.height.default
    if not check_size(model, w, h):
        return w, h
    return match_aspect(model, 1, 1)


def match_aspect(
    model: ModelSpec, src_w: int, src_h: int, tier: str | None = None
) -> tuple[int, int]:
    """A valid size with the source's aspect ratio (clamped to 1:16–16:1), near the tier's pixels."""
    ratio = max(model.aspect_min, min(model.aspect_max, src_w / max(1, src_h)))
    target = TIERS[tier] if tier else max(model.min_pixels, TIERS["2K"])
    target = min(max(target, model.min_pixels), model.max_pixels)
    wh = _fit(model, ratio, target)
    if wh is None:
        # extreme ratios: walk up from the floor until something fits
        px = model.min_pixels
        while wh is None and px <= model.max_pixels:
            wh = _fit(model, ratio, px)
            px *= 1.1
    if wh is None:
        return (
            default_size(model)
            if (src_w, src_h) != (1, 1)
            else (model.width.default, model.height.default)
        )
    w, h = wh
    if w * h < model.min_pixels:
        return match_aspect(model, src_w, src_h, None) if tier else (w, h)
    return w, h
