"""Checks of a task's parameters against the model catalogue, each with a plain-words reason."""

from __future__ import annotations

from dataclasses import dataclass

from rhdesk.core.catalogue import ModelSpec
from rhdesk.i18n.core import _


@dataclass(frozen=True)
class Problem:
    field: str  # "prompt", "width", "height", "size", "images", "max_images"
    message: str

    def __str__(self) -> str:
        return self.message


def check_prompt(model: ModelSpec, prompt: str) -> list[Problem]:
    n = len(prompt.strip())
    if n < model.prompt_min:
        return [
            Problem(
                "prompt",
                _(
                    "The prompt is too short ({n} characters): describe the edit in at least "
                    "{min} characters.",
                    n=n,
                    min=model.prompt_min,
                ),
            )
        ]
    if len(prompt) > model.prompt_max:
        return [
            Problem(
                "prompt",
                _(
                    "The prompt is too long ({n} characters); {model} takes at most {max}.",
                    n=len(prompt),
                    model=model.label,
                    max=model.prompt_max,
                ),
            )
        ]
    return []


def _check_side(name: str, value: int, rng, label: str) -> list[Problem]:
    # Whole sentences per side: a translation may need to word "width" and "height" differently.
    if value < rng.min or value > rng.max:
        text = (
            _("Width {value} is out of range: {model} takes {min}–{max} px.")
            if name == "width"
            else _("Height {value} is out of range: {model} takes {min}–{max} px.")
        )
        return [Problem(name, text.format(value=value, model=label, min=rng.min, max=rng.max))]
    if value % rng.step:
        lower = value - value % rng.step
        text = (
            _("Width must be a multiple of {step} px: try {lower} or {upper}.")
            if name == "width"
            else _("Height must be a multiple of {step} px: try {lower} or {upper}.")
        )
        return [Problem(name, text.format(step=rng.step, lower=lower, upper=lower + rng.step))]
    return []


def check_size(model: ModelSpec, width: int, height: int) -> list[Problem]:
    problems = _check_side("width", width, model.width, model.label)
    problems += _check_side("height", height, model.height, model.label)
    px = width * height
    if px < model.min_pixels:
        problems.append(
            Problem(
                "size",
                _(
                    "{width}×{height} is {px} pixels; {model} needs at least {min} "
                    "(about {side}×{side}).",
                    width=width,
                    height=height,
                    px=f"{px:,}",
                    model=model.label,
                    min=f"{model.min_pixels:,}",
                    side=int(model.min_pixels**0.5),
                ),
            )
        )
    elif px > model.max_pixels:
        problems.append(
            Problem(
                "size",
                _(
                    "{width}×{height} is {px} pixels; {model} makes at most {max}.",
                    width=width,
                    height=height,
                    px=f"{px:,}",
                    model=model.label,
                    max=f"{model.max_pixels:,}",
                ),
            )
        )
    if width and height:
        ratio = width / height
        if ratio < model.aspect_min or ratio > model.aspect_max:
            problems.append(
                Problem(
                    "size",
                    _(
                        "The aspect ratio {width}:{height} is too extreme: keep it between "
                        "1:16 and 16:1.",
                        width=width,
                        height=height,
                    ),
                )
            )
    return problems


def check_images(
    model: ModelSpec, n_inputs: int, max_images: int, sequential: bool
) -> list[Problem]:
    problems: list[Problem] = []
    if model.inputs is None:
        if n_inputs:
            problems.append(
                Problem("images", _("{model} takes no input images.", model=model.display_name))
            )
    elif n_inputs < model.inputs.min:
        problems.append(
            Problem("images", _("Add at least one image to edit (or pick a text-to-image model)."))
        )
    elif n_inputs > model.inputs.max:
        problems.append(
            Problem(
                "images",
                _(
                    "{n} images is too many: {model} takes at most {max}.",
                    n=n_inputs,
                    model=model.label,
                    max=model.inputs.max,
                ),
            )
        )
    if max_images < 1 or max_images > model.max_images:
        problems.append(
            Problem("max_images", _("Max images must be 1–{max}.", max=model.max_images))
        )
    outputs = max_images if sequential else 1
    if n_inputs + outputs > model.max_inputs_plus_outputs:
        problems.append(
            Problem(
                "max_images",
                _(
                    "{n} inputs plus up to {outputs} results is more than {limit}: lower max "
                    "images to {lower} or use fewer inputs.",
                    n=n_inputs,
                    outputs=outputs,
                    limit=model.max_inputs_plus_outputs,
                    lower=model.max_inputs_plus_outputs - n_inputs,
                ),
            )
        )
    return problems


def check_all(
    model: ModelSpec,
    prompt: str,
    width: int,
    height: int,
    n_inputs: int,
    max_images: int = 1,
    sequential: bool = False,
) -> list[Problem]:
    return (
        check_prompt(model, prompt)
        + check_size(model, width, height)
        + check_images(model, n_inputs, max_images, sequential)
    )


def estimated_cost_cny(model: ModelSpec, max_images: int = 1, sequential: bool = False) -> float:
    """Upper estimate: the price table is per output image; prices change, so it is an estimate."""
    return round(model.price_per_image_cny * (max_images if sequential else 1), 2)
