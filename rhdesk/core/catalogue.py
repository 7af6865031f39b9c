"""The Seedream model catalogue, loaded from bundled data (one place for every limit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

IMAGE_TO_IMAGE = "image-to-image"
TEXT_TO_IMAGE = "text-to-image"


@dataclass(frozen=True)
class Range:
    min: int
    max: int
    step: int
    default: int


@dataclass(frozen=True)
class InputLimits:
    min: int
    max: int
    formats: tuple[str, ...]  # e.g. ("PNG", "JPEG")
    max_bytes: int


@dataclass(frozen=True)
class ModelSpec:
    endpoint: str  # "seedream-v4.5/image-to-image": the path after /openapi/v2/
    family: str  # "seedream-v4.5"
    kind: str  # IMAGE_TO_IMAGE or TEXT_TO_IMAGE
    label: str  # "Seedream 4.5"
    prompt_min: int
    prompt_max: int
    width: Range
    height: Range
    min_pixels: int
    max_pixels: int
    aspect_min: float
    aspect_max: float
    resolutions: tuple[str, ...]
    max_images: int
    max_inputs_plus_outputs: int
    price_per_image_cny: float
    inputs: InputLimits | None  # None for text-to-image

    @property
    def takes_images(self) -> bool:
        return self.inputs is not None

    @property
    def display_name(self) -> str:
        return f"{self.label} · {'edit' if self.takes_images else 'generate'}"


def _model_from_json(d: dict) -> ModelSpec:
    inputs = d.get("inputs")
    return ModelSpec(
        endpoint=d["endpoint"],
        family=d["family"],
        kind=d["kind"],
        label=d["label"],
        prompt_min=d["prompt_min"],
        prompt_max=d["prompt_max"],
        width=Range(**d["width"]),
        height=Range(**d["height"]),
        min_pixels=d["min_pixels"],
        max_pixels=d["max_pixels"],
        aspect_min=d["aspect_min"],
        aspect_max=d["aspect_max"],
        resolutions=tuple(d["resolutions"]),
        max_images=d["max_images"],
        max_inputs_plus_outputs=d["max_inputs_plus_outputs"],
        price_per_image_cny=d["price_per_image_cny"],
        inputs=(
            InputLimits(
                min=inputs["min"],
                max=inputs["max"],
                formats=tuple(inputs["formats"]),
                max_bytes=int(inputs["max_mb"] * 1024 * 1024),
            )
            if inputs
            else None
        ),
    )


@cache
def all_models() -> tuple[ModelSpec, ...]:
    raw = resources.files("rhdesk").joinpath("data/seedream.json").read_text(encoding="utf-8")
    return tuple(_model_from_json(m) for m in json.loads(raw)["models"])


def get_model(endpoint: str) -> ModelSpec:
    for m in all_models():
        if m.endpoint == endpoint:
            return m
    raise KeyError(endpoint)


def families() -> list[str]:
    seen: list[str] = []
    for m in all_models():
        if m.family not in seen:
            seen.append(m.family)
    return seen


def model_for(family: str, with_images: bool) -> ModelSpec:
    return get_model(f"{family}/{IMAGE_TO_IMAGE if with_images else TEXT_TO_IMAGE}")


DEFAULT_FAMILY = "seedream-v4.5"


def resolve_model_name(name: str, with_images: bool) -> ModelSpec:
    """Accept 'seedream-v4.5', 'v4.5', '4.5' or a full endpoint; pick i2i/t2i by with_images."""
    name = name.strip().lower()
    if "/" in name:
        return get_model(name)
    for fam in families():
        short = fam.removeprefix("seedream-")
        if name in (fam, short, short.removeprefix("v")):
            return model_for(fam, with_images)
    raise KeyError(name)
