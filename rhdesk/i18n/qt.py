"""The Qt half: one translator serving `tr()` from the same catalogue as the Qt-free `_()`."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from rhdesk.i18n import core

log = logging.getLogger("rhdesk.i18n")


class CatalogueTranslator(QTranslator):
    """Looks the English source text up in our JSON catalogue, ignoring Qt's context and
    disambiguation: a sentence means the same wherever it appears in this app."""

    def __init__(self, catalogue: dict[str, str], parent: QCoreApplication | None = None) -> None:
        super().__init__(parent)
        self._catalogue = catalogue

    def translate(  # noqa: D102 - Qt override
        self,
        context: str,
        source_text: str,
        disambiguation: str | None = None,
        n: int = -1,
    ) -> str | None:
        # None becomes a null QString: Qt then asks the next translator (Qt's own texts) or
        # falls back to the source text. An empty string would blank the label instead.
        return self._catalogue.get(source_text)

    def isEmpty(self) -> bool:  # noqa: N802 - Qt override
        # An "empty" translator is installed silently, without the LanguageChange event.
        return not self._catalogue


_installed: list[QTranslator] = []


def install_language(setting: str | None) -> str:
    """Install translators for a language setting ("system", "en", "zh_CN") on the running
    application, and make it the language of the Qt-free layers. Returns the language used."""
    app = QCoreApplication.instance()
    language = core.resolve(setting, QLocale.system().name())
    core.set_language(language)
    if app is None:
        return language
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    if language != core.ENGLISH:
        # Qt's own texts (standard buttons, file dialogs) come from the .qm files Qt ships.
        qt_own = QTranslator(app)
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if qt_own.load(QLocale(language), "qtbase", "_", folder):
            app.installTranslator(qt_own)
            _installed.append(qt_own)
        else:
            log.info("Qt's own %s translations not found in %s", language, folder)
        ours = CatalogueTranslator(core.load_catalogue(language), app)
        app.installTranslator(ours)
        _installed.append(ours)
    return language
