"""The per-OS packaging files: menu entry, AppStream, Info.plist, Inno Setup, the spec, the
Linux install script. (The bundle itself is built and self-tested in .ci/run, not here.)"""

from __future__ import annotations

import configparser
import importlib.util
import os
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from packaging_helpers import ROOT

from rhdesk import __version__

PKG = ROOT / "packaging"
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/tiff"}


def load(name: str, path: Path):  # noqa: ANN201 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(PKG / "linux" / "rhdesk.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_keys() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "rhdesk %F"  # several files at once, as local paths
    assert entry["Icon"] == "rhdesk"
    assert entry["Terminal"] == "false"
    assert set(filter(None, entry["MimeType"].split(";"))) >= IMAGE_TYPES
    categories = set(filter(None, entry["Categories"].split(";")))
    assert {"Graphics", "Photography"} <= categories
    assert entry["StartupWMClass"] == "rhdesk"


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils")
def test_desktop_file_validates() -> None:
    out = subprocess.run(["desktop-file-validate", str(PKG / "linux" / "rhdesk.desktop")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0 and "error" not in out.stdout, out.stdout


def test_metainfo_has_the_required_elements() -> None:
    root = ET.parse(PKG / "linux" / "io.github.rhdesk.rhdesk.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.rhdesk.rhdesk"
    for tag in ("name", "summary", "metadata_license", "project_license"):
        assert (root.findtext(tag) or "").strip(), tag
    assert root.findtext("metadata_license") in ("CC0-1.0", "FSFAP", "MIT")
    assert root.find("description/p") is not None
    assert root.findtext("launchable[@type='desktop-id']") == "rhdesk.desktop"
    assert root.find("content_rating") is not None
    assert root.find(f"releases/release[@version='{__version__}']") is not None
    mediatypes = {m.text for m in root.findall("provides/mediatype")}
    assert mediatypes >= IMAGE_TYPES


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="apt: appstream")
def test_metainfo_validates() -> None:
    path = PKG / "linux" / "io.github.rhdesk.rhdesk.metainfo.xml"
    out = subprocess.run(["appstreamcli", "validate", "--no-net", str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_macos_info_plist() -> None:
    with open(PKG / "macos" / "Info.plist", "rb") as fh:
        info = plistlib.load(fh)
    assert info["CFBundleIdentifier"] == "io.github.rhdesk.rhdesk"
    assert info["NSHighResolutionCapable"] is True
    assert info["CFBundleIconFile"] == "rhdesk.icns"
    (doc,) = info["CFBundleDocumentTypes"]
    assert {"public.jpeg", "public.png", "public.heic"} <= set(doc["LSItemContentTypes"])
    assert doc["LSHandlerRank"] == "Alternate"  # offered, never taking over the default viewer
    with open(PKG / "macos" / "entitlements.plist", "rb") as fh:
        assert plistlib.load(fh)
    signing = (PKG / "macos" / "SIGNING.md").read_text()
    for step in ("codesign", "notarytool submit", "stapler staple", "--options runtime"):
        assert step in signing


def test_inno_setup_script() -> None:
    iss = (PKG / "windows" / "rhdesk.iss").read_text(encoding="utf-8")
    for section in ("[Setup]", "[Files]", "[Icons]", "[Registry]", "[Run]"):
        assert section in iss
    assert "AppId={{" in iss
    assert '{autoprograms}\\{#AppName}"' in iss  # Start menu
    assert "dist\\rhdesk\\*" in iss
    assert "SetupIconFile=" in iss and "rhdesk.ico" in iss
    for ext in (".jpg", ".png", ".heic", ".webp"):
        assert (
            f'Classes\\{ext}\\OpenWithProgids"; ValueType: string; ValueName: "rhdesk.Image"' in iss
        )
    assert "uninsdeletekey" in iss  # the uninstaller removes the associations


def test_spec_and_scripts_compile() -> None:
    for path in (PKG / "rhdesk.spec", ROOT / "bench" / "floor.spec"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    spec = (PKG / "rhdesk.spec").read_text(encoding="utf-8")
    assert "upx=False" in spec and "COLLECT(" in spec and "BUNDLE(" in spec
    assert "onefile" not in spec.lower()


def test_bundle_config_drops_only_what_is_unused() -> None:
    cfg = load("bundle_config", PKG / "bundle_config.py")
    assert "PySide6.QtQml" in cfg.EXCLUDES and "PySide6.QtWebEngineCore" in cfg.EXCLUDES
    for kept in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtNetwork"):
        assert kept not in cfg.EXCLUDES
    q = "PySide6/Qt/"
    for gone in (q + "plugins/sqldrivers/libqsqlite.so", q + "plugins/platforms/libqvnc.so",
                 q + "translations/qtdeclarative_de.qm", q + "qml/QtQuick/x.qml",
                 q + "lib/libQt6Pdf.so.6", q + "plugins/platformthemes/libqgtk3.so",
                 "libgtk-3.so.0"):  # fmt: skip
        assert cfg.dropped(gone), gone
    for kept in (q + "plugins/platforms/libqxcb.so", q + "plugins/platforms/libqwayland.so",
                 q + "plugins/platforms/libqoffscreen.so", q + "plugins/imageformats/libqjpeg.so",
                 q + "plugins/tls/libqopensslbackend.so", q + "translations/qtbase_de.qm",
                 q + "lib/libQt6Widgets.so.6", "libX11.so.6", "libwayland-cursor.so.0",
                 "rhdesk/data/seedream.json"):  # fmt: skip
        assert not cfg.dropped(kept), kept


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script")
def test_linux_tarball_layout_and_install_script(tmp_path: Path) -> None:
    build = load("rhdesk_build", PKG / "build.py")
    fake_bundle = tmp_path / "bundle"
    fake_bundle.mkdir()
    (fake_bundle / "rhdesk").write_text("#!/bin/sh\necho fake rhdesk\n")
    (fake_bundle / "rhdesk").chmod(0o755)
    (fake_bundle / "_internal").mkdir()
    staged = build.stage_linux(fake_bundle, tmp_path / "stage")
    assert (staged / "install.sh").stat().st_mode & 0o111
    assert (staged / "share" / "icons" / "hicolor" / "256x256" / "apps" / "rhdesk.png").exists()

    prefix = tmp_path / "home with space" / ".local"
    env = dict(os.environ, PREFIX=str(prefix), HOME=str(tmp_path / "home with space"))
    subprocess.run(["sh", str(staged / "install.sh")], env=env, check=True, capture_output=True)
    app = prefix / "lib" / "rhdesk"
    assert (app / "rhdesk").exists() and (prefix / "bin" / "rhdesk").is_symlink()
    assert subprocess.run([prefix / "bin" / "rhdesk"], capture_output=True, text=True,
                          check=True).stdout.strip() == "fake rhdesk"  # fmt: skip
    desktop = (prefix / "share" / "applications" / "rhdesk.desktop").read_text()
    assert f'Exec="{app}/rhdesk" %F' in desktop
    assert f"TryExec={app}/rhdesk" in desktop
    for n in (16, 48, 512):
        assert (
            prefix / "share" / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "rhdesk.png"
        ).exists()
    assert (prefix / "share" / "metainfo" / "io.github.rhdesk.rhdesk.metainfo.xml").exists()

    subprocess.run(["sh", str(app / "install.sh"), "--uninstall"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    assert not app.exists() and not (prefix / "bin" / "rhdesk").exists()
    assert not (prefix / "share" / "applications" / "rhdesk.desktop").exists()
    assert not (prefix / "share" / "icons" / "hicolor" / "48x48" / "apps" / "rhdesk.png").exists()
