"""Support from the window: one error handler for every way an exception can escape (Qt slots,
qasync slots, orphaned asyncio tasks, threads), "Copy diagnostics", and the low-balance question.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QWidget

from rhdesk.logs import redact

log = logging.getLogger("rhdesk.app")

MAX_OPEN_ERROR_BOXES = 3  # an error in a paint loop must not bury the screen in dialogs


def current_main_window() -> QMainWindow | None:
    """The main window on screen (after a language switch it is a new one)."""
    app = QApplication.instance()
    if app is None:
        return None
    windows = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMainWindow) and w.objectName() == "mainWindow"
    ]
    visible = [w for w in windows if w.isVisible()]
    return (visible or windows or [None])[-1]


def diagnostics_text(window: QWidget) -> str:
    from rhdesk.diagnostics import build_diagnostics

    ctx = window.controller.ctx  # type: ignore[attr-defined]
    return build_diagnostics(
        settings=ctx.settings,
        paths=ctx.paths,
        key_source=ctx.key_source,
        site=ctx.site,
        demo=ctx.demo,
    )


def copy_diagnostics(window: QWidget) -> str:
    text = diagnostics_text(window)
    QGuiApplication.clipboard().setText(text)
    return text


class ErrorHandler(QObject):
    """Logs every unhandled exception (redacted) and shows it in a dialog, never a silent crash.

    Reached by: sys.excepthook (Qt slots, and qasync's asyncSlot, which hands its task's
    exception to sys.excepthook), the asyncio loop's exception handler (a task that failed with
    nobody awaiting it), and threading.excepthook (workers), the last marshalled to the GUI
    thread through a queued signal.
    """

    _from_thread = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.boxes: list[QMessageBox] = []
        self.handled = 0
        self._from_thread.connect(self.handle, Qt.ConnectionType.QueuedConnection)

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        self.handled += 1
        details = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        log.error("unhandled error:\n%s", details)
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        try:
            self._show(redact(f"{exc_type.__name__}: {exc}"), details)
        except Exception:  # the dialog itself failed: at least say it on stderr
            sys.__excepthook__(exc_type, exc, tb)

    def _show(self, summary: str, details: str) -> None:
        # Closed boxes delete themselves: forget them before asking anything of them.
        self.boxes = [b for b in self.boxes if shiboken6.isValid(b) and b.isVisible()]
        if len(self.boxes) >= MAX_OPEN_ERROR_BOXES:
            return
        window = current_main_window()
        tr = QApplication.translate
        box = QMessageBox(window)
        box.setObjectName("crashBox")
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle(tr("ErrorHandler", "Unexpected error"))
        box.setText(
            tr(
                "ErrorHandler",
                "rhdesk ran into a problem it did not expect. Your tasks are saved in the "
                "history and keep going; details are in the log file.",
            )
        )
        box.setInformativeText(summary)
        box.setDetailedText(details)
        copy = box.addButton(
            tr("ErrorHandler", "Copy diagnostics"), QMessageBox.ButtonRole.ActionRole
        )
        copy.setObjectName("copyDiagnosticsButton")
        box.addButton(QMessageBox.StandardButton.Close)
        if window is not None:
            # ActionRole buttons close the box too; copying first is all they need to do.
            copy.clicked.connect(lambda: copy_diagnostics(window))
        else:
            copy.setEnabled(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.boxes.append(box)
        box.open()

    # -- entry points ---------------------------------------------------------------------
    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self.handle(exc_type, exc, tb)

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.handle(type(exc), exc, exc.__traceback__)
        else:
            log.error("asyncio: %s", redact(str(context.get("message", context))))

    def thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self._from_thread.emit(args.exc_type, args.exc_value, args.exc_traceback)


_handler: ErrorHandler | None = None


def install_error_handlers(loop: asyncio.AbstractEventLoop | None = None) -> ErrorHandler:
    """Route every unhandled exception to one handler (idempotent: a second call re-targets
    the same handler at a new loop)."""
    global _handler
    if _handler is None:
        _handler = ErrorHandler(QApplication.instance())
    sys.excepthook = _handler.excepthook
    threading.excepthook = _handler.thread_exception
    if loop is not None:
        loop.set_exception_handler(_handler.loop_exception)
    return _handler


def confirm_low_balance(parent: QWidget, text: str, run_anyway: Callable[[], None]) -> QMessageBox:
    """Non-blocking: asks, and calls `run_anyway` only if the person says so."""
    tr = QApplication.translate
    box = QMessageBox(parent)
    box.setObjectName("lowBalanceBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(tr("LowBalance", "Low balance"))
    box.setText(text)
    run = box.addButton(tr("LowBalance", "Run anyway"), QMessageBox.ButtonRole.AcceptRole)
    run.setObjectName("runAnywayButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    run.clicked.connect(run_anyway)
    box.open()
    return box
