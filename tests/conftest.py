from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
# The app follows the system language; the tests read English text whatever the machine says.
for _var in ("LC_ALL", "LC_MESSAGES", "LANG"):
    os.environ[_var] = "C.UTF-8"
os.environ["LANGUAGE"] = "en"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SHARED_TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


class MemoryKeyring:
    """An in-memory keyring backend, so no test touches the developer's real keyring."""

    def __init__(self) -> None:
        import keyring.backend

        class _Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def __init__(self) -> None:
                super().__init__()
                self.store: dict[tuple[str, str], str] = {}

            def get_password(self, service, username):
                return self.store.get((service, username))

            def set_password(self, service, username, password):
                self.store[(service, username)] = password

            def delete_password(self, service, username):
                self.store.pop((service, username), None)

        self.backend = _Backend()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Every test: no real key, no real keyring, no real data folder."""
    import keyring

    monkeypatch.delenv("RHDESK_API_KEY", raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RHDESK_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    previous = keyring.get_keyring()
    mem = MemoryKeyring()
    keyring.set_keyring(mem.backend)
    yield mem.backend
    keyring.set_keyring(previous)


@pytest.fixture
def photos() -> dict[str, Path]:
    """The real photographs from shared/testdata (small)."""
    names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "logo.png"]
    found = {n.split(".")[0]: SHARED_TESTDATA / n for n in names}
    missing = [p for p in found.values() if not p.exists()]
    if missing:
        pytest.skip(f"shared test photos missing: {missing}")
    return found


@pytest.fixture
def emulator_factory():
    """Start RunningHub emulators on loopback (real sockets); all are stopped after the test."""
    from rhdesk.emulator import Emulator, EmulatorConfig

    started = []

    def start(**overrides):
        cfg = {"api_keys": frozenset({"test-key"}), "queue_seconds": 0.1, "run_seconds": 0.2}
        cfg.update(overrides)
        emu = Emulator(EmulatorConfig(**cfg))
        emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    return emulator_factory()


def close_qasync_loop(loop) -> None:
    """Close a qasync loop made with already_running=True, leaving nothing that can fire later.

    Not loop.stop(): for a loop that did not start Qt's event loop it calls app.exit(), after
    which no later qasync loop in this process runs a callback again. Pending call_later timers
    are killed here, in the GUI thread: left alive, their QObject was later collected by the GC
    in some worker thread, its timers stayed registered, and a much later test segfaulted in
    QTimerInfoList::activateTimers. Collecting now keeps every Qt object's death in this thread.
    """
    import asyncio
    import gc

    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    timer = loop._timer
    callbacks = timer._SimpleTimer__callbacks
    for timer_id in list(callbacks):
        timer.killTimer(timer_id)
    callbacks.clear()
    loop.close()
    asyncio.set_event_loop(None)
    gc.collect()


@pytest.fixture
def qloop_running(qapp):
    """A qasync loop that says it runs, driven by qtbot's blocking waits (qt-environment.md §4):
    asyncSlots and httpx work while qtbot.waitUntil/waitSignal turn the Qt event loop."""
    import asyncio

    import qasync

    # Closing the last window would make Qt quit, and qasync stops a running loop on aboutToQuit.
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    qapp.setQuitOnLastWindowClosed(quit_on_close)
    close_qasync_loop(loop)


SHUTDOWN_TIMEOUT_MS = 15_000


def shut_windows(qtbot, windows: list) -> None:
    """Close every main window still alive (a language switch replaces them), shut the shared
    controllers down once each, and delete it all now, in the GUI thread, with no image thread
    left to deliver into it. Left to the garbage collector, a window died at a random later
    moment (another test, or exit) while a thumbnail thread still emitted to it: a segfault far
    from its cause."""
    import asyncio
    import gc

    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    controllers: list = []
    for w in windows:
        if getattr(w, "_test_closed", False):  # a test closed it itself (tests/gui close_window)
            continue
        if shiboken6.isValid(w):
            w.close()
            w.worker.shutdown(wait=True)
            w.thumbs._pool.shutdown(wait=True)
            w.deleteLater()
        if not any(w.controller is c for c in controllers):
            controllers.append(w.controller)
    for c in controllers:
        done = asyncio.ensure_future(c.shutdown())
        qtbot.waitUntil(done.done, timeout=SHUTDOWN_TIMEOUT_MS)
        done.result()  # re-raise a failed shutdown here rather than lose it
        c.deleteLater()  # parentless: it and its models would wait for the GC too
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    for top in QApplication.topLevelWidgets():  # message boxes, dialogs: nothing leaks on
        if top.isVisible():
            top.close()
    gc.collect()


@pytest.fixture
def make_window(qtbot, qloop_running, tmp_path):
    """``make_window(*argv)`` builds (and shows) the real main window with
    ``rhdesk.app.build_main_window``; ``--data-dir`` defaults to tmp_path/data. Windows a test
    makes by other means can be added to ``make_window.built`` to be shut down with the rest."""
    from rhdesk.app import build_main_window

    built: list = []

    def make(*argv: str, data_dir: Path | None = None, show: bool = True):
        args = list(argv)
        if "--data-dir" not in args:
            args += ["--data-dir", str(data_dir or tmp_path / "data")]
        window = build_main_window(args)
        built.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    make.built = built  # type: ignore[attr-defined]
    yield make
    shut_windows(qtbot, built)
    built.clear()
    qtbot.wait(10)
