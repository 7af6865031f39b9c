"""The Qt-free half of rhdesk's translations: `_()` for the layers that must not import Qt.

One catalogue per language (`zh_CN.json` beside this file) maps English source text to the
translation, without contexts, so that the same sentence is translated once whether Qt's `tr()`
or `_()` asks for it. English is the source language and needs no catalogue.

The language is process-wide: the window (or the command line) sets it once at start-up and again
when the user switches; messages are translated when they are made or shown, not at import time.
"""

from __future__ import annotations

import json
import locale
import os
from importlib import resources

ENGLISH = "en"
CHINESE = "zh_CN"
# What the settings dialog offers, in each language's own name (a person who cannot read the
# current language must still find theirs).
LANGUAGES: dict[str, str] = {ENGLISH: "English", CHINESE: "简体中文"}
SYSTEM = "system"

_cache: dict[str, dict[str, str]] = {}
_language = ENGLISH
_current: dict[str, str] = {}


def catalogue_path(language: str = CHINESE) -> str:
    return str(resources.files(__package__).joinpath(f"{language}.json"))


def load_catalogue(language: str) -> dict[str, str]:
    """English source text -> translation. Empty values mean "not translated yet" and are dropped,
    so the English text shows instead of an empty label."""
    if language == ENGLISH:
        return {}
    if language not in _cache:
        try:
            raw = resources.files(__package__).joinpath(f"{language}.json").read_text("utf-8")
            data = json.loads(raw)
        except (OSError, ValueError):
            data = {}
        _cache[language] = {
            k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v
        }
    return _cache[language]


def reload_catalogues() -> None:
    """Forget cached catalogues (the extraction script and tests edit the file)."""
    global _current
    _cache.clear()
    _current = load_catalogue(_language)


def normalize(code: str | None) -> str:
    """Any Chinese locale -> zh_CN (the only Chinese catalogue); anything else -> English."""
    text = (code or "").replace("-", "_").strip().lower()
    return CHINESE if text.startswith("zh") else ENGLISH


def system_locale() -> str:
    # The GUI passes QLocale.system().name() instead; this serves the command line and tests.
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX"):
            return value.split(":")[0]
    try:
        return locale.getlocale()[0] or ""
    except ValueError:
        return ""


def resolve(setting: str | None, system: str | None = None) -> str:
    """A language setting ("system", "en", "zh_CN") -> the language to use."""
    if not setting or setting == SYSTEM:
        return normalize(system if system is not None else system_locale())
    return normalize(setting)


def set_language(language: str) -> str:
    """Make `language` current for every `_()` from now on; returns the language chosen."""
    global _language, _current
    _language = normalize(language)
    _current = load_catalogue(_language)
    return _language


def current_language() -> str:
    return _language


def _(text: str, /, **fields: object) -> str:
    """The current language's text for `text`; `{name}` placeholders are filled after lookup, so
    the translator can move them."""
    translated = _current.get(text, text)
    return translated.format(**fields) if fields else translated


def N_(text: str) -> str:
    """Marks text for the catalogue where it must stay English until shown (class attributes,
    tables): the code that shows it calls `_()` on it."""
    return text
