"""Composition root of the window: QApplication, the qasync loop, controller and main window."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback

os.environ.setdefault("QT_API", "pyside6")  # qasync must never pick another binding

from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from rhdesk import APP_DISPLAY_NAME, ORG_NAME, __version__  # noqa: E402

log = logging.getLogger("rhdesk.app")


def _ensure_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_DISPLAY_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("rhdesk")
    return app  # type: ignore[return-value]


def build_main_window(argv: list[str]):
    """Parse the `rhdesk` options, wire everything on the current (qasync) loop, return the window.

    The loop is not entered here: `main` does that, tests drive a loop of their own.
    """
    from rhdesk.cli import build_gui_parser
    from rhdesk.context import build_context
    from rhdesk.models.controller import AppController
    from rhdesk.ui.main_window import MainWindow

    _ensure_app()
    args = build_gui_parser().parse_args(argv)
    ctx = build_context(args, require_key=False)
    controller = AppController(ctx)
    window = MainWindow(controller)
    files = [f for f in getattr(args, "files", []) if f]
    if files:
        window.slots.add_files(files)
    controller.refresh_account()
    controller.resume()
    return window


def _install_excepthook(window) -> None:
    def hook(exc_type, exc, tb) -> None:
        from rhdesk.logs import redact

        log.error(
            "unhandled error:\n%s", redact("".join(traceback.format_exception(exc_type, exc, tb)))
        )
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        try:
            window.show_error("Unexpected error", redact(f"{exc_type.__name__}: {exc}") +
                              "\n\nDetails are in the log file.")  # fmt: skip
        except Exception:
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    import qasync

    from rhdesk.context import SetupError

    argv = sys.argv[1:] if argv is None else argv
    app = _ensure_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        window = build_main_window(argv)
    except SetupError as exc:
        QMessageBox.critical(None, "rhdesk", str(exc))
        print(f"rhdesk: {exc}", file=sys.stderr)
        return 2
    _install_excepthook(window)
    window.show()
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(window.controller.shutdown())
    return 0
