"""Desktop integration of the window: icon, single instance, "Open with", asking before quitting
with running tasks, and the start-up probe the benchmark uses.

`rhdesk.app.main` calls `claim_instance` before building the window and `integrate` after; the
window itself knows nothing of this, so its tests build it without any of it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

log = logging.getLogger("rhdesk.desktop")

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PROBE_PREFIX = "rhdesk-startup-probe"


# -- resources ------------------------------------------------------------------------------
def resource_roots() -> list[Path]:
    """Where `resources/` may be: inside a PyInstaller bundle, or next to the package in a
    checkout (which is also where an editable install points)."""
    roots: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.append(Path(bundle) / "resources")
    roots.append(Path(__file__).resolve().parent.parent / "resources")
    return roots


def resource_path(*parts: str) -> Path | None:
    for root in resource_roots():
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return None


def icon_files() -> list[Path]:
    found = []
    for n in ICON_SIZES:
        p = resource_path("icons", "hicolor", f"{n}x{n}", "apps", "rhdesk.png")
        if p is not None:
            found.append(p)
    return found


def app_icon() -> QIcon:
    """The app icon from our PNGs; else the one an installed theme has (install.sh puts it in
    ~/.local/share/icons/hicolor); else an empty icon."""
    icon = QIcon()
    for p in icon_files():
        icon.addFile(str(p))
    if icon.isNull():
        icon = QIcon.fromTheme("rhdesk")
    return icon


# -- single instance ------------------------------------------------------------------------
def _gui_args(argv: Sequence[str]):  # noqa: ANN202 - argparse.Namespace
    from rhdesk.cli import build_gui_parser

    return build_gui_parser().parse_args(list(argv))


def data_dir_for(argv: Sequence[str]) -> Path:
    from rhdesk.paths import app_paths

    return app_paths(getattr(_gui_args(argv), "data_dir", None)).data_dir


def claim_instance(argv: Sequence[str]):  # noqa: ANN201 - InstanceServer | None
    """None when a running window took our files (exit 0); else the server to hand `integrate`."""
    from rhdesk.single_instance import InstanceUnreachable, claim

    files = [f for f in getattr(_gui_args(argv), "files", []) if f]
    try:
        return claim(data_dir_for(argv), files)
    except InstanceUnreachable as exc:
        text = QCoreApplication.translate(
            "desktop", "rhdesk is already running but does not respond. Close it, then try again."
        )
        print(f"rhdesk: {exc}", file=sys.stderr)
        if QApplication.platformName() not in ("offscreen", "minimal"):
            QMessageBox.warning(None, "rhdesk", text)
        raise SystemExit(1) from None


def activate(window: QMainWindow) -> None:
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def add_files_from_outside(window, files: Sequence[Path]) -> None:  # noqa: ANN001 - MainWindow
    """Files from a second launch, "Open with" or a macOS file-open event: into free slots."""
    activate(window)
    if not files:
        return
    refused = window.slots.add_files(list(files))
    added = len(files) - len(refused)
    if added:
        window.statusBar().showMessage(
            QCoreApplication.translate("desktop", "Added {n} image(s).").replace("{n}", str(added)),
            5000,
        )


class FileOpenFilter(QObject):
    """macOS delivers "Open with" and drops on the Dock icon as QFileOpenEvent, not argv."""

    def __init__(self, on_files: Callable[[list[Path]], None], parent: QObject | None = None):
        super().__init__(parent)
        self._on_files = on_files

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file() or event.url().toLocalFile()
            if path:
                self._on_files([Path(path)])
                return True
        return False


# -- closing with running tasks -------------------------------------------------------------
class CloseGuard(QObject):
    """Asks before the window closes while tasks run (they go on remotely and resume later)."""

    def __init__(self, window) -> None:  # noqa: ANN001 - MainWindow
        super().__init__(window)
        self.window = window
        self.box: QMessageBox | None = None
        self._allowed = False
        window.installEventFilter(self)

    def running_count(self) -> int:
        return len(self.window.controller.tasks.active_rows())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is not self.window or event.type() != QEvent.Type.Close or self._allowed:
            return False
        n = self.running_count()
        if n == 0:
            return False
        event.ignore()
        self.ask(n)
        return True

    def ask(self, n: int) -> None:
        if self.box is not None and self.box.isVisible():
            self.box.raise_()
            return
        tr = QCoreApplication.translate
        if n == 1:
            text = tr("desktop", "1 task is still running.")
        else:
            text = tr("desktop", "{n} tasks are still running.").replace("{n}", str(n))
        text += " " + tr(
            "desktop",
            "They continue on RunningHub and rhdesk picks them up next time. Quit anyway?",
        )
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        box = QMessageBox(QMessageBox.Icon.Question, tr("desktop", "Quit rhdesk?"), text,
                          buttons, self.window)  # fmt: skip
        box.setObjectName("quitWhileRunningBox")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setEscapeButton(QMessageBox.StandardButton.No)
        box.finished.connect(self._answered)
        self.box = box
        box.open()

    def _answered(self, result: int) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self._allowed = True
            self.window.close()


# -- start-up probe -------------------------------------------------------------------------
class _FirstPaint(QObject):
    def __init__(self, window: QMainWindow, done: Callable[[], None]) -> None:
        super().__init__(window)
        self._done = done
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self._done)  # after the paint: the loop is idle, input works
        return False


def install_startup_probe(window: QMainWindow, *, quit_after: bool = True) -> None:
    """Print `rhdesk-startup-probe <unix time>` once the window has painted and the event
    loop is idle again (bench/bench_startup.py reads it), then close."""

    def fire() -> None:
        print(f"{PROBE_PREFIX} {time.time():.6f}", flush=True)
        if quit_after:
            window.close()

    _FirstPaint(window, fire)


# -- wiring ---------------------------------------------------------------------------------
_current_window = None  # the window that gets files from later launches and "Open with"


def _to_current_window(files: list[Path]) -> None:
    if _current_window is not None:
        add_files_from_outside(_current_window, files)


def integrate(window, server, argv: Sequence[str]) -> None:  # noqa: ANN001 - MainWindow, server
    """Everything the desktop expects of the running app; call before `window.show()`."""
    app = QApplication.instance()
    icon = app_icon()
    if not icon.isNull():
        QApplication.setWindowIcon(icon)
        window.setWindowIcon(icon)
    # Called again when the window is replaced (language switch): files go to the new one only.
    global _current_window
    _current_window = window
    if server is not None:
        server.setParent(window)
        if not getattr(server, "_desktop_connected", False):
            server.files_received.connect(lambda files: _to_current_window(files))
            server._desktop_connected = True
    if app is not None and not getattr(app, "_rhdesk_file_open_filter", None):
        app._rhdesk_file_open_filter = FileOpenFilter(_to_current_window, app)
        app.installEventFilter(app._rhdesk_file_open_filter)
    window._close_guard = CloseGuard(window)
    if getattr(_gui_args(argv), "startup_probe", False):
        install_startup_probe(window)
