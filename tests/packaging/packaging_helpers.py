"""Helpers for tests/packaging, imported as a plain module (conftest puts this folder on
sys.path, as tests/ui does for its helpers)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "rhdesk" / "data" / "samples" / "rocket.jpg"
SHUTDOWN_TIMEOUT_MS = 15_000


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def rhdesk_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rhdesk", *args]


def shut_down(qtbot, window) -> None:  # noqa: ANN001
    """Close without asking, then stop the controller like app.main does."""
    if getattr(window, "_shut_down", False):
        return
    window._shut_down = True
    guard = getattr(window, "_close_guard", None)
    if guard is not None:
        guard._allowed = True  # teardown: no question
    window.close()
    from rhdesk.single_instance import InstanceServer

    for server in window.findChildren(InstanceServer):
        server.close()
    done = asyncio.ensure_future(window.controller.shutdown())
    qtbot.waitUntil(done.done, timeout=SHUTDOWN_TIMEOUT_MS)
    done.result()
