"""The "Copy diagnostics" text: what a person pastes into a support request. Qt-free.

Versions, platform, settings (never the key, nor the recent prompts: those are the user's work),
where the key comes from (never the key), folders, network set-up, and the last log lines. The
whole text goes through the log redaction once more before it leaves, so a secret that slipped
into any part of it is still masked.
"""

from __future__ import annotations

import platform
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rhdesk import __version__, logs
from rhdesk.paths import AppPaths
from rhdesk.settings import Settings

LOG_LINES = 200
# Private or useless to support: the prompts a person typed are their work, not a setting.
_LEFT_OUT = {"recent_prompts"}


def _without_userinfo(url: str) -> str:
    # A proxy or base URL may carry "user:password@"; the host is what support needs.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable)"
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts._replace(query="", fragment=""))


def settings_lines(settings: Settings) -> list[str]:
    out = []
    for name, value in asdict(settings).items():
        if name in _LEFT_OUT:
            continue
        if name == "base_url" and value:
            value = _without_userinfo(str(value))
        out.append(f"  {name}: {value!r}")
    return out


def tail_log(log_dir: Path, lines: int = LOG_LINES) -> list[str]:
    """The last `lines` lines across the rotated files (oldest first), redacted again."""

    def backup_number(p: Path) -> int:
        return int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0

    # Newest first: rhdesk.log, then rhdesk.log.1, .2, ... (RotatingFileHandler's order).
    newest_first = [log_dir / "rhdesk.log"] + sorted(
        log_dir.glob("rhdesk.log.*"), key=backup_number
    )
    collected: list[str] = []
    for path in newest_first:
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                chunk = deque((line.rstrip("\n") for line in fh), maxlen=lines)
        except OSError:
            continue
        collected = list(chunk) + collected
        if len(collected) >= lines:
            break
    return [logs.redact(line) for line in collected[-lines:]]


def _network_lines() -> list[str]:
    from rhdesk.api import transport

    ctx = transport.tls_context()
    trust = (
        "system trust store (truststore)"
        if type(ctx).__module__.startswith("truststore")
        else "certifi CA bundle (the system trust store could not be loaded)"
    )
    proxies = transport.system_proxies()
    shown = ", ".join(f"{k} → {_without_userinfo(v)}" for k, v in sorted(proxies.items()))
    return [f"  TLS verification: on, {trust}", f"  proxy: {shown or 'none'}"]


def _qt_versions() -> list[str]:
    # Reported only if the window loaded Qt; this module never imports it.
    pyside = sys.modules.get("PySide6")
    if pyside is None:
        return ["  Qt: not loaded"]
    core = sys.modules.get("PySide6.QtCore")
    qt = core.qVersion() if core is not None else "?"
    return [f"  Qt: {qt}, PySide6: {getattr(pyside, '__version__', '?')}"]


def build_diagnostics(
    *,
    settings: Settings,
    paths: AppPaths,
    key_source: str,
    site: str,
    demo: bool,
    extra: Mapping[str, str] | None = None,
    log_lines: int = LOG_LINES,
) -> str:
    from rhdesk import secrets
    from rhdesk.i18n.core import current_language

    keyring_note = secrets.keyring_problem() or "available"
    out = [
        f"rhdesk {__version__}",
        f"  platform: {platform.platform()} ({platform.machine()})",
        f"  Python: {platform.python_implementation()} {platform.python_version()}",
        *_qt_versions(),
        f"  language: {current_language()}",
        "",
        "connection:",
        f"  site: {site}{' (demo mode)' if demo else ''}",
        f"  key source: {key_source or 'none'}",  # where from, never the key itself
        f"  system keyring: {keyring_note}",
        *_network_lines(),
        "",
        "settings:",
        *settings_lines(settings),
        "",
        "folders:",
        f"  data: {paths.data_dir}",
        f"  results: {paths.library}",
        f"  logs: {paths.logs}",
    ]
    for name, value in (extra or {}).items():
        out.append(f"  {name}: {value}")
    tail = tail_log(paths.logs, log_lines)
    out += ["", f"last {len(tail)} log lines:", *tail]
    return logs.redact("\n".join(out)) + "\n"
