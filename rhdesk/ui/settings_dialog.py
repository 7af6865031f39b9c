"""The settings dialog: account, results folder and names, tasks, privacy, language and theme.

Every field says what is wrong with it while it is edited, and Save stays off until nothing is.
Settings go to `rhdesk.settings.Settings` (JSON in the data folder); the API key goes only to
`rhdesk.secrets` (the OS keyring, or this session's memory when the person chooses so).
The dialog never blocks the event loop: it is opened with `open()` and answers through signals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import string
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QStyleFactory,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rhdesk import secrets
from rhdesk.account import KeyCheck, check_key, site_name
from rhdesk.core.naming import NameFields, TemplateError, result_path
from rhdesk.i18n.core import CHINESE, ENGLISH, LANGUAGES, SYSTEM
from rhdesk.ui.style import problem_color, set_text_color

log = logging.getLogger("rhdesk.ui.settings")

TEMPLATE_FIELDS = ("source", "stem", "model", "date", "time", "n", "task", "prompt")
MAX_CONCURRENCY = 20
POLL_MIN, POLL_MAX, POLL_FAST = 2.0, 60.0, 3.0
_KEY_RE = re.compile(r"[\x21-\x7e]{8,}")  # what RunningHubClient accepts, and not too short


# -- theme ----------------------------------------------------------------------------------
_system_look: tuple[str, QPalette] | None = None
_applied = "system"


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 30, 30), QColor(45, 45, 45), QColor(230, 230, 230)
    for role, color in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.ToolTipBase, window),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150)),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 80, 80)),
        (QPalette.ColorRole.Highlight, QColor(42, 130, 218)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, QColor(100, 170, 255)),
        (QPalette.ColorRole.Mid, QColor(90, 90, 90)),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


def apply_theme(theme: str) -> None:
    """ "system": the platform's own style and colours; "light"/"dark": Fusion, which draws the
    palette faithfully on every platform (native styles ignore parts of it)."""
    global _system_look, _applied
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    theme = theme if theme in ("light", "dark") else "system"
    if theme == _applied:
        return  # replacing the style re-polishes every widget: only when something changes
    _applied = theme
    if _system_look is None:
        _system_look = (app.style().name(), QPalette(app.palette()))
    if theme in ("light", "dark"):
        fusion = QStyleFactory.create("Fusion")
        app.setStyle(fusion)
        app.setPalette(_dark_palette() if theme == "dark" else fusion.standardPalette())
    else:
        style_name, palette = _system_look
        app.setStyle(style_name)
        app.setPalette(palette)


# -- checks (plain functions: the tests call them directly) ---------------------------------
def template_problem(template: str, tr=lambda s: s) -> str:  # noqa: ANN001 - a tr function
    """Why a file-name template cannot be used, or ''."""
    if not template.strip():
        return tr("The template is empty: it needs at least one field, such as {n}.")
    try:
        names = [f for _lit, f, _spec, _conv in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return tr("A { or } is unmatched. Write fields as {source}; a literal brace as {{ or }}.")
    unknown = sorted({n for n in names if n not in TEMPLATE_FIELDS})
    if unknown:
        return tr("Unknown field: {name}.").replace("{name}", "{" + unknown[0] + "}")
    if "" in names:
        return tr("A field has no name: write {source}, {n}…, not {}.")
    if "n" not in names and "time" not in names:
        # Not fatal (a counter is appended on a clash), but worth a hint while typing.
        return ""
    return ""


def example_name(template: str, library: Path) -> str:
    fields = NameFields(
        source="IMG_0042",
        model="seedream-v4.5",
        when=datetime.now(),
        n=1,
        task="17",
        prompt="replace the sky with a sunset",
    )
    path = result_path(library, template, fields, "png")
    return path.relative_to(library.resolve()).as_posix()


def folder_problem(text: str, tr=lambda s: s) -> str:  # noqa: ANN001 - a tr function
    """Why a results folder cannot be used, or ''. Empty means the default folder."""
    if not text.strip():
        return ""
    path = Path(text).expanduser()
    if not path.is_absolute():
        return tr("Choose a full folder path (for example with Choose…).")
    if path.exists() and not path.is_dir():
        return tr("That is a file, not a folder.")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return tr("That folder cannot be created here.")
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return tr("rhdesk cannot write to that folder.")
    return ""


def move_results(old: Path, new: Path) -> int:
    """Move everything in the old results folder into the new one; returns files moved.
    Runs in a worker thread. A name already taken in the new folder is left where it was."""
    old, new = old.resolve(), new.resolve()
    if new == old or old in new.parents or new in old.parents:
        raise ValueError("The new results folder is inside the old one, or the other way round.")
    new.mkdir(parents=True, exist_ok=True)
    moved = 0
    for entry in sorted(old.iterdir()):
        target = new / entry.name
        if target.exists():
            log.warning("not moving %s: %s already exists", entry.name, target)
            continue
        shutil.move(str(entry), str(target))
        moved += sum(1 for p in target.rglob("*") if p.is_file()) if target.is_dir() else 1
    return moved


# -- the dialog ----------------------------------------------------------------------------
class SettingsDialog(QDialog):
    """Edits a copy of the settings; `apply()` (Save) writes them and tells the controller."""

    language_changed = Signal(str)  # the new language setting; the window rebuilds itself
    applied = Signal()

    def __init__(
        self,
        controller,  # noqa: ANN001 - AppController
        parent: QWidget | None = None,
        *,
        sites: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.sites: dict[str, str] = dict(sites or controller.sites)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Settings"))
        self._settings = controller.ctx.settings
        self._checking: asyncio.Task | None = None
        self._no_keyring = secrets.keyring_problem()
        self.last_check: KeyCheck | None = None

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("settingsTabs")
        self.tabs.addTab(self._account_tab(), self.tr("Account"))
        self.tabs.addTab(self._results_tab(), self.tr("Results"))
        self.tabs.addTab(self._tasks_tab(), self.tr("Tasks"))
        self.tabs.addTab(self._appearance_tab(), self.tr("Appearance"))

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("saveSettingsButton")
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs)
        lay.addWidget(self.buttons)
        self._load()
        self.validate()
        self.finished.connect(self._stop_checking)
        self.resize(560, self.sizeHint().height())

    def _stop_checking(self) -> None:
        # Its answer would land in widgets that are about to be deleted.
        if self._checking is not None and not self._checking.done():
            self._checking.cancel()

    # -- building ---------------------------------------------------------------------------
    def _problem_label(self, name: str, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setObjectName(name)
        label.setWordWrap(True)
        set_text_color(label, problem_color(label.palette()))
        label.hide()
        return label

    def _hint_label(self, name: str, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setStyleSheet("color: palette(mid);")
        return label

    def _account_tab(self) -> QWidget:
        w = QWidget(self)
        self.site = QComboBox(w)
        self.site.setObjectName("siteCombo")
        self.site.setAccessibleName(self.tr("Site"))
        self.site.addItem(self.tr("China (runninghub.cn)"), "cn")
        self.site.addItem(self.tr("Global (runninghub.ai)"), "ai")
        self.key_status = self._hint_label("keyStatus", w)
        self.key_edit = QLineEdit(w)
        self.key_edit.setObjectName("keyEdit")
        self.key_edit.setAccessibleName(self.tr("API key"))
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # The key is never put back into this field: it shows only what is typed now.
        self.key_edit.setPlaceholderText(self.tr("Paste a new key to replace the saved one"))
        self.key_edit.setClearButtonEnabled(True)
        self.show_key = QCheckBox(self.tr("Show"), w)
        self.show_key.setObjectName("showKeyCheck")
        self.key_problem = self._problem_label("keyProblem", w)
        self.session_only = QCheckBox(self.tr("Keep the key for this session only"), w)
        self.session_only.setObjectName("sessionOnlyCheck")
        self.session_only.setToolTip(
            self.tr("The key is not stored anywhere; rhdesk asks for it again next time.")
        )
        self.keyring_note = self._problem_label("keyringNote", w)
        self.test_button = QPushButton(self.tr("Test key"), w)
        self.test_button.setObjectName("testKeyButton")
        self.forget_button = QPushButton(self.tr("Forget saved key"), w)
        self.forget_button.setObjectName("forgetKeyButton")
        self.test_result = QLabel(w)
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.switch_site_button = QPushButton(w)
        self.switch_site_button.setObjectName("switchSiteButton")
        self.switch_site_button.hide()

        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_key)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.forget_button)
        test_row.addStretch(1)
        form = QFormLayout(w)
        form.addRow(self.tr("Site"), self.site)
        form.addRow(self.tr("API key"), key_row)
        form.addRow("", self.key_status)
        form.addRow("", self.key_problem)
        form.addRow("", self.session_only)
        form.addRow("", self.keyring_note)
        form.addRow("", test_row)
        form.addRow("", self.test_result)
        form.addRow("", self.switch_site_button)

        self.site.currentIndexChanged.connect(self._site_changed)
        self.key_edit.textChanged.connect(self.validate)
        self.show_key.toggled.connect(self._toggle_key_visible)
        self.test_button.clicked.connect(self.test_key)
        self.forget_button.clicked.connect(self.forget_key)
        self.switch_site_button.clicked.connect(self._switch_to_detected_site)
        return w

    def _results_tab(self) -> QWidget:
        w = QWidget(self)
        self.folder_edit = QLineEdit(w)
        self.folder_edit.setObjectName("folderEdit")
        self.folder_edit.setAccessibleName(self.tr("Results folder"))
        self.folder_button = QPushButton(self.tr("Choose…"), w)
        self.folder_button.setObjectName("chooseFolderButton")
        self.folder_problem = self._problem_label("folderProblem", w)
        self.move_results = QCheckBox(self.tr("Move the existing results to the new folder"), w)
        self.move_results.setObjectName("moveResultsCheck")
        self.move_results.setChecked(True)
        self.move_results.hide()
        self.template_edit = QLineEdit(w)
        self.template_edit.setObjectName("templateEdit")
        self.template_edit.setAccessibleName(self.tr("File-name template"))
        self.template_edit.setToolTip(
            self.tr("Fields:") + " {source} {model} {date} {time} {n} {task} {prompt}"
        )
        self.template_example = self._hint_label("templateExample", w)
        self.template_problem = self._problem_label("templateProblem", w)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        form = QFormLayout(w)
        form.addRow(self.tr("Results folder"), folder_row)
        form.addRow("", self.folder_problem)
        form.addRow("", self.move_results)
        form.addRow(self.tr("File names"), self.template_edit)
        form.addRow("", self.template_example)
        form.addRow("", self.template_problem)
        self.folder_edit.textChanged.connect(self.validate)
        self.template_edit.textChanged.connect(self.validate)
        self.folder_button.clicked.connect(self._choose_folder)
        return w

    def _tasks_tab(self) -> QWidget:
        w = QWidget(self)
        self.concurrency = QSpinBox(w)
        self.concurrency.setObjectName("concurrencySpin")
        self.concurrency.setAccessibleName(self.tr("Tasks at once"))
        self.concurrency.setRange(0, MAX_CONCURRENCY)
        self.concurrency.setSpecialValueText(self.tr("As many as the account allows"))
        self.concurrency_hint = self._hint_label("concurrencyHint", w)
        self.poll = QDoubleSpinBox(w)
        self.poll.setObjectName("pollSpin")
        self.poll.setAccessibleName(self.tr("Check for results every"))
        self.poll.setRange(POLL_MIN, POLL_MAX)
        self.poll.setSingleStep(0.5)
        self.poll.setDecimals(1)
        self.poll.setSuffix(self.tr(" s"))
        self.poll_hint = self._hint_label("pollHint", w)
        self.strip_gps = QCheckBox(self.tr("Remove the GPS location from photos before upload"), w)
        self.strip_gps.setObjectName("stripGpsCheck")
        self.strip_gps.setToolTip(self.tr("Photos from phones often record where they were taken."))
        form = QFormLayout(w)
        form.addRow(self.tr("Tasks at once"), self.concurrency)
        form.addRow("", self.concurrency_hint)
        form.addRow(self.tr("Check for results every"), self.poll)
        form.addRow("", self.poll_hint)
        form.addRow(self.tr("Privacy"), self.strip_gps)
        self.concurrency.valueChanged.connect(self.validate)
        self.poll.valueChanged.connect(self.validate)
        return w

    def _appearance_tab(self) -> QWidget:
        w = QWidget(self)
        self.language = QComboBox(w)
        self.language.setObjectName("languageCombo")
        self.language.setAccessibleName(self.tr("Language"))
        self.language.addItem(self.tr("Same as the system"), SYSTEM)
        for code in (ENGLISH, CHINESE):
            self.language.addItem(LANGUAGES[code], code)  # each in its own language
        self.theme = QComboBox(w)
        self.theme.setObjectName("themeCombo")
        self.theme.setAccessibleName(self.tr("Theme"))
        self.theme.addItem(self.tr("Same as the system"), "system")
        self.theme.addItem(self.tr("Light"), "light")
        self.theme.addItem(self.tr("Dark"), "dark")
        form = QFormLayout(w)
        form.addRow(self.tr("Language"), self.language)
        form.addRow(self.tr("Theme"), self.theme)
        return w

    # -- state ------------------------------------------------------------------------------
    def _load(self) -> None:
        s = self._settings
        self.site.setCurrentIndex(max(0, self.site.findData(self.controller.ctx.site or s.site)))
        self.folder_edit.setText(str(self.controller.ctx.paths.library))
        self.template_edit.setText(s.name_template)
        self.concurrency.setValue(max(0, min(MAX_CONCURRENCY, int(s.concurrency or 0))))
        self.poll.setValue(max(POLL_MIN, min(POLL_MAX, float(s.poll_seconds or 5.0))))
        self.strip_gps.setChecked(bool(s.strip_gps))
        self.language.setCurrentIndex(max(0, self.language.findData(s.language or SYSTEM)))
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.theme or "system")))
        if self._no_keyring:
            # Told plainly, and the only safe choice is preselected and fixed.
            self.keyring_note.setText(
                self._no_keyring
                + " "
                + self.tr("A key you enter is kept for this session only, never in a file.")
            )
            self.keyring_note.show()
            self.session_only.setChecked(True)
            self.session_only.setEnabled(False)
        self._site_changed()

    def selected_site(self) -> str:
        return str(self.site.currentData())

    def _site_changed(self) -> None:
        lookup = secrets.get_api_key(self.selected_site())
        if lookup.source == "environment":
            text = self.tr(
                "Using the key from the RHDESK_API_KEY environment variable; it takes "
                "precedence over a saved key."
            )
        elif lookup.source == "keyring":
            text = self.tr("A key is saved in {place}: {masked}").format(
                place=secrets.keyring_name(), masked=secrets.mask(lookup.key)
            )
        elif lookup.source == "session":
            text = self.tr("A key is kept for this session only: {masked}").format(
                masked=secrets.mask(lookup.key)
            )
        else:
            text = self.tr("No key saved for this site yet.")
        self.key_status.setText(text)
        self.forget_button.setEnabled(lookup.source in ("keyring", "session"))
        self.test_result.clear()
        self.switch_site_button.hide()
        self.validate()

    def _toggle_key_visible(self, on: bool) -> None:
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password)

    def _library(self) -> Path:
        text = self.folder_edit.text().strip()
        return Path(text).expanduser() if text else self.controller.ctx.paths.library

    # -- validation -------------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Field -> what is wrong with it; empty when Save may go ahead."""
        out: dict[str, str] = {}
        key = self.key_edit.text().strip()
        if key and not _KEY_RE.fullmatch(key):
            out["key"] = self.tr(
                "A key is at least 8 characters, without spaces or unusual characters."
            )
        if problem := folder_problem(self.folder_edit.text(), self.tr):
            out["folder"] = problem
        template = self.template_edit.text()
        problem = template_problem(template, self.tr)
        if not problem:
            try:
                example_name(template, self._library())
            except (TemplateError, OSError, ValueError) as exc:
                problem = self.tr("This template cannot make a file name: {error}").format(
                    error=exc
                )
        if problem:
            out["template"] = problem
        return out

    def validate(self) -> bool:
        problems = self.problems()
        for name, label in (
            ("key", self.key_problem),
            ("folder", self.folder_problem),
            ("template", self.template_problem),
        ):
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)
        template = self.template_edit.text()
        if "template" not in problems:
            name = example_name(template, self._library())
            self.template_example.setText(self.tr("Example: {name}").format(name=name))
        else:
            self.template_example.clear()
        moved = self._library().resolve() != self.controller.ctx.paths.library.resolve()
        self.move_results.setVisible(moved and "folder" not in problems)
        limit = self.controller.queue.concurrent_limit if self.controller.queue else None
        n = self.concurrency.value()
        if limit and n > limit:
            hint = self.tr(
                "Your account runs {limit} at once; more wait in RunningHub's queue."
            ).format(limit=limit)
        elif limit:
            hint = self.tr("Your account runs up to {limit} tasks at once.").format(limit=limit)
        else:
            hint = self.tr("0 uses the account's own limit.")
        self.concurrency_hint.setText(hint)
        if self.poll.value() < POLL_FAST:
            self.poll_hint.setText(
                self.tr("Checking this often may make RunningHub ask rhdesk to slow down.")
            )
        else:
            self.poll_hint.setText(self.tr("RunningHub's own client checks every 5 s."))
        self.save_button.setEnabled(not problems)
        return not problems

    # -- key --------------------------------------------------------------------------------
    def _key_to_test(self) -> str:
        return self.key_edit.text().strip() or (secrets.get_api_key(self.selected_site()).key or "")

    def test_key(self) -> None:
        key = self._key_to_test()
        if not key:
            self.test_result.setText(self.tr("Enter a key first."))
            return
        if "key" in self.problems():
            return
        from rhdesk import logs

        logs.add_secret(key)  # from now on no log line can carry it
        site = self.selected_site()
        self.test_button.setEnabled(False)
        self.switch_site_button.hide()
        self.test_result.setText(self.tr("Checking the key with {site}…").format(
            site=site_name(site)))  # fmt: skip
        self._checking = self.controller.ops.start(
            check_key(key, site, self.sites),
            title=self.tr("Test key"),
            on_done=self._key_checked,
            on_error=self._key_check_failed,
        )

    def _key_checked(self, result: KeyCheck) -> None:
        self.last_check = result
        self.test_button.setEnabled(True)
        self.test_result.setText(result.message)
        set_text_color(self.test_result, None if result.ok else problem_color(self.palette()))
        if result.belongs_to:
            self.switch_site_button.setText(
                self.tr("Switch to {site}").format(site=site_name(result.belongs_to))
            )
            self.switch_site_button.show()

    def _key_check_failed(self, exc: BaseException) -> bool:
        from rhdesk.logs import redact

        self.test_button.setEnabled(True)
        self.test_result.setText(redact(str(exc)) or type(exc).__name__)
        return True

    def _switch_to_detected_site(self) -> None:
        if self.last_check and self.last_check.belongs_to:
            text = self.key_edit.text()  # the site change must not lose the typed key
            self.site.setCurrentIndex(self.site.findData(self.last_check.belongs_to))
            self.key_edit.setText(text)
            self.switch_site_button.hide()

    def forget_key(self) -> None:
        site = self.selected_site()
        secrets.forget_api_key(site)
        if site == self.controller.ctx.site and not self.controller.demo:
            self.controller.use_site(site)  # disconnects unless the environment has a key
        self._site_changed()
        self.test_result.setText(self.tr("The saved key for {site} was removed.").format(
            site=site_name(site)))  # fmt: skip

    # -- folder -----------------------------------------------------------------------------
    def _choose_folder(self) -> None:
        dialog = QFileDialog(self, self.tr("Results folder"), str(self._library()))
        dialog.setObjectName("folderDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.folder_edit.setText)
        dialog.open()

    # -- saving -----------------------------------------------------------------------------
    def apply(self) -> None:
        """Save: the key to the keyring (asking first if there is none), the rest to JSON."""
        if not self.validate():
            return
        key = self.key_edit.text().strip()
        site = self.selected_site()
        if key:
            try:
                where = self.controller.set_key(
                    site, key, session_only=self.session_only.isChecked()
                )
            except secrets.NoKeyringError as exc:
                self._ask_session_only(str(exc), site, key)
                return
            self._key_saved(where)
        elif site != self.controller.ctx.site:
            self.controller.use_site(site)
        self._save_settings(site)
        self.accept()

    def _key_saved(self, where: str) -> None:
        self.key_edit.clear()  # nothing keeps the key in a widget once it is stored
        if where == "keyring":
            text = self.tr("The key is saved in {place}.").format(place=secrets.keyring_name())
        else:
            text = self.tr("The key is kept for this session only.")
        self.controller.message.emit(text)

    def _ask_session_only(self, text: str, site: str, key: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("No keyring"),
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("noKeyringBox")

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Yes:
                self._key_saved(self.controller.set_key(site, key, session_only=True))
                self._save_settings(site)
                self.accept()

        box.finished.connect(answered)
        box.open()

    def _save_settings(self, site: str) -> None:
        c = self.controller
        s = c.ctx.settings
        old_language, old_theme = s.language, s.theme
        s.site = site
        s.name_template = self.template_edit.text()
        s.concurrency = self.concurrency.value()
        s.poll_seconds = round(self.poll.value(), 1)
        s.strip_gps = self.strip_gps.isChecked()
        s.language = str(self.language.currentData())
        s.theme = str(self.theme.currentData())
        new_library = self._library().resolve()
        old_library = c.ctx.paths.library.resolve()
        if new_library != old_library:
            s.library = str(new_library)
            if self.move_results.isChecked() and old_library.exists():
                self._move_library(old_library, new_library)
            else:
                self._use_library(new_library)
        try:
            s.save(c.ctx.paths.settings)
        except OSError as exc:
            c.message.emit(self.tr("Could not save the settings: {error}").format(error=exc))
        c.apply_settings()
        if s.theme != old_theme:
            apply_theme(s.theme)
        if s.language != old_language:
            self.language_changed.emit(s.language)
        self.applied.emit()

    def _use_library(self, folder: Path) -> None:
        c = self.controller
        folder.mkdir(parents=True, exist_ok=True)
        c.ctx.paths = replace(c.ctx.paths, library=folder)
        c.apply_settings()

    def _move_library(self, old: Path, new: Path) -> None:
        self._use_library(new)  # new results go to the new folder while the old ones move
        relocate_results(self.controller, old, new)


def relocate_results(controller, old: Path, new: Path) -> asyncio.Task:  # noqa: ANN001
    """Move the files off the event loop, then point the history at their new place. Nothing
    here refers to the dialog: it has closed long before a big folder has moved."""
    tr = QApplication.translate

    def moved(n: int) -> None:
        rows = controller.store.relocate_library(old, new)
        controller.tasks.reload()
        controller.message.emit(
            tr("SettingsDialog", "Moved {n} result files to {folder}.").format(n=n, folder=str(new))
        )
        log.info("results folder moved: %d files, %d history rows", n, rows)

    return controller.ops.start(
        asyncio.to_thread(move_results, old, new),
        title=tr("SettingsDialog", "Could not move the results"),
        on_done=moved,
    )


def open_settings(window: QWidget, *, sites: Mapping[str, str] | None = None) -> SettingsDialog:
    """Open the dialog over `window`; a language change rebuilds the window once it closes."""
    from PySide6.QtCore import QTimer

    dialog = SettingsDialog(window.controller, window, sites=sites)  # type: ignore[attr-defined]
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)

    def language_changed(setting: str) -> None:
        from rhdesk.i18n.switch import switch_language

        # After the dialog (a child of this window) has closed: the window is about to go.
        QTimer.singleShot(0, lambda: switch_language(window, setting))

    dialog.language_changed.connect(language_changed)
    dialog.open()
    return dialog
