"""Where rhdesk keeps its files. Everything lives under one data folder unless configured."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from rhdesk import APP_NAME


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    db: Path
    inputs: Path  # local copies of uploaded inputs, so a task can run again after links expire
    library: Path  # results
    logs: Path
    scratch: Path  # pasted images and other temporary files
    settings: Path

    def ensure(self) -> AppPaths:
        for p in (self.data_dir, self.inputs, self.library, self.logs, self.scratch):
            p.mkdir(parents=True, exist_ok=True)
        return self


def default_data_dir() -> Path:
    env = os.environ.get("RHDESK_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def app_paths(data_dir: Path | None = None, library: Path | None = None) -> AppPaths:
    explicit = data_dir is not None or "RHDESK_DATA_DIR" in os.environ
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if library is None:
        # An explicit data folder holds everything the app writes (tests, portable installs);
        # otherwise results go where people look for pictures.
        library = (
            root / "results" if explicit else Path(platformdirs.user_pictures_dir()) / "rhdesk"
        )
    return AppPaths(
        data_dir=root,
        db=root / "history.sqlite3",
        inputs=root / "inputs",
        library=Path(library),
        logs=root / "logs",
        scratch=root / "scratch",
        settings=root / "settings.json",
    )
