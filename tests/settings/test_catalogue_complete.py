"""The Chinese translation is complete: fails on any user-visible string without a translation.

(a) Static: every string literal given to `self.tr`, `tr`, `QCoreApplication.translate`, `_` or
    `N_` anywhere in rhdesk/ (and every literal RunningHub error message) is in zh_CN.json, and
    no f-string is passed to them (formatted text can never match the catalogue).
(b) Runtime: the real main window, built in zh_CN with its menus and dialogs open, shows no
    Latin words except names that stay English everywhere (brands, models, units, keys).

To list what is missing: ``python -m rhdesk.i18n.extract`` (``--add-missing`` adds stubs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from rhdesk.i18n import extract

CATALOGUE = json.loads(extract.CATALOGUE.read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")

# Names that stay in Latin letters in the Chinese UI too.
ALLOWED_WORDS = {
    # brands, products, sites, models
    "rhdesk",
    "RunningHub",
    "Seedream",
    "Lite",
    "runninghub",
    "cn",
    "ai",
    "macOS",
    "Windows",
    "GNOME",
    "Keyring",
    "KWallet",
    "Secret",
    "Service",
    "Qt",
    "PySide",
    "Python",
    "Linux",
    "Darwin",
    "English",  # a language is offered under its own name
    # technical names and units
    "API",
    "GPS",
    "HTTP",
    "http",
    "https",
    "URL",
    "JSON",
    "PNG",
    "JPEG",
    "JPG",
    "WebP",
    "HEIC",
    "HEIF",
    "TIFF",
    "GIF",
    "BMP",
    "px",
    "MB",
    "KB",
    "GB",
    "ID",
    "RHDESK_API_KEY",
    "localhost",
    # keys on the keyboard
    "Ctrl",
    "Alt",
    "Shift",
    "Space",
    "Delete",
    "Enter",
    "Esc",
    "Tab",
    "Backspace",
    "Del",
    "Cmd",
}
# Whole tokens that are not words: file names, paths, dimensions, versions.
_NOT_WORDS = re.compile(
    r"""(?x)
    \S*[/\\]\S*                                   # paths
    | \S+\.(?:png|jpe?g|webp|heic|tiff?|gif|bmp)\b  # file names
    | \b\d+(?:\.\d+)*[KkMmx×]\b                  # 2K, 4.5x
    | \bv\d+(?:\.\d+)*\b                         # v4.5
    | \{[a-z_]+\}                                 # template fields shown as syntax
    | \b[a-z]+(?:-[a-z0-9.]+)+\b                  # seedream-v4.5 and other identifiers
    | \bIMG_\d+\S*                                 # the example photo name
    """
)
_WORD = re.compile(r"[A-Za-z]{2,}")


# -- (a) static ------------------------------------------------------------------------------
def test_every_translatable_literal_is_in_the_catalogue() -> None:
    found, problems = extract.scan()
    assert found, "the scanner found nothing: it is broken, not the catalogue complete"
    assert not problems, "untranslatable strings:\n" + "\n".join(
        f"{p.where}: {p.what}" for p in problems
    )
    gaps = extract.missing(found, CATALOGUE)
    assert not gaps, (
        "strings missing from rhdesk/i18n/zh_CN.json (python -m rhdesk.i18n.extract):\n"
        + "\n".join(f"{t!r} ({', '.join(w)})" for t, w in sorted(gaps.items()))
    )


def test_translations_keep_every_placeholder() -> None:
    # A placeholder lost or misspelt in a translation raises KeyError when it is formatted.
    wrong = {
        src: dst
        for src, dst in CATALOGUE.items()
        if sorted(PLACEHOLDER.findall(src)) != sorted(PLACEHOLDER.findall(dst))
    }
    assert not wrong, wrong


def test_translations_are_chinese() -> None:
    same = [k for k, v in CATALOGUE.items() if v == k and _WORD.search(k)]
    allowed_same = {"KWallet", "{line}"}
    assert set(same) <= allowed_same, same


def test_the_scanner_finds_what_it_must_and_flags_fstrings() -> None:
    source = """
tr = QCoreApplication.translate
class W:
    def f(self, n):
        self.tr("Menu text")
        tr("ctx", "Aliased text")
        QCoreApplication.translate("ctx", "Qualified text")
        _("Core {n}", n=n)
        N_("Marked text")
        self.tr(f"Formatted {n}")
        _("a " + f"{n}")
def g(tr):
    tr("One-argument tr")
