"""App identity: icons at every size, version, About dialog with the bundled licences."""

from __future__ import annotations

import subprocess
from pathlib import Path

from packaging_helpers import ROOT, rhdesk_command, subprocess_env
from PIL import Image

from rhdesk import __version__

ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_png_icons_at_every_hicolor_size() -> None:
    for n in SIZES:
        path = ICONS / "hicolor" / f"{n}x{n}" / "apps" / "rhdesk.png"
        with Image.open(path) as im:
            assert im.size == (n, n), path
            assert im.mode == "RGBA"
            corner, centre = im.getpixel((0, 0)), im.getpixel((n // 2, n // 2))
        assert corner[3] == 0, f"{n}px: the rounded corner should be transparent"
        assert centre[3] == 255, f"{n}px: the middle should be opaque"


def test_ico_and_icns_hold_the_sizes() -> None:
    with Image.open(ICONS / "rhdesk.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(ICONS / "rhdesk.icns") as icns:
        sizes = {s[:2] for s in icns.info["sizes"]}
        assert {(16, 16), (32, 32), (128, 128), (256, 256), (512, 512)} <= sizes
        assert (512, 512, 2) in icns.info["sizes"]  # the 1024 px retina entry


def test_svg_source_renders(qapp) -> None:
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(ICONS / "rhdesk.svg"))
    assert renderer.isValid()
    assert renderer.defaultSize().width() == 512


def test_rendered_icons_match_the_svg(qapp) -> None:
    """The committed PNGs are what make_icons.py makes from the SVG now (none is stale)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_icons", ROOT / "packaging" / "make_icons.py"
    )
    assert spec and spec.loader
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    fresh = make_icons.render(ICONS / "rhdesk.svg", 64)
    with Image.open(ICONS / "hicolor" / "64x64" / "apps" / "rhdesk.png") as committed:
        pairs = zip(fresh.tobytes(), committed.convert("RGBA").tobytes(), strict=True)
        diff = [abs(a - b) for a, b in pairs]
    assert max(diff) <= 2


def test_app_icon_found_from_the_checkout(qapp) -> None:
    from rhdesk import desktop

    assert len(desktop.icon_files()) == len(SIZES)
    icon = desktop.app_icon()
    assert not icon.isNull()
    assert icon.pixmap(48, 48).width() == 48


def test_icon_lookup_prefers_the_bundle(tmp_path: Path, monkeypatch) -> None:
    import sys

    from rhdesk import desktop

    bundled = tmp_path / "resources" / "icons" / "hicolor" / "16x16" / "apps"
    bundled.mkdir(parents=True)
    (bundled / "rhdesk.png").write_bytes(b"png")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert desktop.resource_path("icons", "hicolor", "16x16", "apps", "rhdesk.png") == (
        bundled / "rhdesk.png"
    )
    # sizes the fake bundle lacks still come from the checkout
    assert desktop.resource_path("icons", "hicolor", "32x32", "apps", "rhdesk.png") is not None


def test_version_on_the_command_line() -> None:
    out = subprocess.run(
        rhdesk_command("--version"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    assert out.stdout.strip() == f"rhdesk {__version__}"


def test_application_identity(qapp) -> None:
    from rhdesk.app import _ensure_app

    app = _ensure_app()
    assert (app.applicationName(), app.applicationVersion()) == ("rhdesk", __version__)
    assert app.organizationName() and app.desktopFileName() == "rhdesk"


def test_about_lists_bundled_licences(qtbot) -> None:
    from rhdesk.ui.about import AboutDialog

    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    names = {info.name.lower().replace("_", "-"): info for info in dialog.infos}
    for needed in ("pyside6-essentials", "shiboken6", "qasync", "httpx", "httpcore", "anyio",
                   "h11", "certifi", "idna", "pillow", "pillow-heif", "aiohttp", "yarl",
                   "multidict", "platformdirs", "keyring"):  # fmt: skip
        assert needed in names, needed
        assert names[needed].licence not in ("", "unknown"), needed
    assert "LGPL-3.0" in names["pyside6-essentials"].licence
    registry = names["runninghub model registry data"]
    assert registry.licence == "Apache-2.0"

    assert dialog.select("Pillow")
    assert "permission" in dialog.text.toPlainText().lower()
    # PySide6 ships no licence file: we ship the LGPL text ourselves.
    assert dialog.select("PySide6-Essentials")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in dialog.text.toPlainText()
    assert dialog.select("RunningHub model registry data")
    assert "Apache License" in dialog.text.toPlainText()


def test_help_about_opens_the_dialog(qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QLabel

    from rhdesk.app import build_main_window
    from rhdesk.ui.about import AboutDialog

    window = build_main_window(["--data-dir", str(tmp_path / "data")])
    qtbot.addWidget(window)
    window.findChild(QAction, "aboutAction").trigger()
    dialog = window.findChild(AboutDialog, "aboutDialog")
    assert dialog is not None and dialog.isVisible()
    assert __version__ in dialog.findChild(QLabel, "aboutTitle").text()
    assert "Qt " in dialog.findChild(QLabel, "aboutVersions").text()
    dialog.close()
