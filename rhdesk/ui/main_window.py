"""The main window: inputs and prompt on the left, before/after in the middle, history on the right."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rhdesk.core.catalogue import DEFAULT_FAMILY, families, model_for
from rhdesk.core.task import TaskSpec
from rhdesk.core.validation import check_images, check_prompt, estimated_cost_cny
from rhdesk.jobs.events import TaskEvent
from rhdesk.models.controller import AppController
from rhdesk.models.thumbs import ThumbnailCache
from rhdesk.store import db as S
from rhdesk.ui.compare import CompareView
from rhdesk.ui.history import HistoryPanel
from rhdesk.ui.key_dialog import KeyDialog
from rhdesk.ui.prompt_edit import PromptEdit
from rhdesk.ui.size_picker import SizePicker
from rhdesk.ui.slots import SlotGrid
from rhdesk.ui.style import is_dark
from rhdesk.ui.workers import ImageWorker

log = logging.getLogger("rhdesk.ui")

DEFAULT_SIZE = (1440, 900)  # shrunk to the screen on smaller displays
PROMPT_MAX_LINES = 11


class MainWindow(QMainWindow):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.controller = controller
        self.setObjectName("mainWindow")
        self.setWindowTitle("rhdesk")
        self._shown_task: int | None = None
        self._pinned_before: Path | None = None  # chosen with "Set as before" in the history
        self._follow_task: int | None = None  # the newest task the user started: show it when done
        self._settings = QSettings(
            str(controller.ctx.paths.data_dir / "window.ini"), QSettings.Format.IniFormat
        )
        # thumbnails are kept on disk too: a big history is not decoded again at every start
        self.thumbs = ThumbnailCache(
            parent=self, disk_folder=controller.ctx.paths.data_dir / "thumbs"
        )

        # -- banner (demo mode / no key) ------------------------------------------------------
        self.banner = QFrame(self)
        self.banner.setObjectName("banner")
        self.banner_label = QLabel(self.banner)
        self.banner_label.setObjectName("bannerLabel")
        self.banner_label.setWordWrap(True)
        self.key_button = QPushButton(self.tr("Enter API key…"), self.banner)
        self.key_button.setObjectName("enterKeyButton")
        self.demo_button = QPushButton(self.tr("Try demo mode"), self.banner)
        self.demo_button.setObjectName("demoButton")
        self.key_button.setToolTip(self.tr("Enter your RunningHub API key; it is kept in the "
                                           "system keyring"))  # fmt: skip
        self.demo_button.setToolTip(self.tr("Use a built-in emulator: no key, no upload, no cost"))
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(12, 6, 12, 6)
        bl.addWidget(self.banner_label, 1)
        bl.addWidget(self.key_button)
        bl.addWidget(self.demo_button)
        self.key_button.clicked.connect(self.open_key_dialog)
        self.demo_button.clicked.connect(self.controller.start_demo)

        # -- left: inputs, prompt, model, size, run -------------------------------------------
        left = QWidget(self)
        left.setObjectName("inputsPanel")
        self.worker = ImageWorker(self)
        self.slots = SlotGrid(controller.ctx.paths.scratch, self.worker, left)
        self.prompt = PromptEdit(left)
        self.model_picker = QComboBox(left)
        self.model_picker.setObjectName("modelPicker")
        self.model_picker.setAccessibleName(self.tr("Model"))
        self.model_picker.setToolTip(self.tr("Seedream model. With images in the slots it edits them; "
                                             "without, it makes a new picture from the prompt."))  # fmt: skip
        for fam in families():
            self.model_picker.addItem(model_for(fam, True).label, fam)
        self.kind_label = QLabel(left)
        self.kind_label.setObjectName("kindLabel")
        self.kind_label.setToolTip(self.tr("Images in the slots are edited; with no images the "
                                           "model makes a new picture from the prompt"))  # fmt: skip
        # not `self.size`: that would hide QWidget.size() and break anything measuring the window
        self.size_picker = SizePicker(left)
        self.sequential = QCheckBox(self.tr("Several related images"), left)
        self.sequential.setObjectName("sequentialCheck")
        self.sequential.setToolTip(self.tr("Sequential generation: the model may return a set of "
                                           "related images, up to the maximum"))  # fmt: skip
        self.max_images = QSpinBox(left)
        self.max_images.setObjectName("maxImagesSpin")
        self.max_images.setAccessibleName(self.tr("Maximum number of images"))
        self.max_images.setRange(1, 15)
        self.max_images.setValue(4)
        self.max_images.setEnabled(False)
        self.max_images.setToolTip(self.tr("At most this many images in one sequential run"))
        self.run_button = QPushButton(self.tr("Run"), left)
        self.run_button.setObjectName("runButton")
        self.run_button.setAccessibleName(self.tr("Run"))
        self.run_button.setDefault(True)
        self.run_button.setMinimumHeight(36)
        self.cost_label = QLabel(left)
        self.cost_label.setObjectName("costLabel")
        self.cost_label.setToolTip(
            self.tr("Estimated from RunningHub's public price list; prices change.")
        )
        self.why_label = QLabel(left)
        self.why_label.setObjectName("whyLabel")
        self.why_label.setWordWrap(True)
        self.why_label.setStyleSheet("color: palette(mid);")

        model_row = QHBoxLayout()
        model_row.addWidget(self.model_picker, 1)
        model_row.addWidget(self.kind_label)
        seq_row = QHBoxLayout()
        seq_row.addWidget(self.sequential)
        seq_row.addWidget(self.max_images)
        seq_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        model_label = QLabel(self.tr("&Model"), left)
        model_label.setBuddy(self.model_picker)
        size_label = QLabel(self.tr("&Size"), left)
        size_label.setBuddy(self.size_picker.preset)
        form.addRow(model_label, model_row)
        form.addRow(size_label, self.size_picker)
        form.addRow("", seq_row)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cost_label)
        # The prompt gets a sensible share (a few sentences), not all the height the slots leave:
        # a tall empty editor pushed Run far from the images it acts on.
        line = self.prompt.fontMetrics().lineSpacing()
        self.prompt.edit.setMaximumHeight(line * PROMPT_MAX_LINES + 12)
        below = self.prompt.recent_button.sizeHint().height() + self.prompt.layout().spacing()
        self.prompt.setMaximumHeight(self.prompt.edit.maximumHeight() + below)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(10, 10, 10, 10)
        ll.setSpacing(8)
        ll.addWidget(self.slots)
        ll.addSpacing(4)
        ll.addWidget(self.prompt, 1)
        ll.addSpacing(4)
        ll.addLayout(form)
        ll.addLayout(run_row)
        ll.addWidget(self.why_label)
        ll.addStretch(0)

        # -- centre and right -----------------------------------------------------------------
        self.compare = CompareView(self.worker, self)
        self.history = HistoryPanel(controller.tasks, self.thumbs, self)
        self.history.setMinimumWidth(240)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.compare)
        self.splitter.addWidget(self.history)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([420, 640, 370])  # the left side takes its minimum width
        central = QWidget(self)
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # -- status bar -----------------------------------------------------------------------
        self.mode_label = QLabel(self)
        self.mode_label.setObjectName("modeLabel")
        self.counts_label = QLabel(self)
        self.counts_label.setObjectName("countsLabel")
        self.balance_label = QLabel(self)
        self.balance_label.setObjectName("balanceLabel")
        self.statusBar().addWidget(self.mode_label)
        self.statusBar().addWidget(self.counts_label)
        self.statusBar().addPermanentWidget(self.balance_label)

        self._build_menus()

        # -- wiring ---------------------------------------------------------------------------
        self.slots.changed.connect(self._form_changed)
        self.slots.info_ready.connect(lambda _i: self._form_changed())
        self.slots.message.connect(self.show_message)
        self.prompt.text_changed.connect(lambda _t: self._form_changed())
        self.prompt.run_requested.connect(self.run)
        self.model_picker.currentIndexChanged.connect(self._model_changed)
        self.size_picker.changed.connect(self._form_changed)
        self.sequential.toggled.connect(self.max_images.setEnabled)
        self.sequential.toggled.connect(lambda _on: self._form_changed())
        self.max_images.valueChanged.connect(lambda _v: self._form_changed())
        self.run_button.clicked.connect(self.run)
        self.history.task_selected.connect(self.show_task)
        self.history.stop_requested.connect(self.controller.cancel)
        self.history.check_again_requested.connect(self.controller.check_again)
        self.history.open_folder_requested.connect(self._open_task_folder)
        self.history.load_requested.connect(self.load_task)
        self.history.run_again_requested.connect(self.controller.run_again)
        self.history.compare_before_requested.connect(self._pin_before)
        self.history.compare_after_requested.connect(lambda p: self.compare.set_results([p]))
        self.history.message.connect(self.show_message)
        self.compare.save_requested.connect(self._save_result)
        self.compare.open_folder_requested.connect(lambda: self._open_task_folder(self._shown_task))
        controller.task_event.connect(self._on_task_event)
        controller.task_started.connect(self._on_task_started)
        controller.connection_changed.connect(self._update_mode)
        controller.account_changed.connect(self._update_account)
        controller.message.connect(self.show_message)
        controller.ops.failed.connect(self.show_error)
        controller.tasks.dataChanged.connect(lambda *_: self._update_counts())
        controller.tasks.rowsInserted.connect(lambda *_: self._update_counts())

        self.prompt.set_recent(controller.ctx.settings.recent_prompts or [])
        fam = controller.ctx.settings.model_family or DEFAULT_FAMILY
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(fam)))
        self._model_changed()
        self._update_mode()
        self._update_counts()
        self._restore_geometry()
        self._set_tab_order()

    # -- menus ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        def action(menu, text, slot, shortcut=None, name=None, tip=None) -> QAction:
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if name:
                a.setObjectName(name)
            if tip:
                a.setToolTip(tip)
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        mb = self.menuBar()
        f = mb.addMenu(self.tr("&File"))
        action(
            f,
            self.tr("&Open images…"),
            self._browse_images,
            QKeySequence.StandardKey.Open,
            "openAction",
        )
        action(f, self.tr("&Paste image"), lambda: self.slots.paste(), None, "pasteAction")
        action(
            f, self.tr("&Clear images"), self.slots.clear_all, "Ctrl+Shift+Backspace", "clearAction"
        )
        action(f, self.tr("&Batch…"), self.open_batch_window, "Ctrl+B", "batchAction",
               self.tr("One prompt over a folder of photos"))  # fmt: skip
        f.addSeparator()
        action(f, self.tr("Open &results folder"), self._open_library, None, "openLibraryAction")
        f.addSeparator()
        action(f, self.tr("&Quit"), self.close, QKeySequence.StandardKey.Quit, "quitAction")
        e = mb.addMenu(self.tr("&Edit"))
        action(e, self.tr("&Settings…"), self.open_settings, "Ctrl+,", "settingsAction")
        t = mb.addMenu(self.tr("&Task"))
        self.run_action = action(t, self.tr("&Run"), self.run, "Ctrl+R", "runAction")
        action(t, self.tr("&Stop selected task"), lambda: self._for_selected(self.controller.cancel), None,
               "stopAction")  # fmt: skip
        a = mb.addMenu(self.tr("&Account"))
        action(a, self.tr("API &key…"), self.open_key_dialog, None, "keyAction")
        action(
            a, self.tr("&Refresh balance"), self.controller.refresh_account, "F5", "refreshAction"
        )
        action(a, self.tr("Try &demo mode"), self.controller.start_demo, None, "demoAction")
        h = mb.addMenu(self.tr("&Help"))
        action(h, self.tr("Copy &diagnostics"), self.copy_diagnostics, None, "diagnosticsAction",
               self.tr("Copy versions, settings (no key) and recent log lines for a support request"))  # fmt: skip
        action(h, self.tr("&About rhdesk"), self._about, None, "aboutAction")

    def _set_tab_order(self) -> None:
        chain = [self.slots.slot(i) for i in range(10)] + [
            self.prompt.edit,
            self.model_picker, self.size_picker.preset, self.size_picker.width_spin, self.size_picker.height_spin,
            self.sequential, self.max_images, self.run_button, self.compare, self.history.view,
            self.history.stop_button, self.history.check_button,
        ]  # fmt: skip
        for a, b in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(a, b)

    # -- form -------------------------------------------------------------------------------
    def current_model(self):
        return model_for(
            self.model_picker.currentData() or DEFAULT_FAMILY, bool(self.slots.paths())
        )

    def _model_changed(self) -> None:
        model = self.current_model()
        self.prompt.set_limits(model.prompt_min, model.prompt_max)
        self.size_picker.set_model(model)
        self.controller.ctx.settings.model_family = model.family
        self._form_changed()

    def _form_changed(self) -> None:
        model = self.current_model()
        if self.size_picker._model is None or self.size_picker._model.endpoint != model.endpoint:
            self.size_picker.set_model(model)
            return  # set_model emits changed, which brings us back here
        info = self.slots.slot_info(0) if self.slots.paths() else None
        self.size_picker.set_first_image_size((info.width, info.height) if info else None)
        self.kind_label.setText(
            self.tr("edits images") if model.takes_images else self.tr("text to image")
        )
        self.max_images.setMaximum(model.max_images)
        reasons = self.blocking_reasons()
        self.run_button.setEnabled(not reasons)
        self.run_action.setEnabled(not reasons)
        self.why_label.setText("\n".join(reasons))
        self.why_label.setVisible(bool(reasons))
        cost = estimated_cost_cny(model, self.max_images.value(), self.sequential.isChecked())
        self.cost_label.setText(
            f"≈ ¥{cost:.2f}" + (self.tr(" (demo: free)") if self.controller.demo else "")
        )
        self.run_button.setToolTip("\n".join(reasons) if reasons else self.tr("Run (Ctrl+Enter)"))

    def blocking_reasons(self) -> list[str]:
        model = self.current_model()
        reasons = [p.message for p in check_prompt(model, self.prompt.text())]
        if not self.prompt.text().strip():
            reasons = [self.tr("Write what to change (or what to make) in the prompt.")]
        reasons += [p.message for p in self.size_picker.problems()]
        reasons += [
            p.message
            for p in check_images(
                model, len(self.slots.paths()), self.max_images.value(), self.sequential.isChecked()
            )
            if p.field != "images" or self.slots.paths()
        ]
        for i, problem in sorted(self.slots.problems().items()):
            reasons.append(self.tr("Image {n}: {problem}").format(n=i + 1, problem=problem))
        if self.slots.is_loading():
            reasons.append(self.tr("Reading images…"))
        return reasons

    def snapshot(self) -> TaskSpec:
        model = self.current_model()
        w, h = self.size_picker.size()
        return TaskSpec(
            endpoint=model.endpoint,
            prompt=self.prompt.text().strip(),
            width=w,
            height=h,
            inputs=[Path(p).resolve() for p in self.slots.paths()],
            max_images=self.max_images.value() if self.sequential.isChecked() else 1,
            sequential=self.sequential.isChecked(),
        )

    def run(self) -> None:
        if self.blocking_reasons():
            self._form_changed()
            return
        if not self.controller.ready:
            self.open_key_dialog()
            return
        spec = self.snapshot()
        if not self.controller.demo and not getattr(self, "_run_despite_balance", False):
            from rhdesk.account import low_balance_warning
            from rhdesk.ui.support import confirm_low_balance

            cost = estimated_cost_cny(self.current_model(), spec.max_images, spec.sequential)
            if warning := low_balance_warning(self.controller.account, cost):
                confirm_low_balance(self, warning, self._run_anyway)
                return
        self._run_despite_balance = False
        self.controller.ctx.settings.remember_prompt(spec.prompt)
        self.prompt.set_recent(self.controller.ctx.settings.recent_prompts or [])
        self._save_settings()
        self.controller.run(spec)
        self.statusBar().showMessage(self.tr("Task started; you can prepare the next one."), 4000)

    def _run_anyway(self) -> None:
        self._run_despite_balance = True
        self.run()

    # -- tasks ------------------------------------------------------------------------------
    def _on_task_started(self, task_id: int) -> None:
        self._pinned_before = None
        self._follow_task = task_id
        self.history.select_task(task_id)

    def _on_task_event(self, ev: TaskEvent) -> None:
        if ev.final and ev.task_id == self._follow_task and ev.status == S.SUCCEEDED:
            self.history.select_task(ev.task_id)
            self.show_task(ev.task_id)
        elif ev.final and ev.task_id == self._shown_task:
            self.show_task(ev.task_id)
        if ev.final and ev.status in (S.FAILED, S.UNKNOWN) and ev.task_id == self._follow_task:
            self.statusBar().showMessage(self.tr("Task {id} {status}: {error}").format(
                id=ev.task_id, status=ev.status, error=ev.error or ""), 10000)  # fmt: skip
        if ev.final:
            self.controller.refresh_account()

    def show_task(self, task_id: int) -> None:
        row = self.controller.tasks.task(task_id)
        if row is None:
            return
        self._shown_task = task_id
        before = self._pinned_before or (row.inputs[0] if row.inputs else None)
        self.compare.set_before(before)
        self.compare.set_results(list(row.results))

    def _pin_before(self, path: Path) -> None:
        # "Set as before" from the history: kept while other tasks are looked at, so any two
        # images (from different tasks too) can be compared; running a new task unpins it.
        self._pinned_before = path
        self.compare.set_before(path)

    def load_task(self, task_id: int) -> bool:
        """Put a task from the history back into the editor exactly: its inputs (the local
        copies rhdesk made), prompt, model, size, and sequential images with their maximum."""
        rec = self.controller.tasks.record(task_id)
        if rec is None:
            return False
        inputs = []
        for item in rec.inputs:
            copy = Path(item.local_path) if item.local_path else None
            inputs.append(copy if copy and copy.exists() else Path(item.source_path))
        missing = [p.name for p in inputs if not p.exists()]
        model = rec.spec.model
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(model.family)))
        if inputs:
            self.slots.set_paths(inputs)
        else:
            self.slots.clear_all()
        self.prompt.set_text(rec.prompt)
        self.sequential.setChecked(rec.sequential)
        self.max_images.setValue(rec.max_images if rec.sequential else self.max_images.value())
        self._model_changed()  # the model kind follows the slots; then the size is set exactly
        self.size_picker.set_size(rec.width, rec.height)
        self.size_picker._chosen_by_user = True  # kept when the slots finish loading
        self._form_changed()
        if missing:
            self.show_message(self.tr("Not on this computer any more: {names}").format(
                names=", ".join(missing)))  # fmt: skip
        else:
            self.show_message(self.tr("Task {id} loaded into the editor.").format(id=task_id))
        return True

    def _for_selected(self, fn) -> None:
        row = self.history.current_task()
        if row:
            fn(row.id)

    def _open_task_folder(self, task_id: int | None) -> None:
        row = self.controller.tasks.task(task_id) if task_id else None
        folder = row.results[0].parent if row and row.results else self.controller.ctx.paths.library
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _open_library(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.controller.ctx.paths.library)))

    def _save_result(self, index: int) -> None:
        row = self.controller.tasks.task(self._shown_task) if self._shown_task else None
        if not row or not 0 <= index < len(row.results):
            return
        src = row.results[index]
        dialog = QFileDialog(self, self.tr("Save result as"), str(Path.home() / src.name))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setObjectName("saveDialog")

        def chosen(path: str) -> None:
            import shutil

            try:
                shutil.copy2(src, path)
            except OSError as exc:
                self.show_error(self.tr("Could not save"), str(exc))
            else:
                self.statusBar().showMessage(self.tr("Saved {path}").format(path=path), 5000)

        dialog.fileSelected.connect(chosen)
        dialog.open()

    def _browse_images(self) -> None:
        self.slots.browse(len(self.slots.paths()) if len(self.slots.paths()) < 10 else 0)

    # -- connection, account ----------------------------------------------------------------
    def _update_mode(self) -> None:
        c = self.controller
        if c.demo:
            self.banner_label.setText(self.tr(
                "Demo mode: a built-in RunningHub emulator makes the results on this computer. "
                "Nothing is uploaded and nothing costs money."))  # fmt: skip
            self.banner.setStyleSheet(
                "#banner { background: #4a3b12; } #bannerLabel { color: #ffe8a8; }"
                if is_dark(self.palette())
                else "#banner { background: #fff4d6; } #bannerLabel { color: #5a4300; }"
            )
            self.banner.show()
            self.demo_button.hide()
            self.key_button.setText(self.tr("Use my API key…"))
            self.mode_label.setText(self.tr("Demo mode"))
        elif not c.ready:
            self.banner_label.setText(self.tr(
                "No RunningHub API key yet. Enter your key to edit images with your account, "
                "or try everything first in demo mode."))  # fmt: skip
            self.banner.setStyleSheet(
                "#banner { background: #16304f; } #bannerLabel { color: #cfe3ff; }"
                if is_dark(self.palette())
                else "#banner { background: #e4efff; } #bannerLabel { color: #123c73; }"
            )
            self.banner.show()
            self.demo_button.show()
            self.key_button.setText(self.tr("Enter API key…"))
            self.mode_label.setText(self.tr("Not connected"))
        else:
            self.banner.hide()
            site = {"cn": "runninghub.cn", "ai": "runninghub.ai"}.get(c.ctx.site, c.ctx.site)
            self.mode_label.setText(site)
        self.setWindowTitle(self.tr("rhdesk — demo") if c.demo else "rhdesk")
        self._form_changed()

    def _update_account(self, account) -> None:
        if account is None:
            self.balance_label.setText(
                self.tr("Balance unavailable") if self.controller.ready else ""
            )
            return
        from rhdesk.account import balance_text

        self.balance_label.setText(balance_text(account))
        self._update_counts()  # the account's queue came with it

    def _update_counts(self) -> None:
        from rhdesk.account import counts_text

        rows = self.controller.tasks.active_rows()
        running = sum(1 for r in rows if r.status == S.RUNNING)
        queued = sum(1 for r in rows if r.status == S.QUEUED)
        other = len(rows) - running - queued
        # Ours or the account's (the same key may be busy elsewhere), whichever is larger.
        counts = counts_text(running, queued, getattr(self.controller, "queue", None))
        bits = [counts] if counts else []
        if other:
            bits.append(self.tr("{n} starting").format(n=other))
        self.counts_label.setText(" · ".join(bits))

    def open_key_dialog(self) -> None:
        dialog = KeyDialog(self.controller.ctx.site, self)

        def accepted() -> None:
            site, key, session_only = dialog.values()
            try:
                where = self.controller.set_key(site, key, session_only=session_only)
            except RuntimeError as exc:
                ask = QMessageBox(QMessageBox.Icon.Question, self.tr("No keyring"), str(exc),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)  # fmt: skip
                ask.setObjectName("noKeyringBox")

                def answered(button: int) -> None:
                    if button == QMessageBox.StandardButton.Yes:
                        self.controller.set_key(site, key, session_only=True)

                ask.finished.connect(answered)
                ask.open()
                return
            self.statusBar().showMessage(
                self.tr("Key saved in the system keyring.") if where == "keyring"
                else self.tr("Key kept for this session only."), 5000)  # fmt: skip

        dialog.accepted.connect(accepted)
        dialog.open()

    # -- settings, support, language switch (rhdesk.ui.settings_dialog, rhdesk.i18n.switch) --
    def open_settings(self) -> None:
        from rhdesk.ui.settings_dialog import open_settings

        open_settings(self)

    def copy_diagnostics(self) -> None:
        from rhdesk.ui.support import copy_diagnostics

        copy_diagnostics(self)
        self.statusBar().showMessage(
            self.tr("Diagnostics copied to the clipboard (without the key or your prompts)."), 6000
        )

    def capture_state(self) -> dict:
        """What a rebuilt window (after a language switch) must show as this one did."""
        row = self.history.current_task()
        return {
            "paths": [str(p) for p in self.slots.paths()],
            "prompt": self.prompt.text(),
            "family": self.model_picker.currentData(),
            "preset": self.size_picker.preset.currentData(),
            "size": self.size_picker.size(),
            "sequential": self.sequential.isChecked(),
            "max_images": self.max_images.value(),
            "splitter": self.splitter.saveState(),
            "task": row.id if row else self._shown_task,
            "follow": self._follow_task,
        }

    def restore_state(self, state: dict) -> None:
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(state["family"])))
        if state["paths"]:
            self.slots.set_paths([Path(p) for p in state["paths"]])
        self.prompt.set_text(state["prompt"])
        self.sequential.setChecked(state["sequential"])
        self.max_images.setValue(state["max_images"])
        i = self.size_picker.preset.findData(state["preset"])
        if state["preset"] == "custom" or i < 0:
            self.size_picker.set_size(*state["size"])
        else:
            self.size_picker.preset.setCurrentIndex(i)
            self.size_picker._chosen_by_user = True  # a choice, not the model's default
        self.splitter.restoreState(state["splitter"])
        self._follow_task = state["follow"]
        if state["task"] is not None:
            self.history.select_task(state["task"])
            self.show_task(state["task"])
        self._form_changed()

    # -- messages ---------------------------------------------------------------------------
    def open_batch_window(self) -> None:
        from rhdesk.ui.batch_window import BatchWindow  # loaded on first use

        if getattr(self, "batch_window", None) is None:
            self.batch_window = BatchWindow(self.controller, self)
        self.batch_window.show()
        self.batch_window.raise_()
        self.batch_window.activateWindow()

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_error(self, title: str, message: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("errorBox")
        box.open()

    def _about(self) -> None:
        from rhdesk.ui.about import AboutDialog  # versions and licences of what we bundle

        AboutDialog(self).open()

    # -- persistence ------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        # The client rectangle, not saveGeometry(): restoreGeometry() before the first show has
        # to guess the frame margins and the window creeps by a few pixels at every start.
        rect = self._settings.value("window/rect")
        screens = [s.availableGeometry() for s in QGuiApplication.screens()]
        if (
            isinstance(rect, QRect)
            and rect.width() >= 200
            and rect.height() >= 150
            and any(g.intersected(rect).width() >= 100 for g in screens)
        ):
            self.setGeometry(rect)
        else:
            avail = screens[0] if screens else QRect(0, 0, DEFAULT_SIZE[0], DEFAULT_SIZE[1])
            self.resize(min(DEFAULT_SIZE[0], avail.width()), min(DEFAULT_SIZE[1], avail.height()))
        if str(self._settings.value("window/maximized", "false")).lower() == "true":
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
        split = self._settings.value("splitter")
        if isinstance(split, QByteArray) and not split.isEmpty():
            self.splitter.restoreState(split)

    def _save_settings(self) -> None:
        try:
            self.controller.ctx.settings.save(self.controller.ctx.paths.settings)
        except OSError as exc:
            log.warning("could not save settings: %s", exc)

    def closeEvent(self, event) -> None:  # noqa: ANN001
        maximized = self.isMaximized() or self.isFullScreen()
        self._settings.setValue(
            "window/rect", self.normalGeometry() if maximized else self.geometry()
        )
        self._settings.setValue("window/maximized", maximized)
        self._settings.setValue("splitter", self.splitter.saveState())
        self._settings.sync()
        self._save_settings()
        self.thumbs.shutdown()
        self.worker.shutdown(wait=False)
        super().closeEvent(event)
