"""Thumbnails cached on disk, keyed by the source file's identity, made lazily (off the GUI thread:
every function here blocks)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from rhdesk.core.imageops import thumbnail

FORMAT = "WEBP"  # small, lossy-but-fine at list sizes, alpha-capable
SUFFIX = ".webp"


class ThumbDiskCache:
    def __init__(self, folder: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    def key(self, source: Path, side: int) -> str:
        st = source.stat()
        ident = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{side}"
        return hashlib.sha1(ident.encode("utf-8", "surrogatepass")).hexdigest()

    def path_for(self, source: Path, side: int) -> Path:
        k = self.key(source, side)
        return self.folder / k[:2] / f"{k}{SUFFIX}"

    def get(self, source: Path, side: int) -> Path:
        """The cached thumbnail of `source` (made now if missing or stale). Raises OSError or
        ImageProblem when the source cannot be read."""
        source = Path(source)
        target = self.path_for(source, side)
        if target.exists():
            with contextlib.suppress(OSError):
                os.utime(target)  # recently used: kept by prune()
            return target
        img = thumbnail(source, side)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        img.save(tmp, FORMAT, quality=82, method=4)
        os.replace(tmp, target)
        return target

    def prune(self) -> int:
        """Drop the least recently used files beyond max_bytes; returns how many were removed."""
        files = []
        total = 0
        for p in self.folder.glob("*/*" + SUFFIX):
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, p))
            total += st.st_size
        removed = 0
        for _mtime, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size
                removed += 1
        return removed
