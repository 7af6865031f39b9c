from __future__ import annotations

from datetime import datetime

import pytest

from rhdesk.core.naming import (
    NameFields,
    TemplateError,
    result_path,
    safe_component,
    safe_extension,
)

WHEN = datetime(2026, 11, 24, 12, 30, 5)


def fields(source="holiday", n=1):
    return NameFields(
        source=source, model="seedream-v4.5", when=WHEN, n=n, task="7", prompt="make it snow"
    )


def test_default_template(tmp_path):
    p = result_path(tmp_path, "{source}_{model}_{date}_{n}", fields(), "png")
    assert p == (tmp_path / "holiday_seedream-v4.5_2026-11-24_1.png").resolve()


def test_existing_files_are_never_overwritten(tmp_path):
    first = result_path(tmp_path, "{source}", fields(), "png")
    first.write_bytes(b"x")
    second = result_path(tmp_path, "{source}", fields(), "png")
    assert second.name == "holiday (2).png"


@pytest.mark.parametrize(
    "hostile",
    [
        "../../x",
        "/etc/passwd",
        "..\\..\\win",
        "CON",
        "nul.txt",
        "a/../../b",
        "..",
        "\x00evil",
        "C:\\x",
    ],
)
def test_hostile_names_stay_inside_the_library(tmp_path, hostile):
    lib = tmp_path / "lib"
    lib.mkdir()
    for template in ("{source}", "{prompt}/{source}", hostile + "{n}"):
        p = result_path(lib, template, fields(source=hostile), "png")
        assert lib.resolve() in p.parents
        assert p.name.split(".")[0].upper() not in {"CON", "NUL"}


def test_bad_template_is_explained():
    with pytest.raises(TemplateError, match="not valid"):
        result_path(__import__("pathlib").Path("/tmp"), "{nope}", fields(), "png")


def test_components_and_extensions():
    assert safe_component('a<b>:c"d|e?f*g') == "a_b_c_d_e_f_g"
    assert safe_component("   ") == "image"
    assert safe_component("LPT1") == "_LPT1"
    assert safe_extension("JPEG") == "jpg"
    assert safe_extension("../../exe") == "png"
    assert safe_extension(None) == "png"


def test_reserved_names_are_unique_under_concurrency(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from rhdesk.core.naming import reserve_result_path

    with ThreadPoolExecutor(8) as pool:
        paths = list(
            pool.map(
                lambda _: reserve_result_path(tmp_path, "{source}", fields(), "png"), range(40)
            )
        )
    assert len(set(paths)) == 40
    assert all(p.with_name(p.name + ".part").exists() and not p.exists() for p in paths)
