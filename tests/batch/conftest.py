"""A shoot folder made at test time from the shared photos: sizes, aspects, subfolders, ICC
profiles, camera EXIF with GPS, OS junk and files that cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from tests.conftest import SHARED_TESTDATA

PROMPT = "remove the background clutter, keep skin texture"
CAMERA = ("FUJIFILM", "X-T5", "2024:06:01 10:11:12")


@dataclass
class Shoot:
    root: Path
    good: list[str]  # relative paths (posix) of usable photos
    bad: list[str]  # relative paths of files that cannot be used
    junk: list[str]
    icc: bytes  # the profile given to the tagged photos
    tagged: list[str]  # photos with ICC + camera EXIF + GPS


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = CAMERA[0], CAMERA[1]
    exif[0x0112] = 1
    exif[0x8769] = {0x9003: CAMERA[2]}
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif


def _profile() -> bytes:
    # A real profile that is not sRGB, so "kept the source's profile" is visible.
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB", 5000)).tobytes()


def make_shoot(root: Path, *, count: int | None = None) -> Shoot:
    """count=None: the mixed folder; count=N: N plain small photos (for the benchmark)."""
    root.mkdir(parents=True, exist_ok=True)
    sources = {
        n: Image.open(SHARED_TESTDATA / n).convert("RGB")
        for n in ("rocket.jpg", "chelsea.png", "coffee.png", "astronaut.png")
    }
    icc = _profile()
    if count is not None:
        names = list(sources.values())
        good = []
        for i in range(count):
            im = names[i % len(names)]
            w = 160 + (i % 5) * 24
            h = 120 + (i % 3) * 40
            rel = f"set{i % 3}/photo{i:03d}.{'jpg' if i % 2 else 'png'}"
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            im.resize((w, h)).save(dest, quality=90)
            good.append(rel)
        return Shoot(root, good, [], [], icc, [])
    (root / "day2" / "portraits").mkdir(parents=True)
    rocket = sources["rocket.jpg"]
    rocket.resize((480, 320)).save(root / "rocket.jpg", quality=92, icc_profile=icc,
                                   exif=_exif_with_gps())  # fmt: skip
    sources["chelsea.png"].resize((400, 300)).save(root / "cat.png")
    sources["coffee.png"].crop((0, 0, 300, 400)).save(
        root / "day2" / "coffee.jpg", quality=90, icc_profile=icc, exif=_exif_with_gps()
    )
    sources["astronaut.png"].resize((512, 288)).save(root / "day2" / "portraits" / "wide.png")
    good = ["cat.png", "day2/coffee.jpg", "day2/portraits/wide.png", "rocket.jpg"]
    # OS junk: never listed, never sent.
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 64)
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    (root / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (root / "._rocket.jpg").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)
    (root / ".hidden.jpg").write_bytes((root / "rocket.jpg").read_bytes())
    (root / ".cache").mkdir()
    (root / ".cache" / "thumb.png").write_bytes((root / "cat.png").read_bytes())
    (root / "notes.txt").write_text("shoot notes, not a photo")
    junk = [".DS_Store", "Thumbs.db", "desktop.ini", "._rocket.jpg", ".hidden.jpg",
            ".cache/thumb.png", "notes.txt"]  # fmt: skip
    # Files that look like photos but cannot be used: reported with the reason.
    (root / "day2" / "broken.jpg").write_bytes((root / "rocket.jpg").read_bytes()[:2500])
    (root / "readme.jpg").write_text("This is a text file with a photo's name.\n" * 5)
    bad = ["day2/broken.jpg", "readme.jpg"]
    return Shoot(root, good, bad, junk, icc, ["rocket.jpg", "day2/coffee.jpg"])


@pytest.fixture
def shoot(tmp_path) -> Shoot:
    if not (SHARED_TESTDATA / "rocket.jpg").exists():
        pytest.skip("shared test photos missing")
    return make_shoot(tmp_path / "shoot")
