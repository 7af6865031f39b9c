"""Screenshots of the real window for the README, made under a real X server (Xvfb).

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \\
        .venv/bin/python docs/make_screenshots.py            # -> docs/screenshots/*.png
    ... docs/make_screenshots.py --dark --out /tmp/shots     # the same in a dark palette

Needs `apt-get install xvfb xauth libxcb-icccm4 libxcb-keysyms1` on Debian. The window runs in
demo mode with a temporary data folder, so nothing of the user's is shown or touched. It saves
empty.png (a fresh window), ten-images.png (ten photos in the slots, a prompt typed),
running.png (two tasks in progress) and result.png (a finished task in the compare view, with a
failed and a finished task in the history). PNGs are reduced to a palette of 256 colours so
that each stays well under 400 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "testdata"
WINDOW = (1400, 880)
PROMPTS = [
    "Replace the grey sky with a warm sunset; keep the people and the building unchanged",
    "Turn the scene into a snowy winter morning, soft light, keep the composition",
    "Put the product from image 2 on the wooden table in image 1, matching the light",
]


def make_inputs(folder: Path) -> list[Path]:
    """Ten distinct photos: the shared test photos and crops of them, as a user's folder has."""
    from PIL import Image

    names = ["astronaut.png", "rocket.jpg", "chelsea.png", "coffee.png", "logo.png"]
    out = []
    for i in range(10):
        im = Image.open(SHARED / names[i % 5]).convert("RGB")
        if i >= 5:  # the second five: a crop, so the slots do not show the same picture twice
            w, h = im.size
            im = im.crop((w // 6, h // 8, w - w // 10, h - h // 12))
        path = folder / f"photo-{i + 1:02d}.jpg"
        im.save(path, quality=92)
        out.append(path)
    return out


def save_png(window, path: Path) -> None:
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    assert window.grab().save(str(raw)), "grab failed"
    im = Image.open(raw).convert("RGB")
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    raw.unlink()
    print(f"{path} {im.width}×{im.height} {path.stat().st_size // 1024} KB")


def dark_palette():
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    for role, colour in {
        QPalette.ColorRole.Window: "#2b2b2e", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e20", QPalette.ColorRole.AlternateBase: "#2f2f33",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#3a3a3e",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d8ee6",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#3a3a3e",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8a8e",
        QPalette.ColorRole.Mid: "#55555a", QPalette.ColorRole.Light: "#4a4a4e",
    }.items():  # fmt: skip
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.Text):  # fmt: skip
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#77777b"))
    return pal


def main() -> int:
    parser = argparse.ArgumentParser(description="screenshots of the rhdesk window")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dark", action="store_true", help="use a dark palette")
    args = parser.parse_args()

    import qasync
    from PySide6.QtWidgets import QApplication

    from rhdesk.app import build_main_window
    from rhdesk.emulator import Fault

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.dark:
        app.setStyle("Fusion")  # the platform style on Xvfb ignores palettes in places
        app.setPalette(dark_palette())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tmp = Path(tempfile.mkdtemp(prefix="rhdesk-shots-"))
    inputs = make_inputs(tmp)
    args.out.mkdir(parents=True, exist_ok=True)
    window = build_main_window(["--demo", "--data-dir", str(tmp / "data")])
    window.setGeometry(60, 40, *WINDOW)
    window.show()
    ctl = window.controller

    async def until(predicate: Callable[[], bool], timeout: float = 60) -> None:
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > timeout:
                raise TimeoutError("the window did not get there in time")
            await asyncio.sleep(0.05)

    async def settle(seconds: float = 0.6) -> None:
        await asyncio.sleep(seconds)  # repaint after thumbnails and images arrive
        app.processEvents()

    def newest_done(n: int) -> bool:
        rows = ctl.tasks.rows()
        return len(rows) >= n and not rows[0].active

    async def scenario() -> None:
        await until(lambda: ctl.ready)
        await settle(1.0)
        save_png(window, args.out / "empty.png")

        # an older task, then one the model refuses, so the history has something to show
        window.slots.add_files(inputs[:3])
        window.prompt.set_text(PROMPTS[1])
        await until(window.run_button.isEnabled)
        window.run()
        await until(lambda: newest_done(1))
        ctl.ctx.emulator.add_fault(Fault("submit", "fail_task", times=1, error_code="1505"))
        window.slots.set_paths([inputs[2], inputs[3]])
        window.prompt.set_text(PROMPTS[2])
        await until(window.run_button.isEnabled)
        window.run()
        await until(lambda: newest_done(2))

        window.slots.set_paths(inputs)
        window.prompt.set_text(PROMPTS[0])
        await until(window.run_button.isEnabled)
        await settle()
        save_png(window, args.out / "ten-images.png")

        window.run()
        await until(lambda: ctl.tasks.rows()[0].status == "running" if len(ctl.tasks.rows()) > 2
                    else False)  # fmt: skip
        await settle(1.6)
        save_png(window, args.out / "running.png")
        await until(lambda: newest_done(3))
        await until(lambda: window.compare.current_image() is not None)
        await settle(1.0)
        save_png(window, args.out / "result.png")

    try:
        loop.run_until_complete(scenario())
    finally:
        window.close()
        loop.run_until_complete(ctl.shutdown())
        loop.close()  # stops qasync's executor threads; a live QThread at exit aborts Python
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
