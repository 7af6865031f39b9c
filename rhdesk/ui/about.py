"""Help → About: version, the Qt/PySide6/Python underneath, and the licence of every bundled
library with its full text where the library ships one."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rhdesk import APP_DISPLAY_NAME, __version__

# What the bundle ships, even if the metadata walk below cannot see rhdesk's own requirements
# (e.g. a checkout run without installing).
BUNDLED = (
    "PySide6-Essentials", "shiboken6", "qasync", "httpx", "httpcore", "anyio", "h11", "certifi",
    "idna", "sniffio", "Pillow", "pillow-heif", "aiohttp", "aiohappyeyeballs", "aiosignal",
    "attrs", "frozenlist", "multidict", "propcache", "yarl", "platformdirs", "keyring",
)  # fmt: skip
_LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice|authors)", re.IGNORECASE)
# PySide6 wheels carry no licence file; we ship the texts in resources/licenses.
_SHIPPED_TEXTS = {"lgpl-3.0": ("LGPL-3.0.txt", "GPL-3.0.txt")}
_CLASSIFIER_NAMES = {
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD",
    "MIT License": "MIT",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
}


@dataclass
class LicenceInfo:
    name: str  # the package, as it calls itself
    version: str
    licence: str  # an SPDX expression where the package gives one
    files: list[Path] = field(default_factory=list)  # full texts we can show
    homepage: str = ""
    text: str = ""  # set instead of files for texts that are not on disk as such

    def full_text(self) -> str:
        if self.text:
            return self.text
        parts = []
        for p in self.files:
            try:
                parts.append(
                    f"==> {p.name} <==\n\n{p.read_text(encoding='utf-8', errors='replace')}"
                )
            except OSError:
                continue
        if parts:
            return "\n\n".join(parts)
        where = f" See {self.homepage}." if self.homepage else ""
        return (
            f"{self.name} does not ship its licence text with the package ({self.licence}).{where}"
        )


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _licence_name(meta) -> str:  # noqa: ANN001 - email.message.Message
    expr = (meta.get("License-Expression") or "").strip()
    if expr:
        return expr
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    for c in meta.get_all("Classifier") or []:
        if c.startswith("License ::"):
            last = c.split("::")[-1].strip()
            return _CLASSIFIER_NAMES.get(last, last)
    return "see licence text" if text else "unknown"


def _homepage(meta) -> str:  # noqa: ANN001
    if meta.get("Home-page"):
        return meta["Home-page"]
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository"):
            return url.strip()
    return ""


def _licence_files(dist: md.Distribution) -> list[Path]:
    out = []
    for f in dist.files or []:
        if not f.parts or not f.parts[0].endswith(".dist-info"):
            continue
        if _LICENCE_FILE.search(f.name) or "licenses" in f.parts[1:-1]:
            p = Path(str(dist.locate_file(f)))
            if p.is_file():
                out.append(p)
    return out


def _requirement_name(req: str) -> str:
    return re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0]


def bundled_distributions() -> list[md.Distribution]:
    """rhdesk's runtime requirements, recursively, as installed here (extras left out)."""
    seen: dict[str, md.Distribution] = {}
    todo = [*BUNDLED]
    with contextlib.suppress(md.PackageNotFoundError):
        todo += list(md.distribution("rhdesk").requires or [])
    while todo:
        req = todo.pop()
        if "extra ==" in req:
            continue
        name = _requirement_name(req)
        if _norm(name) in seen or _norm(name) == "rhdesk":
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        seen[_norm(name)] = dist
        todo += [r for r in (dist.requires or []) if "extra ==" not in r]
    return sorted(seen.values(), key=lambda d: _norm(d.metadata["Name"]))


def licences() -> list[LicenceInfo]:
    infos = []
    for dist in bundled_distributions():
        meta = dist.metadata
        info = LicenceInfo(
            name=meta["Name"],
            version=dist.version,
            licence=_licence_name(meta),
            files=_licence_files(dist),
            homepage=_homepage(meta),
        )
        if not info.files:
            for key, names in _SHIPPED_TEXTS.items():
                if key in info.licence.lower():
                    info.files = [p for n in names if (p := _shipped(n)) is not None]
        infos.append(info)
    registry = Path(__file__).resolve().parent.parent / "data" / "REGISTRY-LICENSE"
    infos.append(
        LicenceInfo(
            name="RunningHub model registry data",
            version="",
            licence="Apache-2.0",
            files=[registry] if registry.is_file() else [],
            homepage="https://www.runninghub.ai",
        )
    )
    return infos


def _shipped(name: str) -> Path | None:
    from rhdesk.desktop import resource_path

    return resource_path("licenses", name)


def versions_text() -> str:
    import PySide6

    return (
        f"Qt {qVersion()} · PySide6 {PySide6.__version__} · "
        f"Python {platform.python_version()} · {platform.system()} {platform.machine()}"
        + (" · bundled" if getattr(sys, "frozen", False) else "")
    )


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(self.tr("About rhdesk"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 560)

        from rhdesk.desktop import app_icon

        icon = QLabel(self)
        pix = app_icon().pixmap(64, 64)
        if not pix.isNull():
            icon.setPixmap(pix)
        title = QLabel(f"<b style='font-size: 16pt'>{APP_DISPLAY_NAME}</b> {__version__}", self)
        title.setObjectName("aboutTitle")
        blurb = QLabel(
            self.tr("Edit images with RunningHub's Seedream models.") + "<br>" + versions_text(),
            self,
        )
        blurb.setObjectName("aboutVersions")
        blurb.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QHBoxLayout()
        head.addWidget(icon)
        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(blurb)
        head.addLayout(text, 1)

        self.infos = licences()
        self.table = QTreeWidget(self)
        self.table.setObjectName("licenceTable")
        self.table.setAccessibleName(self.tr("Bundled libraries and their licences"))
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels([self.tr("Library"), self.tr("Version"), self.tr("Licence")])
        for info in self.infos:
            QTreeWidgetItem(self.table, [info.name, info.version, info.licence])
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("licenceText")
        self.text.setAccessibleName(self.tr("Licence text"))
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.table.currentItemChanged.connect(self._show_current)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.text)
        split.setSizes([260, 220])

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(
            QLabel(self.tr("rhdesk is built on these libraries (select one to read its licence):"))
        )
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        if self.infos:
            self.table.setCurrentItem(self.table.topLevelItem(0))

    def select(self, name: str) -> bool:
        for i, info in enumerate(self.infos):
            if _norm(info.name) == _norm(name):
                self.table.setCurrentItem(self.table.topLevelItem(i))
                return True
        return False

    def _show_current(self, item: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        if item is None:
            return
        info = self.infos[self.table.indexOfTopLevelItem(item)]
        self.text.setPlainText(info.full_text())
