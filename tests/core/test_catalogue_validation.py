from __future__ import annotations

import pytest

from rhdesk.core.catalogue import all_models, get_model, resolve_model_name
from rhdesk.core.sizes import match_aspect, preset_by_key, presets_for
from rhdesk.core.task import TaskSpec
from rhdesk.core.validation import (
    check_all,
    check_images,
    check_prompt,
    check_size,
    estimated_cost_cny,
)


def test_catalogue_has_the_six_seedream_endpoints():
    eps = {m.endpoint for m in all_models()}
    assert eps == {
        f"seedream-{v}/{k}"
        for v in ("v4", "v4.5", "v5-lite")
        for k in ("image-to-image", "text-to-image")
    }
    v5 = get_model("seedream-v5-lite/image-to-image")
    assert (v5.width.min, v5.width.max, v5.height.min, v5.height.max) == (1600, 4704, 1344, 4096)
    assert v5.inputs and v5.inputs.max == 10 and v5.inputs.formats == ("PNG", "JPEG")
    assert get_model("seedream-v4/text-to-image").inputs is None


@pytest.mark.parametrize(
    ("name", "images", "expected"),
    [
        ("seedream-v4.5", True, "seedream-v4.5/image-to-image"),
        ("v4", False, "seedream-v4/text-to-image"),
        ("5-lite", True, "seedream-v5-lite/image-to-image"),
        ("seedream-v4/text-to-image", True, "seedream-v4/text-to-image"),
    ],
)
def test_model_names_resolve(name, images, expected):
    assert resolve_model_name(name, images).endpoint == expected


def test_prompt_limits_explain_themselves():
    m = get_model("seedream-v4.5/image-to-image")
    (p,) = check_prompt(m, "blue")
    assert p.field == "prompt" and "at least 5" in p.message and "4 characters" in p.message
    assert check_prompt(m, "make it blue") == []
    (p,) = check_prompt(m, "x" * 2001)
    assert "2001" in p.message and "2000" in p.message


def test_size_rules():
    m = get_model("seedream-v4.5/image-to-image")
    assert check_size(m, 2048, 2048) == []
    assert any("multiple of 8" in p.message for p in check_size(m, 2049, 2048))
    assert any("out of range" in p.message for p in check_size(m, 500, 2048))
    floor = check_size(m, 1024, 1024)
    assert floor and "3,686,400" in floor[0].message
    assert (
        check_size(get_model("seedream-v4/text-to-image"), 8192, 512) == []
    )  # exactly 16:1 is allowed
    v5 = get_model("seedream-v5-lite/text-to-image")
    assert any("10,404,496" in p.message for p in check_size(v5, 4704, 4096))


def test_image_counts():
    m = get_model("seedream-v4/image-to-image")
    assert check_images(m, 0, 1, False)[0].field == "images"
    assert "11 images" in check_images(m, 11, 1, False)[0].message
    assert check_images(m, 10, 5, False) == []  # disabled sequential makes one image
    problems = check_images(m, 10, 6, True)
    assert problems and "lower max images to 5" in problems[0].message
    assert check_images(m, 1, 16, True)[0].field == "max_images"
    t2i = get_model("seedream-v4/text-to-image")
    assert check_images(t2i, 1, 1, False)[0].field == "images"


def test_every_preset_is_valid_for_its_model_and_close_to_its_ratio():
    for m in all_models():
        presets = presets_for(m)
        assert presets, m.endpoint
        for p in presets:
            assert check_size(m, p.width, p.height) == [], (m.endpoint, p)
            a, b = p.aspect
            assert abs(p.width / p.height - a / b) / (a / b) < 0.01, p
    keys = {p.key for p in presets_for(get_model("seedream-v5-lite/image-to-image"))}
    assert "1:1@3K" in keys and "1:1@4K" not in keys  # v5-lite stops at 3K


def test_match_first_image_aspect_is_valid_and_keeps_ratio():
    for m in all_models():
        for w, h in [(6000, 4000), (4000, 6000), (512, 512), (300, 4000), (8000, 100)]:
            mw, mh = match_aspect(m, w, h)
            assert check_size(m, mw, mh) == [], (m.endpoint, w, h, mw, mh)
            ratio = max(1 / 16, min(16, w / h))
            if m.width.min <= mw < m.width.max and m.height.min <= mh < m.height.max:
                assert abs(mw / mh - ratio) / ratio < 0.02, (m.endpoint, w, h, mw, mh)


def test_preset_lookup_and_spec_body():
    m = get_model("seedream-v4.5/image-to-image")
    p = preset_by_key(m, "16:9@2k")
    assert p and (p.width, p.height) == (2728, 1534)
    spec = TaskSpec(
        m.endpoint, "make the sky stormy", p.width, p.height, max_images=3, sequential=True
    )
    body = spec.request_body(["https://x/y.png"])
    assert body == {
        "prompt": "make the sky stormy",
        "width": 2728,
        "height": 1534,
        "sequentialImageGeneration": "auto",
        "maxImages": 3,
        "imageUrls": ["https://x/y.png"],
    }
    assert TaskSpec.from_json(spec.to_json()) == spec
    assert check_all(m, "make the sky stormy", 2728, 1534, 1) == []
    assert estimated_cost_cny(m, 3, True) == pytest.approx(0.6)
    assert estimated_cost_cny(m, 3, False) == pytest.approx(0.2)
