"""`rhdesk --self-test`: the whole app, offscreen, one task end to end against the emulator.

It builds the real window in demo mode on a temporary data folder, puts the bundled sample photo
in the slots (once from the command line, once handed over like a second launch would), presses
Run, waits for the result file and checks it opens at the requested size. One line per step on
stdout; exit 0 only if the result arrived. CI runs this on the built bundle.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TIMEOUT_SECONDS = 60.0
PROMPT = "self-test: make the sky a warm sunset, keep the rocket"


class SelfTestFailure(Exception):
    pass


class _Steps:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.current = "starting"

    def begin(self, what: str) -> None:
        self.current = what
        self._t = time.monotonic()

    def ok(self, detail: str = "") -> None:
        took = time.monotonic() - self._t
        extra = f": {detail}" if detail else ""
        print(f"self-test: [ok] {self.current}{extra} ({took:.2f} s)", flush=True)

    def fail(self, reason: str) -> None:
        print(f"self-test: [FAIL] {self.current}: {reason}", flush=True)


def sample_photo() -> Path:
    return Path(__file__).resolve().parent / "data" / "samples" / "rocket.jpg"


async def _until(pred: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SelfTestFailure(f"{what} did not happen within {timeout:.0f} s")
        await asyncio.sleep(0.02)


async def _run(tmp: Path, steps: _Steps, holder: dict) -> None:
    import PySide6
    from PIL import Image
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication

    from rhdesk import __version__, desktop
    from rhdesk.app import build_main_window
    from rhdesk.store import db as S

    steps.begin("environment")
    frozen = "bundle" if getattr(sys, "frozen", False) else "source"
    steps.ok(f"rhdesk {__version__} ({frozen}), Qt {qVersion()}, PySide6 {PySide6.__version__}, "
             f"platform {QApplication.platformName()}")  # fmt: skip

    steps.begin("bundled data")
    from rhdesk.core.catalogue import families

    fams = families()
    sample = sample_photo()
    registry = Path(__file__).resolve().parent / "data" / "REGISTRY-LICENSE"
    if not fams or not sample.is_file() or not registry.is_file():
        raise SelfTestFailure(f"missing: models={fams!r} sample={sample} licence={registry}")
    steps.ok(f"{len(fams)} model families, sample photo, registry licence")

    steps.begin("icon")
    icons = desktop.icon_files()
    if len(icons) != len(desktop.ICON_SIZES) or desktop.app_icon().isNull():
        raise SelfTestFailure(f"found {len(icons)} of {len(desktop.ICON_SIZES)} icon sizes")
    steps.ok(f"{len(icons)} sizes from {icons[0].parents[3]}")

    steps.begin("licences")
    from rhdesk.ui.about import _norm, licences

    infos = licences()
    names = {_norm(i.name) for i in infos}
    needed = {"pyside6-essentials", "pillow", "httpx", "qasync"}
    if not needed <= names:
        raise SelfTestFailure(f"no licence metadata for {sorted(needed - names)}")
    with_text = sum(1 for i in infos if i.files)
    steps.ok(f"{len(infos)} components, {with_text} with full licence text")

    steps.begin("window in demo mode")
    first, second = tmp / "inputs" / "first.jpg", tmp / "inputs" / "second.jpg"
    first.parent.mkdir(parents=True)
    shutil.copyfile(sample, first)
    shutil.copyfile(sample, second)
    argv = ["--demo", "--data-dir", str(tmp / "data"), str(first)]
    server = desktop.claim_instance(argv)
    if server is None:
        raise SelfTestFailure("another rhdesk already owns the temporary data folder")
    window = build_main_window(argv)
    holder["window"] = window
    desktop.integrate(window, server, argv)
    window.show()
    if not window.controller.demo or not window.controller.ready:
        raise SelfTestFailure("the window is not connected to the demo emulator")
    steps.ok(window.controller.ctx.base_url)

    steps.begin("second launch hands over its file")
    if not server.is_listening():
        raise SelfTestFailure(f"single-instance socket: {server.error_text()}")
    # A real second launch of this same program (the bundle's executable, or python -m rhdesk).
    launcher = (
        [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "rhdesk"]
    )
    proc = subprocess.Popen(
        [*launcher, str(second), "--data-dir", str(tmp / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await _until(lambda: proc.poll() is not None, "the second launch exiting", 30.0)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read().decode(errors="replace").strip() if proc.stdout else ""
    if proc.returncode != 0:
        raise SelfTestFailure(f"second launch exited {proc.returncode}: {output[-300:]}")
    await _until(lambda: len(window.slots.paths()) == 2, "the handed-over file reaching a slot")
    steps.ok(", ".join(Path(p).name for p in window.slots.paths()))

    steps.begin("images read")
    await _until(lambda: not window.slots.is_loading(), "reading the images")
    if window.slots.problems():
        raise SelfTestFailure(str(window.slots.problems()))
    steps.ok()

    steps.begin("task started")
    window.prompt.set_text(PROMPT)
    await _until(lambda: window.run_button.isEnabled(), "the Run button enabling", 10.0)
    spec = window.snapshot()
    started: list[int] = []
    window.controller.task_started.connect(started.append)
    window.run_button.click()
    await _until(lambda: started, "the task being created")
    task_id = started[0]
    steps.ok(f"task {task_id}, {spec.width}×{spec.height}, {len(spec.inputs)} inputs")

    steps.begin("result arrived")
    store = window.controller.store
    await _until(lambda: store.get(task_id).is_final, "the task finishing", TIMEOUT_SECONDS)
    rec = store.get(task_id)
    if rec.status != S.SUCCEEDED:
        raise SelfTestFailure(f"task {task_id} {rec.status}: {rec.error_message}")
    if not rec.result_paths:
        raise SelfTestFailure("the task succeeded without a result file")
    steps.ok(str(rec.result_paths[0].name))

    steps.begin("result file")
    for path in rec.result_paths:
        if not path.is_file():
            raise SelfTestFailure(f"{path} does not exist")
        with Image.open(path) as im:
            im.load()
            if im.size != (spec.width, spec.height):
                raise SelfTestFailure(f"{path.name} is {im.size}, asked {spec.width}×{spec.height}")
    steps.ok(f"{len(rec.result_paths)} file(s), {spec.width}×{spec.height}, opens with Pillow")


async def _self_test(tmp: Path, timeout: float) -> int:
    steps = _Steps()
    holder: dict = {}
    code = 1
    try:
        await asyncio.wait_for(_run(tmp, steps, holder), timeout)
        code = 0
    except TimeoutError:
        steps.fail(f"timed out after {timeout:g} s")
    except SelfTestFailure as exc:
        steps.fail(str(exc))
    except Exception as exc:  # the point is to report any breakage, whatever it is
        steps.fail(f"{type(exc).__name__}: {exc}")
    window = holder.get("window")
    if window is not None:
        try:
            window.close()
            await asyncio.wait_for(window.controller.shutdown(), 15)
        except Exception as exc:
            print(f"self-test: shutting down: {type(exc).__name__}: {exc}", flush=True)
    total = time.monotonic() - steps.t0
    print(f"self-test: {'passed' if code == 0 else 'FAILED'} in {total:.1f} s", flush=True)
    return code


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_API", "pyside6")
    import qasync

    from rhdesk.app import _ensure_app

    timeout = float(os.environ.get("RHDESK_SELF_TEST_TIMEOUT", TIMEOUT_SECONDS))
    app = _ensure_app()
    app.setQuitOnLastWindowClosed(False)  # we close the window ourselves, then shut down
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    scratch = tempfile.TemporaryDirectory(prefix="rhdesk-selftest-", ignore_cleanup_errors=True)
    with scratch as tmp, loop:
        return loop.run_until_complete(_self_test(Path(tmp), timeout))
