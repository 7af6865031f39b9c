"""Translations: English source text, one catalogue per language (`zh_CN.json`).

`rhdesk.i18n.core` is Qt-free (`_`, `N_`, `set_language`); `rhdesk.i18n.qt` installs the same
catalogue for Qt's `tr()`; `rhdesk.i18n.switch` rebuilds the window after a switch;
`python -m rhdesk.i18n.extract` lists the strings the catalogue lacks.
"""

from __future__ import annotations

from rhdesk.i18n.core import (
    CHINESE,
    ENGLISH,
    LANGUAGES,
    N_,
    _,
    current_language,
    resolve,
    set_language,
)

__all__ = [
    "CHINESE",
    "ENGLISH",
    "LANGUAGES",
    "N_",
    "_",
    "current_language",
    "resolve",
    "set_language",
]
