"""Rotating log files with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_secrets: set[str] = set()
_PATTERNS = [
    re.compile(r"(Authorization[\"']?\s*[:=]?\s*[\"']?\s*Bearer\s+)[^\s\"',}]+", re.I),
    re.compile(r"((?:\"|')?api_?key(?:\"|')?\s*[:=]\s*(?:\"|')?)[^\s\"',}]+", re.I),
    re.compile(r"(Rh-Comfy-Auth:?\s*\"?\s*)[^\s\"',}]+", re.I),
    re.compile(
        r"([?&](?:sig|signature|Signature|token|Expires|OSSAccessKeyId|x-oss-[a-z-]+)=)[^&\s\"']+"
    ),
    # Any query string of a link: result and upload links are signed in ways that vary by CDN
    # (X-Amz-*, auth_key, OSS...), and where a file lives is all a log reader needs.
    re.compile(r"(\bhttps?://[^\s?#\"'<>]+\?)[^\s\"'<>]+", re.I),
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


def _install_record_redaction() -> None:
    """Redact every log record as it is made, whichever handler (a test's caplog, a console)
    later formats it; the file handler's formatter redacts again, tracebacks included."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_rhdesk_redacting", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:  # noqa: ANN002, ANN003
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    factory._rhdesk_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def setup_logging(log_dir: Path, verbose: bool = False) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    _install_record_redaction()
    # httpx logs every request with its full URL (signed result links included) at INFO.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
