"""Rotating log files with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_secrets: set[str] = set()
_PATTERNS = [
    re.compile(r"(Authorization:?\s*\"?\s*Bearer\s+)[^\s\"',}]+", re.I),
    re.compile(r"((?:\"|')?api_?key(?:\"|')?\s*[:=]\s*(?:\"|')?)[^\s\"',}]+", re.I),
    re.compile(r"(Rh-Comfy-Auth:?\s*\"?\s*)[^\s\"',}]+", re.I),
    re.compile(
        r"([?&](?:sig|signature|Signature|token|Expires|OSSAccessKeyId|x-oss-[a-z-]+)=)[^&\s\"']+"
    ),
]


def add_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):
        text = text.replace(s, "[redacted]")
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(log_dir: Path, verbose: bool = False) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "rhdesk.log"
    root = logging.getLogger("rhdesk")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        if getattr(h, "_rhdesk", False):
            root.removeHandler(h)
            h.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._rhdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return path
