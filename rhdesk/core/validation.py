"""Checks of a task's parameters against the model catalogue, each with a plain-words reason."""

from __future__ import annotations

from dataclasses import dataclass

from rhdesk.core.catalogue import ModelSpec


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
                f"The prompt is too short ({n} characters): describe the edit in at least "
                f"{model.prompt_min} characters.",
            )
        ]
    if len(prompt) > model.prompt_max:
        return [
            Problem(
                "prompt",
                f"The prompt is too long ({len(prompt)} characters); {model.label} takes at most "
                f"{model.prompt_max}.",
            )
        ]
    return []


def _check_side(name: str, value: int, rng, label: str) -> list[Problem]:
    if value < rng.min or value > rng.max:
        return [
            Problem(
                name,
                f"{name.capitalize()} {value} is out of range: {label} takes {rng.min}–{rng.max} px.",
            )
        ]
    if value % rng.step:
        lower = value - value % rng.step
        return [
            Problem(
                name,
                f"{name.capitalize()} must be a multiple of {rng.step} px: try {lower} or {lower + rng.step}.",
            )
        ]
    return []


def check_size(model: ModelSpec, width: int, height: int) -> list[Problem]:
    problems = _check_side("width", width, model.width, model.label)
    problems += _check_side("height", height, model.height, model.label)
    px = width * height
    if px < model.min_pixels:
        problems.append(
            Problem(
                "size",
                f"{width}×{height} is {px:,} pixels; {model.label} needs at least "
                f"{model.min_pixels:,} (about {int(model.min_pixels**0.5)}×{int(model.min_pixels**0.5)}).",
            )
        )
    elif px > model.max_pixels:
        problems.append(
            Problem(
                "size",
                f"{width}×{height} is {px:,} pixels; {model.label} makes at most {model.max_pixels:,}.",
            )
        )
    if width and height:
        ratio = width / height
        if ratio < model.aspect_min or ratio > model.aspect_max:
            problems.append(
                Problem(
                    "size",
                    f"The aspect ratio {width}:{height} is too extreme: keep it between 1:16 and 16:1.",
                )
            )
    return problems


def check_images(
    model: ModelSpec, n_inputs: int, max_images: int, sequential: bool
) -> list[Problem]:
    problems: list[Problem] = []
    if model.inputs is None:
        if n_inputs:
            problems.append(Problem("images", f"{model.display_name} takes no input images."))
    elif n_inputs < model.inputs.min:
        problems.append(
            Problem("images", "Add at least one image to edit (or pick a text-to-image model).")
        )
    elif n_inputs > model.inputs.max:
        problems.append(
            Problem(
                "images",
                f"{n_inputs} images is too many: {model.label} takes at most {model.inputs.max}.",
            )
        )
    if max_images < 1 or max_images > model.max_images:
        problems.append(Problem("max_images", f"Max images must be 1–{model.max_images}."))
    outputs = max_images if sequential else 1
    if n_inputs + outputs > model.max_inputs_plus_outputs:
        problems.append(
            Problem(
                "max_images",
                f"{n_inputs} inputs plus up to {outputs} results is more than "
                f"{model.max_inputs_plus_outputs}: lower max images to "
                f"{model.max_inputs_plus_outputs - n_inputs} or use fewer inputs.",
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
