"""Composition root of the window: QApplication, the qasync loop, controller and main window."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

os.environ.setdefault("QT_API", "pyside6")  # qasync must never pick another binding

from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from rhdesk import APP_DISPLAY_NAME, ORG_NAME, __version__  # noqa: E402

log = logging.getLogger("rhdesk.app")


# Pillow and QImageReader run on worker threads but still hold the GIL in short bursts; with
# Python's default 5 ms switch interval the GUI thread waited behind several of them in turn
# (bench/bench_ui_stall.py: p99 stall 9-15 ms -> 5-7 ms with 1 ms).
GIL_SWITCH_INTERVAL_S = 0.001


def _ensure_app() -> QApplication:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
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
    from rhdesk.i18n.qt import install_language
    from rhdesk.ui.settings_dialog import apply_theme

    install_language(ctx.settings.language)  # before any widget asks tr() for its texts
    if ctx.settings.theme in ("light", "dark"):
        apply_theme(ctx.settings.theme)
    controller = AppController(ctx)
    window = MainWindow(controller)
    files = [f for f in getattr(args, "files", []) if f]
    if files:
        window.slots.add_files(files)
    controller.refresh_account()
    controller.resume()
    return window


def _install_excepthook(window) -> None:
    # One handler for Qt slots, qasync slots, orphaned asyncio tasks and threads; it finds the
    # window on screen when it fires (a language switch replaces `window`).
    from rhdesk.ui.support import install_error_handlers

    install_error_handlers(asyncio.get_event_loop())


def main(argv: list[str] | None = None) -> int:
    import qasync

    from rhdesk.context import SetupError

    argv = sys.argv[1:] if argv is None else argv
    app = _ensure_app()
    from rhdesk import desktop

    instance = desktop.claim_instance(argv)  # None: a running window took our files
    if instance is None:
        return 0
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        window = build_main_window(argv)
    except SetupError as exc:
        QMessageBox.critical(None, "rhdesk", str(exc))
        print(f"rhdesk: {exc}", file=sys.stderr)
        return 2
    _install_excepthook(window)
    desktop.integrate(window, instance, argv)  # icon, "Open with", ask before quitting
    from rhdesk.i18n import switch

    switch.window_replaced.append(lambda _old, new: desktop.integrate(new, instance, argv))
    window.show()
    controller = window.controller  # outlives `window` across language switches
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(controller.shutdown())
    return 0
