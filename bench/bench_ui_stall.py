"""How long does the GUI thread stop answering while ten 24-MP photos are dropped and a task runs?

Not a test: it prints figures. Run it from the repository folder:

    .venv/bin/python bench/bench_ui_stall.py            # offscreen, demo mode
    .venv/bin/python bench/bench_ui_stall.py --profile  # also name the code behind long stalls

It makes ten 6000×4000 JPEGs from the shared test photos (upscaled, with noise so they do not
compress to nothing, four of them with an EXIF orientation), opens the real main window in demo
mode with a temporary data folder, drops the ten files on the first slot as a file manager does,
types a prompt, presses Run and waits until the result is in the compare view.

Two meters run the whole time:
- a 5 ms QTimer on the GUI thread (the gap between ticks is what a user feels), and
- a heartbeat coroutine on the qasync loop (asyncio.sleep(5 ms) overshoot).
A stall is the time beyond the expected 5 ms. Aim: one frame (16 ms); above 50 ms is a bug.
With --profile a watchdog thread samples the GUI thread's Python stack whenever a tick is more
than 30 ms late, and prints the places seen most often.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "testdata"
SOURCES = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "logo.png"]
SIZE = (6000, 4000)
TICK_MS = 5
FRAME_MS = 16.0
BUG_MS = 50.0
WATCHDOG_LATE_S = 0.025
ORIENTATIONS = {1: 6, 4: 8, 6: 3, 8: 6}  # file index -> EXIF orientation (rotated 90/270/180)


def make_photos(folder: Path) -> list[Path]:
    """Ten camera-sized JPEGs; made in a few seconds, before anything is measured."""
    from PIL import Image

    rng = random.Random(7)
    noise = Image.effect_noise((SIZE[0] // 4, SIZE[1] // 4), 40).convert("RGB")
    noise = noise.resize(SIZE, Image.Resampling.NEAREST)
    out = []
    for i in range(10):
        src = Image.open(SHARED / SOURCES[i % len(SOURCES)]).convert("RGB")
        big = src.resize(SIZE, Image.Resampling.BILINEAR)
        big = Image.blend(big, noise, 0.12 + rng.random() * 0.05)
        path = folder / f"camera-{i + 1:02d}.jpg"
        exif = Image.Exif()
        if i in ORIENTATIONS:
            exif[0x0112] = ORIENTATIONS[i]
        big.save(path, quality=90, exif=exif.tobytes())
        out.append(path)
    return out


class StallMeter:
    """Gaps between 5 ms timer ticks on the GUI thread, by phase."""

    def __init__(self, profile: bool) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.phase = "idle"
        self.context = lambda: ""  # what was going on (the task's stage), for the worst stalls
        self.worst: list[tuple[float, str, str]] = []
        self.stalls: dict[str, list[float]] = collections.defaultdict(list)
        self.loop_stalls: dict[str, list[float]] = collections.defaultdict(list)
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._main = threading.get_ident()
        self._samples: collections.Counter[str] = collections.Counter()
        self._profile = profile
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self.gc_pauses: list[tuple[float, int]] = []
        self._gc_start: float | None = None

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start is not None:
            pause = (time.perf_counter() - self._gc_start) * 1000
            self.gc_pauses.append((pause, info.get("generation", -1)))
            self._gc_start = None

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._gc)
        self._last = time.perf_counter()
        self._timer.start()
        if self._profile:
            self._watchdog.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stop.set()

    def _tick(self) -> None:
        now = time.perf_counter()
        stall = max(0.0, (now - self._last) * 1000 - TICK_MS)
        self.stalls[self.phase].append(stall)
        if stall > FRAME_MS:
            self.worst.append((stall, self.phase, self.context()))
        self._last = now

    async def heartbeat(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(TICK_MS / 1000)
            self.loop_stalls[self.phase].append(
                max(0.0, (time.perf_counter() - t) * 1000 - TICK_MS)
            )

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            if time.perf_counter() - self._last > WATCHDOG_LATE_S:
                # The GUI thread is often just waiting for the GIL: the culprit is then the
                # thread that holds it, so every thread's innermost frames are recorded.
                for ident, frame in sys._current_frames().items():
                    if ident == threading.get_ident():
                        continue
                    # no source lines: reading files here would hold the GIL we are measuring
                    stack = traceback.StackSummary.extract(
                        traceback.walk_stack(frame), limit=3, lookup_lines=False
                    )
                    top = list(reversed(stack))
                    who = "GUI" if ident == self._main else "other"
                    self._samples[f"[{who}] " + " <- ".join(
                        f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(top)
                    )] += 1  # fmt: skip

    def report(self) -> None:
        def line(name: str, values: list[float]) -> str:
            if not values:
                return f"  {name:<22} (no samples)"
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            over16 = sum(v > FRAME_MS for v in values)
            over50 = sum(v > BUG_MS for v in values)
            return (f"  {name:<22} max {max(values):7.1f} ms   p99 {p99:6.1f} ms   "
                    f"median {statistics.median(values):5.1f} ms   >16 ms: {over16:4d}   "
                    f">50 ms: {over50:3d}   ticks {len(values)}")  # fmt: skip

        print(f"GUI thread: gap between {TICK_MS} ms timer ticks, beyond {TICK_MS} ms")
        for phase, values in self.stalls.items():
            print(line(phase, values))
        print(line("ALL", [v for vs in self.stalls.values() for v in vs]))
        print(f"qasync loop: asyncio.sleep({TICK_MS} ms) overshoot")
        for phase, values in self.loop_stalls.items():
            print(line(phase, values))
        print(line("ALL", [v for vs in self.loop_stalls.values() for v in vs]))
        if self.gc_pauses:
            worst_gc = max(self.gc_pauses)
            print(f"garbage collector: {len(self.gc_pauses)} runs, longest {worst_gc[0]:.1f} ms "
                  f"(generation {worst_gc[1]})")  # fmt: skip
        print("GUI thread stalls > 16 ms, with what the newest task was doing:")
        for stall, phase, context in sorted(self.worst, reverse=True)[:8]:
            print(f"  {stall:6.1f} ms  {phase:<18} {context}")
        if self._profile:
            print("Thread stacks sampled while a GUI tick was > 30 ms late (most frequent first):")
            for where, n in self._samples.most_common(20):
                print(f"  {n:4d}  {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="sample stacks during stalls")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    import qasync
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from rhdesk.app import build_main_window

    tmp = Path(tempfile.mkdtemp(prefix="rhdesk-bench-"))
    t0 = time.perf_counter()
    photos = make_photos(tmp)
    mb = sum(p.stat().st_size for p in photos) / 1e6
    print(f"made {len(photos)} JPEGs of {SIZE[0]}×{SIZE[1]} ({mb:.0f} MB) "
          f"in {time.perf_counter() - t0:.1f} s; platform {os.environ['QT_QPA_PLATFORM']}")  # fmt: skip

    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_main_window(["--demo", "--data-dir", str(tmp / "data")])
    window.show()
    meter = StallMeter(args.profile)

    def context() -> str:
        rows = window.controller.tasks.rows()
        return f"{rows[0].status}: {rows[0].stage_text()}" if rows else "no task yet"

    meter.context = context

    async def until(predicate, timeout: float) -> float:
        start = time.perf_counter()
        while not predicate():
            if time.perf_counter() - start > timeout:
                raise TimeoutError("the window did not get there in time")
            await asyncio.sleep(0.02)
        return time.perf_counter() - start

    async def scenario() -> None:
        await asyncio.sleep(0.5)  # let the window settle: start-up is not what we measure
        meter.start()
        beat = asyncio.ensure_future(meter.heartbeat())
        await asyncio.sleep(0.3)

        meter.phase = "drop 10 × 24 MP"
        slot = window.slots.slot(0)
        md = QMimeData()  # a local: the drop events only borrow it
        md.setUrls([QUrl.fromLocalFile(str(p)) for p in photos])
        pos = QPointF(slot.width() / 2, slot.height() / 2)
        args_ = (Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                 Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(slot, QDragEnterEvent(pos, *args_))
        QApplication.sendEvent(slot, QDragMoveEvent(pos, *args_))
        QApplication.sendEvent(slot, QDropEvent(pos, *args_))
        took = await until(lambda: not window.slots.is_loading(), 120)
        print(f"slots filled in {took:.1f} s")

        meter.phase = "run task (demo)"
        window.prompt.set_text("Replace the grey sky with a warm sunset; keep everything else")
        await until(window.run_button.isEnabled, 10)
        window.run_button.click()
        rows = window.controller.tasks

        def finished() -> bool:
            r = rows.rows()
            return bool(r) and not r[0].active

        took = await until(finished, 180)
        status = rows.rows()[0].status
        print(f"task {status} in {took:.1f} s: {rows.rows()[0].stage_text()}")
        meter.phase = "show result"
        await until(lambda: window.compare.current_image() is not None, 30)
        await asyncio.sleep(1.0)
        meter.stop()
        await beat

    try:
        loop.run_until_complete(scenario())
    finally:
        window.close()
        loop.run_until_complete(window.controller.shutdown())
        loop.close()
    meter.report()
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