"""
    found, problems = extract.scan_source(source, "x.py")
    assert {f.text for f in found} == {
        "Menu text", "Aliased text", "Qualified text", "Core {n}", "Marked text",
        "One-argument tr",
    }  # fmt: skip
    assert [p.where for p in problems] == ["x.py:10", "x.py:11"]


def test_missing_strings_are_reported_and_stubbed(tmp_path: Path, capsys) -> None:
    partial = dict(CATALOGUE)
    victim = "&Settings…"
    del partial[victim]
    path = tmp_path / "zh_CN.json"
    extract.save(partial, path)
    assert extract.main(["--catalogue", str(path), "--add-missing"]) == 1
    out = capsys.readouterr().out
    assert json.dumps(victim, ensure_ascii=False) in out
    assert json.loads(path.read_text(encoding="utf-8"))[victim] == ""  # a stub to fill in
    extract.save(CATALOGUE, path)
    assert extract.main(["--catalogue", str(path)]) == 0


# -- (b) runtime -----------------------------------------------------------------------------
def _texts(widget: QWidget) -> list[tuple[str, str]]:
    """(where, text) for everything a person can read on `widget` and its children."""
    out: list[tuple[str, str]] = []

    def add(obj, what: str, text: str) -> None:
        if text and text.strip():
            out.append((f"{type(obj).__name__}#{obj.objectName() or '?'}.{what}", text))

    for w in [widget, *widget.findChildren(QWidget)]:
        if w.isWindow():
            add(w, "windowTitle", w.windowTitle())
        add(w, "toolTip", w.toolTip())
        add(w, "accessibleName", w.accessibleName())
        if isinstance(w, QLabel):
            add(w, "text", re.sub(r"<[^>]+>", " ", w.text()))
        elif isinstance(w, QAbstractButton):
            add(w, "text", w.text())
        elif isinstance(w, QLineEdit | QTextEdit | QPlainTextEdit):
            add(w, "placeholderText", w.placeholderText())
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                add(w, f"item{i}", w.itemText(i))
        elif isinstance(w, QMenu | QGroupBox):
            add(w, "title", w.title())
        elif isinstance(w, QTabWidget):
            for i in range(w.count()):
                add(w, f"tab{i}", w.tabText(i))
    for a in widget.findChildren(QAction):
        if not a.isSeparator():
            add(a, "text", a.text())
            add(a, "toolTip", a.toolTip())
    return out


def latin_words(text: str) -> list[str]:
    text = _NOT_WORDS.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in ALLOWED_WORDS]


def test_latin_filter_catches_english_and_spares_names() -> None:
    assert latin_words("运行 Seedream 4.5 · 2048×2048 px · Ctrl+Enter") == []
    assert latin_words("示例：IMG_0042_seedream-v4.5_2025-01-01_1.png") == []
    assert latin_words("Run anyway") == ["Run", "anyway"]
    assert latin_words("余额 balance") == ["balance"]


@pytest.fixture
def chinese_window(make_window, tmp_path):
    from rhdesk.settings import Settings

    # Windows other tests left open are theirs, in whatever language they were built.
    # The widgets themselves, not their ids: an id is reused once its object is gone, and the new
    # window could then be taken for an old one.
    make_window.before = list(QApplication.topLevelWidgets())  # type: ignore[attr-defined]

    data = tmp_path / "data"
    Settings(language="zh_CN").save(data / "settings.json")
    return make_window("--demo", data_dir=data)


def test_the_window_menus_and_dialogs_show_no_untranslated_text(
    qtbot, chinese_window, make_window
) -> None:
    window = chinese_window
    qtbot.waitUntil(lambda: window.controller.ready, timeout=10_000)
    assert window.tr("Run") == "运行"  # the catalogue really is installed
    # Menus: shown once, so that anything filled in on show is there.
    for menu in window.menuBar().findChildren(QMenu):
        menu.popup(window.mapToGlobal(window.rect().center()))
        menu.hide()
    window.open_settings()
    window.open_key_dialog()
    for name in ("aboutAction", "batchAction"):
        action = window.findChild(QAction, name)
        if action is not None:
            action.trigger()
    qtbot.waitUntil(lambda: window.findChild(QWidget, "settingsDialog") is not None)
    tops = [
        w
        for w in QApplication.topLevelWidgets()
        if w.isVisible() and not any(w is old for old in make_window.before)
    ]
    assert window in tops and len(tops) >= 3  # the window, its settings and key dialogs
    offenders = sorted(
        {
            f"{where}: {text!r} -> {words}"
            for top in tops
            for where, text in _texts(top)
            if (words := latin_words(text))
        }
    )
    assert not offenders, "untranslated text on screen:\n" + "\n".join(offenders)
    for top in tops:
        if top is not window:
            top.close()
