"""One window per data folder: a second launch hands its files to the running window and exits.

The running window listens on a local socket (a Unix domain socket, a named pipe on Windows)
whose name is derived from the data folder and the user, so two data folders (tests, portable
installs) never meet and another user's rhdesk is never reached. The protocol is one JSON line
each way: ``{"files": [...], "cwd": "..."}`` from the newcomer, ``{"ok": true}`` back. Who is
first is decided by a lock file in the data folder, not by the socket: on Unix Qt replaces a
socket file when it listens, and Windows lets several servers share a pipe name.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("rhdesk.single_instance")

CONNECT_TIMEOUT_MS = 1000
REPLY_TIMEOUT_MS = 10_000  # the first window may still be building itself when we knock
MAX_MESSAGE_BYTES = 1 << 20
HANDOVER_WAIT_SECONDS = 15.0  # how long a later launch waits for the first one to listen
LOCK_NAME = "instance.lock"


def server_name(data_dir: Path) -> str:
    """A short, stable socket name for this user and data folder (Unix paths are limited)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers; the data folder still separates us
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    key = f"{user}\0{Path(data_dir).expanduser().resolve()}"
    return "rhdesk-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def encode_message(files: Sequence[Path | str], cwd: Path | None = None) -> bytes:
    base = Path(cwd) if cwd is not None else Path.cwd()
    paths = [str((base / Path(f)).resolve()) for f in files]
    return json.dumps({"files": paths, "cwd": str(base)}).encode("utf-8") + b"\n"


def decode_message(line: bytes) -> list[Path]:
    data = json.loads(line.decode("utf-8"))
    files = data.get("files", []) if isinstance(data, dict) else []
    return [Path(f) for f in files if isinstance(f, str) and f]


def send_to_running(name: str, files: Sequence[Path | str]) -> bool:
    """Hand ``files`` to a running instance. True if one is listening and took the message."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    sock.write(encode_message(files))
    sock.flush()
    while sock.bytesToWrite() > 0:
        if not sock.waitForBytesWritten(REPLY_TIMEOUT_MS):
            log.warning("a running rhdesk accepted the connection but not the message")
            break
    reply = bytes(sock.readAll().data())  # the answer may have come in while we were writing
    while b"\n" not in reply and sock.waitForReadyRead(REPLY_TIMEOUT_MS):
        reply += bytes(sock.readAll().data())
    sock.disconnectFromServer()
    if b"\n" not in reply:
        # It is there (it answered the connection) but busy: starting a second window on the
        # same data folder would drive the same tasks twice, so we still count this as handed over.
        log.warning("a running rhdesk did not confirm; it will read the files when it is free")
    return True


class InstanceServer(QObject):
    """Listens for later launches; emits the files they pass (already absolute paths)."""

    files_received = Signal(list)  # list[Path]; may be empty: just "show yourself"

    def __init__(
        self, name: str, lock: QLockFile | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.name = name
        self._lock = lock  # held for as long as we are the instance
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        return self._server.listen(self.name)

    def is_listening(self) -> bool:
        return self._server.isListening()

    def error_text(self) -> str:
        return self._server.errorString()

    def close(self) -> None:
        self._server.close()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            self._read(sock)  # the message may already be there

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        if sock not in self._buffers:
            return
        buf = self._buffers[sock] + bytes(sock.readAll().data())
        if len(buf) > MAX_MESSAGE_BYTES:
            log.warning("dropping an oversized message from another rhdesk launch")
            self._buffers.pop(sock, None)
            sock.abort()
            return
        if b"\n" not in buf:
            self._buffers[sock] = buf
            return
        line = buf.split(b"\n", 1)[0]
        self._buffers[sock] = b""
        try:
            files = decode_message(line)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("unreadable message from another rhdesk launch: %s", exc)
            sock.write(b'{"ok": false}\n')
            sock.flush()
            return
        sock.write(b'{"ok": true}\n')
        sock.flush()
        self.files_received.emit(files)


class InstanceUnreachable(Exception):
    """Another rhdesk owns this data folder but does not answer (hung, or still starting)."""


def claim(
    data_dir: Path, files: Sequence[Path | str], wait_seconds: float = HANDOVER_WAIT_SECONDS
) -> InstanceServer | None:
    """Become the instance for ``data_dir``, or hand ``files`` to the one that already is.

    Returns the listening server, or None when a running instance took the files (the caller
    exits). The lock file decides who is first, so launches that start together (Explorer
    opens one process per selected file) still end up in one window; Qt's lock notices a lock
    left by a crashed process. Raises InstanceUnreachable if the owner never answers.
    """
    name = server_name(data_dir)
    if send_to_running(name, files):
        return None
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    lock = QLockFile(str(Path(data_dir) / LOCK_NAME))
    lock.setStaleLockTime(0)  # only a dead owner makes it stale, never its age
    deadline = time.monotonic() + wait_seconds
    while not lock.tryLock(0):
        # The owner may be between taking the lock and listening: knock until it answers.
        if send_to_running(name, files):
            return None
        if time.monotonic() > deadline:
            raise InstanceUnreachable(
                f"rhdesk is already running for {data_dir} but does not answer"
            )
        time.sleep(0.05)
    QLocalServer.removeServer(name)  # a socket file left by a crash: we own the lock now
    server = InstanceServer(name, lock)
    if not server.listen():
        log.warning("single-instance socket unavailable (%s); later launches open new windows",
                    server.error_text())  # fmt: skip
    return server
