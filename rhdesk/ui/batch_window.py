"""File → Batch…: one prompt over a folder of photos.

Three tabs in the order of the work: set up and check (nothing is sent until Start), progress
(every photo's state, pause, cancel, retry, reorder), and earlier batches (continue one that was
stopped). All file checking runs off the event loop; the window never waits on a photo.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSystemTrayIcon,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rhdesk.core.catalogue import DEFAULT_FAMILY, families, model_for
from rhdesk.jobs import batch as B
from rhdesk.models.batch import BatchItemsModel, BatchSession
from rhdesk.ui.size_picker import MATCH, SizePicker

log = logging.getLogger("rhdesk.ui.batch")


class _DropList(QListWidget):
    """A list of paths that takes files and folders dropped from a file manager."""

    def __init__(self, name: str, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(accessible)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def paths(self) -> list[Path]:
        return [Path(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())]

    def add_paths(self, paths: list[Path]) -> None:
        have = set(self.paths())
        for p in paths:
            if p not in have:
                item = QListWidgetItem(str(p))
                item.setData(Qt.ItemDataRole.UserRole, str(p))
                self.addItem(item)
                have.add(p)

    def remove_selected(self) -> None:
        for item in self.selectedItems():
            self.takeItem(self.row(item))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: ANN001 - QDragMoveEvent
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            event.ignore()
            return
        self.add_paths(paths)
        event.acceptProposedAction()


class BatchWindow(QDialog):
    def __init__(self, controller, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("batchWindow")
        self.setWindowTitle(self.tr("Batch retouch"))
        self.setModal(False)
        self.resize(900, 700)
        self.session: BatchSession | None = None
        self._plan: B.BatchPlan | None = None
        self._cost: B.CostEstimate | None = None
        self._checking: asyncio.Task | None = None
        self._tray: QSystemTrayIcon | None = None
        self._checked_sources: list[B.CheckedSource] = []
        self._conflict_answered = False
        self.last_notification: tuple[str, str] | None = None

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("batchTabs")
        self.tabs.addTab(self._build_setup(), self.tr("Set up"))
        self.tabs.addTab(self._build_progress(), self.tr("Progress"))
        self.tabs.addTab(self._build_batches(), self.tr("Batches"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(lambda i: self.refresh_batches() if i == 2 else None)
        self._model_changed()
        self._update_example()
        self._update_buttons()

    # -- building ---------------------------------------------------------------------------
    def _named(self, widget, name: str, accessible: str):  # noqa: ANN001, ANN202
        widget.setObjectName(name)
        widget.setAccessibleName(accessible)
        return widget

    def _build_setup(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.sources = _DropList("batchSources", self.tr("Photos and folders"), page)
        self.sources.setToolTip(self.tr("Drop folders or photos here"))
        self.sources.model().rowsInserted.connect(self._inputs_changed)
        self.sources.model().rowsRemoved.connect(self._inputs_changed)
        add_folder = self._named(QPushButton(self.tr("Add folder…")), "addFolderButton",
                                 self.tr("Add a folder of photos"))  # fmt: skip
        add_files = self._named(QPushButton(self.tr("Add photos…")), "addFilesButton",
                                self.tr("Add photos"))  # fmt: skip
        remove = self._named(QPushButton(self.tr("Remove")), "removeSourceButton",
                             self.tr("Remove the selected entries"))  # fmt: skip
        add_folder.clicked.connect(self._choose_folder)
        add_files.clicked.connect(self._choose_files)
        remove.clicked.connect(self.sources.remove_selected)
        self.recursive = self._named(QCheckBox(self.tr("Include subfolders")), "recursiveCheck",
                                     self.tr("Include subfolders"))  # fmt: skip
        self.recursive.setChecked(True)
        self.recursive.toggled.connect(self._inputs_changed)
        row = QHBoxLayout()
        for w in (add_folder, add_files, remove, self.recursive):
            row.addWidget(w)
        row.addStretch(1)
        box = QVBoxLayout()
        box.addWidget(self.sources)
        box.addLayout(row)
        form.addRow(self.tr("Photos:"), box)

        self.references = _DropList("batchReferences", self.tr("Reference images"), page)
        self.references.setMaximumHeight(70)
        self.references.setToolTip(
            self.tr("Given to every task after the photo (a style, a product shot); at most 9")
        )
        self.references.model().rowsInserted.connect(self._inputs_changed)
        self.references.model().rowsRemoved.connect(self._inputs_changed)
        add_ref = self._named(QPushButton(self.tr("Add…")), "addReferenceButton",
                              self.tr("Add a reference image"))  # fmt: skip
        rm_ref = self._named(QPushButton(self.tr("Remove")), "removeReferenceButton",
                             self.tr("Remove the selected reference"))  # fmt: skip
        add_ref.clicked.connect(self._choose_references)
        rm_ref.clicked.connect(self.references.remove_selected)
        ref_box = QHBoxLayout()
        ref_box.addWidget(self.references, 1)
        ref_col = QVBoxLayout()
        ref_col.addWidget(add_ref)
        ref_col.addWidget(rm_ref)
        ref_box.addLayout(ref_col)
        form.addRow(self.tr("References:"), ref_box)

        self.prompt = self._named(QPlainTextEdit(page), "batchPrompt", self.tr("Prompt"))
        self.prompt.setPlaceholderText(self.tr("What to change in every photo"))
        self.prompt.setMaximumHeight(90)
        self.prompt.textChanged.connect(self._inputs_changed)
        form.addRow(self.tr("Prompt:"), self.prompt)

        self.model_box = self._named(QComboBox(page), "batchModel", self.tr("Model"))
        for fam in families():
            m = model_for(fam, True)
            self.model_box.addItem(f"{m.label} · ¥{m.price_per_image_cny:.2f}", fam)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(DEFAULT_FAMILY)))
        self.model_box.currentIndexChanged.connect(self._model_changed)
        form.addRow(self.tr("Model:"), self.model_box)

        self.size_picker = SizePicker(page)
        self.size_picker.setObjectName("batchSize")
        self.size_picker.changed.connect(self._inputs_changed)
        self.size_picker.preset.currentIndexChanged.connect(self._inputs_changed)
        form.addRow(self.tr("Size:"), self.size_picker)

        self.out_edit = self._named(QLineEdit(page), "outputFolder", self.tr("Output folder"))
        self.out_edit.setText(str(self._default_out()))
        self.out_edit.textChanged.connect(self._inputs_changed)
        browse = self._named(QPushButton(self.tr("Choose…")), "chooseOutputButton",
                             self.tr("Choose the output folder"))  # fmt: skip
        browse.clicked.connect(self._choose_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        form.addRow(self.tr("Save to:"), out_row)

        self.template = self._named(QLineEdit(B.DEFAULT_TEMPLATE, page), "nameTemplate",
                                    self.tr("File-name template"))  # fmt: skip
        self.template.setToolTip(
            self.tr("Fields: {stem} {n} {ext} {model} {date} {time} {task} {prompt}")
        )
        self.template.textChanged.connect(self._update_example)
        self.template.textChanged.connect(self._inputs_changed)
        self.example = self._named(QLabel(page), "templateExample", self.tr("Example file name"))
        tpl_row = QHBoxLayout()
        tpl_row.addWidget(self.template, 1)
        tpl_row.addWidget(self.example, 1)
        form.addRow(self.tr("Names:"), tpl_row)

        self.concurrency = self._named(QSpinBox(page), "batchConcurrency",
                                       self.tr("Tasks at once"))  # fmt: skip
        self.concurrency.setRange(0, 50)
        self.concurrency.setSpecialValueText(self.tr("Account limit"))
        form.addRow(self.tr("At once:"), self.concurrency)

        self.check_button = self._named(QPushButton(self.tr("Check")), "checkButton",
                                        self.tr("Check every photo and the cost"))  # fmt: skip
        self.check_button.clicked.connect(self.check)
        self.start_button = self._named(QPushButton(self.tr("Start")), "startButton",
                                        self.tr("Start the batch"))  # fmt: skip
        self.start_button.clicked.connect(self.start)
        self.start_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.start_button)
        self.check_summary = self._named(QLabel(page), "checkSummary", self.tr("Check summary"))
        self.check_summary.setWordWrap(True)
        self.check_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_list = self._named(QListWidget(page), "checkList",
                                      self.tr("Photos that cannot be used"))  # fmt: skip
        self.check_list.setMaximumHeight(120)
        form.addRow(self.check_summary)
        form.addRow(self.check_list)
        form.addRow(buttons)
        return page

    def _build_progress(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.summary = self._named(QLabel(self.tr("No batch yet.")), "batchSummary",
                                   self.tr("Batch progress"))  # fmt: skip
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.items_model = BatchItemsModel(self)
        self.table = self._named(QTableView(page), "batchItems", self.tr("Photos in the batch"))
        self.table.setModel(self.items_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()

        def button(text: str, name: str, slot, tip: str) -> QPushButton:  # noqa: ANN001
            b = self._named(QPushButton(text), name, tip)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            row.addWidget(b)
            return b

        self.pause_button = button(self.tr("Pause"), "pauseButton", self._pause_or_resume,
                                   self.tr("Send no new photos; running ones finish"))  # fmt: skip
        self.cancel_pending_button = button(self.tr("Cancel waiting"), "cancelPendingButton",
                                            self._cancel_pending,
                                            self.tr("Cancel every photo not sent yet"))  # fmt: skip
        self.retry_button = button(self.tr("Retry failed"), "retryFailedButton",
                                   self._retry_failed, self.tr("Run failed photos again"))  # fmt: skip
        row.addSpacing(12)
        self.cancel_item_button = button(self.tr("Cancel"), "cancelItemButton",
                                         self._cancel_item, self.tr("Cancel the selected photo"))  # fmt: skip
        self.retry_item_button = button(self.tr("Retry"), "retryItemButton", self._retry_item,
                                        self.tr("Run the selected photo again"))  # fmt: skip
        self.up_button = button("↑", "moveUpButton", lambda: self._move(-1),
                                self.tr("Move the selected waiting photo up"))  # fmt: skip
        self.down_button = button("↓", "moveDownButton", lambda: self._move(1),
                                  self.tr("Move the selected waiting photo down"))  # fmt: skip
        row.addStretch(1)
        self.open_button = button(self.tr("Open output folder"), "openOutputButton",
                                  self._open_output, self.tr("Open the output folder"))  # fmt: skip
        layout.addLayout(row)
        return page

    def _build_batches(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.batch_list = self._named(QListWidget(page), "batchList", self.tr("Earlier batches"))
        self.batch_list.itemSelectionChanged.connect(self._update_buttons)
        self.batch_list.itemDoubleClicked.connect(lambda _i: self._show_selected_batch())
        layout.addWidget(self.batch_list, 1)
        row = QHBoxLayout()
        self.show_batch_button = self._named(QPushButton(self.tr("Show")), "showBatchButton",
                                             self.tr("Show the selected batch"))  # fmt: skip
        self.continue_button = self._named(QPushButton(self.tr("Continue")), "continueButton",
                                           self.tr("Continue the selected batch"))  # fmt: skip
        self.show_batch_button.clicked.connect(self._show_selected_batch)
        self.continue_button.clicked.connect(self._continue_selected_batch)
        row.addStretch(1)
        row.addWidget(self.show_batch_button)
        row.addWidget(self.continue_button)
        layout.addLayout(row)
        return page

    # -- setup ------------------------------------------------------------------------------
    def _default_out(self) -> Path:
        return self.controller.ctx.paths.library / f"Batch {datetime.now():%Y-%m-%d}"

    def current_model(self):  # noqa: ANN201
        return model_for(self.model_box.currentData() or DEFAULT_FAMILY, True)

    def _model_changed(self) -> None:
        self.size_picker.set_model(self.current_model())
        # The picker's "match first image" becomes "follow each photo" here: every photo's
        # own aspect ratio.
        i = self.size_picker.preset.findData(MATCH)
        if i >= 0:
            self.size_picker.preset.setItemText(i, self.tr("Follow each photo"))
        self._update_example()
        self._inputs_changed()

    def _update_example(self) -> None:
        try:
            name = B.example_name(self.template.text(), family=self.current_model().family)
            self.example.setText(self.tr("e.g. {name}").format(name=name))
            self.example.setStyleSheet("")
        except B.BatchSetupError as exc:
            self.example.setText(str(exc).split(";")[0])
            self.example.setStyleSheet("color: #d03030;")

    def _inputs_changed(self, *_args) -> None:  # noqa: ANN002
        # A check is only good for what was checked: any change asks for a new one.
        self._plan = None
        self._cost = None
        if hasattr(self, "start_button"):
            self._update_buttons()

    def settings(self) -> B.BatchSettings:
        size = None if self.size_picker.preset.currentData() == MATCH else self.size_picker.size()
        return B.BatchSettings(
            prompt=self.prompt.toPlainText().strip(),
            endpoint=self.current_model().endpoint,
            out_root=Path(self.out_edit.text().strip() or self._default_out()).expanduser(),
            size=size,
            references=tuple(self.references.paths()),
            template=self.template.text().strip() or B.DEFAULT_TEMPLATE,
            concurrency=self.concurrency.value() or None,
        )

    def _choose_folder(self) -> None:
        dialog = QFileDialog(self, self.tr("Choose a folder of photos"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(lambda p: self.sources.add_paths([Path(p)]))
        dialog.open()

    def _choose_files(self) -> None:
        dialog = QFileDialog(self, self.tr("Choose photos"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda ps: self.sources.add_paths([Path(p) for p in ps]))
        dialog.open()

    def _choose_references(self) -> None:
        dialog = QFileDialog(self, self.tr("Choose reference images"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda ps: self.references.add_paths([Path(p) for p in ps]))
        dialog.open()

    def _choose_out(self) -> None:
        dialog = QFileDialog(self, self.tr("Save results to"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(self.out_edit.setText)
        dialog.open()

    # -- check and start ----------------------------------------------------------------------
    def check(self) -> None:
        if self._checking is not None and not self._checking.done():
            return
        try:
            settings = self.settings()
            B.validate_settings(settings)
        except B.BatchSetupError as exc:
            self._show_check_problem(str(exc))
            return
        if not self.sources.count():
            self._show_check_problem(self.tr("Add a folder or some photos first."))
            return
        self._checking = self.controller.ops.start(
            self._check(settings, self.sources.paths(), self.recursive.isChecked()),
            title=self.tr("Could not check the photos"),
            on_done=self._checked,
        )
        self._update_buttons()

    async def _check(self, settings: B.BatchSettings, paths: list[Path], recursive: bool):  # noqa: ANN202
        loop = asyncio.get_running_loop()
        model = settings.model
        strip_gps = self.controller.ctx.settings.strip_gps
        self.check_summary.setText(self.tr("Looking for photos…"))
        collected = await loop.run_in_executor(
            None, lambda: B.collect_sources(paths, recursive=recursive)
        )
        if settings.references:
            problems = await B.check_references(settings.references, model, strip_gps=strip_gps)
            if problems:
                raise B.BatchSetupError(self.tr("Reference image: {p}").format(p=problems[0]))

        def progress(done: int, total: int) -> None:
            self.check_summary.setText(
                self.tr("Checking photos: {done} of {total}…").format(done=done, total=total)
            )

        checked = await B.check_sources(
            collected.sources, model, strip_gps=strip_gps, progress=progress
        )
        plan = await loop.run_in_executor(
            None, lambda: B.plan_batch(settings, checked, ignored=collected.ignored)
        )
        self._checked_sources = checked  # to plan again after the "results exist" question
        cost = None
        if self.controller.client is not None and plan.tasks:
            cost = await B.estimate_cost(
                self.controller.client, model, plan.tasks, plan.images, B.preview_body(plan)
            )
        return plan, cost

    def _checked(self, result) -> None:  # noqa: ANN001
        plan, cost = result
        self._plan, self._cost = plan, cost
        self.check_list.clear()
        for item in plan.unusable:
            entry = QListWidgetItem(f"✗ {item.rel}: {item.error}")
            entry.setToolTip(str(item.source))
            self.check_list.addItem(entry)
        lines = [
            self.tr(
                "{ok} photo(s) ready, {bad} cannot be used, {ign} other file(s) ignored."
            ).format(ok=plan.tasks, bad=len(plan.unusable), ign=plan.ignored)
        ]
        if plan.conflicts:
            lines.append(
                self.tr("{n} result(s) already exist in the output folder.").format(
                    n=len(plan.conflicts)
                )
            )
        if cost is not None:
            lines.append(cost.summary() + ".")
            if cost.shortfall():
                lines.append(cost.shortfall())
        elif plan.tasks and self.controller.client is None:
            lines.append(self.tr("Enter an API key or try demo mode to see the balance."))
        self.check_summary.setText("\n".join(lines))
        self._update_buttons()

    def _show_check_problem(self, text: str) -> None:
        self.check_summary.setText(text)
        self.check_list.clear()

    def start(self) -> None:
        if self._plan is None:
            self.check()
            return
        if self.controller.runner is None:
            self._warn(self.tr("Enter an API key or try demo mode first."))
            return
        plan = self._plan
        if not plan.tasks:
            self._warn(self.tr("No photo can be sent: see the list of problems."))
            return
        if self._cost is not None and self._cost.shortfall():
            self._warn(self._cost.shortfall() or "")
            return
        if plan.conflicts and not self._conflict_answered:
            self._ask_conflicts(plan)
            return
        self._conflict_answered = False
        store = self.controller.store
        batch_id = B.create_batch(store, plan)
        self._open_session(batch_id)
        assert self.session is not None
        self.session.start()
        self._plan = None
        self.tabs.setCurrentIndex(1)

    def _ask_conflicts(self, plan: B.BatchPlan) -> None:
        box = QMessageBox(self)
        box.setObjectName("conflictBox")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Results already exist"))
        box.setText(
            self.tr("{n} photo(s) already have a result in {folder}.").format(
                n=len(plan.conflicts), folder=plan.settings.out_root
            )
        )
        overwrite = box.addButton(self.tr("Overwrite"), QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton(self.tr("Keep both"), QMessageBox.ButtonRole.AcceptRole)
        skip = box.addButton(self.tr("Skip"), QMessageBox.ButtonRole.RejectRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        overwrite.setObjectName("overwriteButton")
        keep.setObjectName("keepBothButton")
        skip.setObjectName("skipButton")
        choices = {overwrite: B.OVERWRITE, keep: B.KEEP_BOTH, skip: B.SKIP}

        def answered(_result: int) -> None:
            policy = choices.get(box.clickedButton())
            if policy is None:
                return
            self._replan(plan, policy)

        box.finished.connect(answered)
        box.open()

    def _replan(self, plan: B.BatchPlan, policy: str) -> None:
        from dataclasses import replace

        settings = replace(plan.settings, conflict=policy)
        checked = self._checked_sources

        def done(new_plan: B.BatchPlan) -> None:
            self._plan = new_plan
            self._conflict_answered = True
            self.start()

        async def plan_again() -> B.BatchPlan:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, lambda: B.plan_batch(settings, checked, ignored=plan.ignored)
            )

        self.controller.ops.start(
            plan_again(), title=self.tr("Could not plan the batch"), on_done=done
        )

    # -- progress -----------------------------------------------------------------------------
    def _open_session(self, batch_id: str) -> None:
        if self.session is not None and self.session.batch_id == batch_id:
            return
        if self.session is not None and self.session.running:
            self._warn(self.tr("Another batch is running; pause it or let it finish first."))
            return
        runner = self.controller.runner
        if runner is None:
            self._warn(self.tr("Enter an API key or try demo mode first."))
            return
        session = BatchSession(self.controller.store, runner, batch_id, self.controller.ops, self)
        session.changed.connect(self._refresh_progress)
        session.finished.connect(self._batch_finished)
        session.paused.connect(self._batch_paused)
        session.message.connect(lambda text: self.summary.setToolTip(text))
        self.session = session
        self.items_model.set_session(session)
        self._refresh_progress()

    def _session_alive(self) -> bool:
        # After a shutdown or a switch of key/site the controller has another runner (or none)
        # and the store may be closed: the old session must not touch them any more.
        return self.session is not None and self.controller.runner is self.session.runner.runner

    def _refresh_progress(self) -> None:
        if not self._session_alive():
            return
        self.items_model.reload()
        p = self.session.progress()
        text = self.tr("{line}").format(line=p.line())
        if p.message:
            text += "\n" + p.message
        self.summary.setText(text)
        self._update_buttons()

    def _pause_or_resume(self) -> None:
        if self.session is None:
            return
        if self.session.running and not self.session.runner.paused:
            self.session.pause()
        else:
            self.session.start()
        self._refresh_progress()

    def _cancel_pending(self) -> None:
        if self.session is not None:
            self.session.cancel_pending()

    def _retry_failed(self) -> None:
        if self.session is not None:
            self.session.retry_failed()
            self._refresh_progress()

    def _selected_item(self):  # noqa: ANN202
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.items_model.item(rows[0].row()) if rows else None

    def _cancel_item(self) -> None:
        item = self._selected_item()
        if self.session is not None and item is not None:
            self.session.cancel_item(item.id)

    def _retry_item(self) -> None:
        item = self._selected_item()
        if self.session is None or item is None:
            return
        if item.state in (B.UNKNOWN, B.GAVE_UP):
            box = QMessageBox(
                QMessageBox.Icon.Warning, self.tr("Run again?"),
                self.tr("RunningHub may have run this photo already (and charged for it). "
                        "Check your call record first. Run it again anyway?"),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self,
            )  # fmt: skip
            box.setObjectName("retryUnknownBox")
            box.finished.connect(
                lambda r: (
                    self.session.retry_item(item.id)
                    if r == QMessageBox.StandardButton.Yes
                    else None
                )
            )
            box.open()
            return
        self.session.retry_item(item.id)
        self._refresh_progress()

    def _move(self, delta: int) -> None:
        item = self._selected_item()
        if self.session is None or item is None or not self.session.move(item.id, delta):
            return
        self.items_model.reload()
        row = self.items_model.row_of(item.id)
        self.table.selectRow(row)

    def _open_output(self) -> None:
        folder = self.session.out_root if self.session else Path(self.out_edit.text())
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _batch_finished(self, progress: B.BatchProgress) -> None:
        self._refresh_progress()
        title = self.tr("Batch finished")
        text = self.tr("{done} done, {failed} failed.").format(
            done=progress.done, failed=progress.failed
        )
        self.notify(title, text)

    def _batch_paused(self, message: str) -> None:
        self._refresh_progress()
        if message:
            self.notify(self.tr("Batch paused"), message)

    def notify(self, title: str, text: str) -> None:
        """A system notification, seen also when rhdesk is in the background."""
        self.last_notification = (title, text)
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                icon = QApplication.windowIcon()
                self._tray = QSystemTrayIcon(icon if not icon.isNull() else QIcon(), self)
                self._tray.setObjectName("batchTray")
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 10_000)
        QApplication.alert(self.window(), 0)  # taskbar flash / dock bounce when not active

    # -- earlier batches ----------------------------------------------------------------------
    def refresh_batches(self) -> None:
        if self.controller.runner is None and self.session is not None:
            return  # shutting down: the store is closing
        self.batch_list.clear()
        store = self.controller.store
        for b in store.list_batches(limit=100):
            p = B.batch_progress(store, b.id)
            running = (
                self.session is not None and self.session.batch_id == b.id and self.session.running
            )
            state = "running" if running else b.state
            if b.state == "running" and not running:
                state = "stopped"  # the app closed or crashed mid-batch
            when = datetime.fromtimestamp(b.created_at).strftime("%Y-%m-%d %H:%M")
            prompt = b.settings.get("prompt", "")
            prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
            text = f"{when} · {state} · {p.done}/{p.total} done, {p.failed} failed · {prompt}"
            entry = QListWidgetItem(text)
            entry.setData(Qt.ItemDataRole.UserRole, b.id)
            entry.setData(Qt.ItemDataRole.UserRole + 1, p.pending + p.running)
            self.batch_list.addItem(entry)
        self._update_buttons()

    def _selected_batch(self) -> str | None:
        items = self.batch_list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _show_selected_batch(self) -> None:
        batch_id = self._selected_batch()
        if batch_id:
            self._open_session(batch_id)
            self.tabs.setCurrentIndex(1)

    def _continue_selected_batch(self) -> None:
        batch_id = self._selected_batch()
        if not batch_id:
            return
        self._open_session(batch_id)
        if self.session is not None and self.session.batch_id == batch_id:
            self.session.start()
            self.tabs.setCurrentIndex(1)

    # -- state --------------------------------------------------------------------------------
    def _update_buttons(self, *_args) -> None:  # noqa: ANN002
        checking = self._checking is not None and not self._checking.done()
        self.check_button.setEnabled(not checking)
        self.start_button.setEnabled(
            not checking and self._plan is not None and self._plan.tasks > 0
        )
        s = self.session if self._session_alive() else None
        running = bool(s and s.running)
        paused = bool(s and s.runner.paused)
        p = s.progress() if s else None
        self.pause_button.setEnabled(bool(s) and (running or bool(p and p.pending)))
        self.pause_button.setText(self.tr("Pause") if running and not paused else self.tr("Resume"))
        self.cancel_pending_button.setEnabled(bool(p and p.pending))
        self.retry_button.setEnabled(bool(p and p.failed))
        item = self._selected_item()
        self.cancel_item_button.setEnabled(bool(item and item.state in (B.PENDING, B.ACTIVE)))
        self.retry_item_button.setEnabled(bool(item and item.state in B.RETRYABLE_STATES))
        movable = bool(item and item.state == B.PENDING)
        self.up_button.setEnabled(movable)
        self.down_button.setEnabled(movable)
        self.open_button.setEnabled(bool(s))
        selected = self.batch_list.selectedItems()
        self.show_batch_button.setEnabled(bool(selected))
        self.continue_button.setEnabled(
            bool(selected) and bool(selected[0].data(Qt.ItemDataRole.UserRole + 1))
        )

    def _warn(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Batch"), text,
                          QMessageBox.StandardButton.Ok, self)  # fmt: skip
        box.setObjectName("batchWarning")
        box.open()

    def closeEvent(self, event) -> None:  # noqa: ANN001
        # Closing the window does not stop a running batch: it carries on, and File → Batch…
        # shows it again. The app's own shutdown stops it (resumable from the batch list).
        super().closeEvent(event)
