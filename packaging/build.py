"""Build rhdesk for the operating system this runs on, then package it.

    python packaging/build.py              # bundle + package
    python packaging/build.py --bundle-only
    python packaging/build.py --package-only   # re-package an existing dist/rhdesk

Linux:   dist/rhdesk/ (PyInstaller one-folder) and dist/rhdesk-<v>-linux-<arch>.tar.gz with
         install.sh, the .desktop file, hicolor icons and AppStream metainfo.
Windows: dist/rhdesk/ and, if Inno Setup's ISCC.exe is found, dist/rhdesk-<v>-windows-x64-setup.exe.
macOS:   dist/rhdesk.app and, if hdiutil is there, dist/rhdesk-<v>-macos-<arch>.dmg (unsigned;
         see packaging/macos/SIGNING.md).
Needs PyInstaller in the environment (`pip install pyinstaller`).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
METAINFO = "io.github.rhdesk.rhdesk.metainfo.xml"


def version() -> str:
    text = (ROOT / "rhdesk" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'__version__ = "([^"]+)"', text)
    if not match:
        raise SystemExit("build: no __version__ in rhdesk/__init__.py")
    return match.group(1)


def arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def bundle(clean: bool = True) -> Path:
    """Run PyInstaller on the checked-in spec; returns dist/rhdesk (or dist/rhdesk.app)."""
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK)]  # fmt: skip
    if clean:
        cmd.append("--clean")
    cmd.append(str(HERE / "rhdesk.spec"))
    t0 = time.monotonic()
    print("build:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    took = time.monotonic() - t0
    out = DIST / ("rhdesk.app" if sys.platform == "darwin" else "rhdesk")
    print(f"build: bundle {out.relative_to(ROOT)} in {took:.0f} s, "
          f"{dir_size(out) / 1e6:.0f} MB", flush=True)  # fmt: skip
    return out


# -- Linux ----------------------------------------------------------------------------------
def validate_linux_metadata() -> None:
    """Use the desktop's own validators when installed (apt: desktop-file-utils, appstream)."""
    desktop = HERE / "linux" / "rhdesk.desktop"
    metainfo = HERE / "linux" / METAINFO
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(desktop)], check=True)
        print("build: rhdesk.desktop valid (desktop-file-validate)")
    if shutil.which("appstreamcli"):
        subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)], check=True)
        print("build: metainfo valid (appstreamcli)")


def stage_linux(bundle_dir: Path, out_dir: Path) -> Path:
    """The tarball's contents: rhdesk/ (the bundle), share/ (menu entry, icons, metainfo) and
    install.sh. Returns the staging folder."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    shutil.copytree(bundle_dir, out_dir / "rhdesk", symlinks=True)
    share = out_dir / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copy2(HERE / "linux" / "rhdesk.desktop", share / "applications" / "rhdesk.desktop")
    (share / "metainfo").mkdir()
    shutil.copy2(HERE / "linux" / METAINFO, share / "metainfo" / METAINFO)
    for n in ICON_SIZES:
        src = ROOT / "resources" / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "rhdesk.png"
        dest = share / "icons" / "hicolor" / f"{n}x{n}" / "apps"
        dest.mkdir(parents=True)
        shutil.copy2(src, dest / "rhdesk.png")
    shutil.copy2(HERE / "linux" / "install.sh", out_dir / "install.sh")
    (out_dir / "install.sh").chmod(0o755)
    return out_dir


def package_linux(bundle_dir: Path) -> Path:
    validate_linux_metadata()
    name = f"rhdesk-{version()}-linux-{arch()}"
    staging = stage_linux(bundle_dir, DIST / name)
    tarball = DIST / f"{name}.tar.gz"
    t0 = time.monotonic()
    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(staging, arcname=name)
    shutil.rmtree(staging)
    print(f"build: {tarball.relative_to(ROOT)} ({tarball.stat().st_size / 1e6:.0f} MB, "
          f"{time.monotonic() - t0:.0f} s). AppImage: not built (appimagetool is downloaded "
          "from the internet; see README).")  # fmt: skip
    return tarball


# -- Windows --------------------------------------------------------------------------------
def find_iscc() -> str | None:
    found = shutil.which("iscc") or shutil.which("ISCC")
    if found:
        return found
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (Path(base) / "Inno Setup 6" / "ISCC.exe").exists():
            return str(Path(base) / "Inno Setup 6" / "ISCC.exe")
    return None


def package_windows(bundle_dir: Path) -> Path | None:
    iscc = find_iscc()
    script = HERE / "windows" / "rhdesk.iss"
    if iscc is None:
        print(f"build: Inno Setup not found; install it and run: iscc {script}")
        return None
    subprocess.run([iscc, f"/DAppVersion={version()}", str(script)], check=True)
    setup = DIST / f"rhdesk-{version()}-windows-x64-setup.exe"
    print(f"build: {setup.relative_to(ROOT)}")
    return setup


# -- macOS ----------------------------------------------------------------------------------
def package_macos(app: Path) -> Path | None:
    if not shutil.which("hdiutil"):
        print("build: hdiutil not found; the .app is in dist/")
        return None
    dmg = DIST / f"rhdesk-{version()}-macos-{platform.machine()}.dmg"
    dmg.unlink(missing_ok=True)
    subprocess.run(["hdiutil", "create", "-volname", "rhdesk", "-srcfolder", str(app),
                    "-ov", "-format", "UDZO", str(dmg)], check=True)  # fmt: skip
    print(f"build: {dmg.relative_to(ROOT)} (unsigned: packaging/macos/SIGNING.md)")
    return dmg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bundle-only", action="store_true", help="PyInstaller only, no package")
    g.add_argument("--package-only", action="store_true", help="package an existing bundle")
    p.add_argument("--no-clean", action="store_true", help="reuse PyInstaller's cache")
    args = p.parse_args(argv)

    if args.package_only:
        out = DIST / ("rhdesk.app" if sys.platform == "darwin" else "rhdesk")
        if not out.exists():
            raise SystemExit(f"build: {out} does not exist; build the bundle first")
    else:
        out = bundle(clean=not args.no_clean)
    if args.bundle_only:
        return 0
    if sys.platform.startswith("linux"):
        package_linux(out)
    elif sys.platform == "win32":
        package_windows(out)
    elif sys.platform == "darwin":
        package_macos(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
