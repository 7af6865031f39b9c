from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import shutil  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402

# Test modules import their Qt helpers as a plain module from this folder, in any import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qt_helpers import dark_palette  # noqa: E402

SHARED_TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
SHOTS = Path("/tmp/rhdesk-shots")
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "logo.png"]


@pytest.fixture
def worker(qapp) -> Iterator:
    from rhdesk.ui.workers import ImageWorker

    w = ImageWorker()
    yield w
    w.shutdown(wait=True)
    w.deleteLater()


@pytest.fixture
def photo_files(tmp_path: Path) -> list[Path]:
    """Twelve distinct files made from the shared real photos (so none is a duplicate)."""
    missing = [n for n in PHOTOS if not (SHARED_TESTDATA / n).exists()]
    if missing:
        pytest.skip(f"shared test photos missing: {missing}")
    out = []
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        src = SHARED_TESTDATA / PHOTOS[i % len(PHOTOS)]
        dst = folder / f"photo{i + 1:02d}{src.suffix}"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


@pytest.fixture(scope="session")
def big_jpeg(tmp_path_factory) -> Path:
    """A 6000×4000 camera-sized JPEG (made once per session)."""
    from PIL import Image

    path = tmp_path_factory.mktemp("big") / "camera-6000x4000.jpg"
    small = Image.open(SHARED_TESTDATA / "rocket.jpg").convert("RGB")
    small.resize((6000, 4000), Image.Resampling.BILINEAR).save(path, quality=92)
    return path


@pytest.fixture
def corrupt_file(tmp_path: Path) -> Path:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    return path


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def dark() -> QPalette:
    return dark_palette()
