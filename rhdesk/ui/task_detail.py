"""The detail of one task: every parameter, its inputs and results, timings, cost, the remote id
with the way to RunningHub's call record, any error in plain words, and what can be done next.

The pane shows a stored record; the panel owning it supplies the actions (one set of QActions
shared with the history's context menu and shortcuts) and re-shows it when the task changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rhdesk.api.sites import CALL_RECORD_HINT, call_record_url
from rhdesk.models.tasks import TaskRow, status_label
from rhdesk.models.thumbs import ThumbnailCache
from rhdesk.store import db as S
from rhdesk.store.db import TaskRecord

THUMB = 72
PathRole = Qt.ItemDataRole.UserRole + 10


class ThumbStrip(QListWidget):
    """A row of image thumbnails (inputs or results) with "set as before/after" on each."""

    def __init__(self, name: str, thumbs: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.thumbs = thumbs
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 10, THUMB + 10))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setStyleSheet("QListWidget { background: transparent; }")
        thumbs.ready.connect(self._thumb_ready)

    def set_paths(self, items: list[tuple[Path, str]]) -> None:
        self.clear()
        for path, tip in items:
            item = QListWidgetItem()
            item.setData(PathRole, path)
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, tip)
            item.setSizeHint(QSize(THUMB + 10, THUMB + 10))
            self.addItem(item)
            self._set_icon(item)
        self._fit_height()

    def paths(self) -> list[Path]:
        return [self.item(i).data(PathRole) for i in range(self.count())]

    def _set_icon(self, item: QListWidgetItem) -> None:
        path: Path = item.data(PathRole)
        if not path.exists():
            return
        img = self.thumbs.get(path, THUMB * 2)
        if img is not None and not img.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(img)))

    def _thumb_ready(self, path: str) -> None:
        for i in range(self.count()):
            item = self.item(i)
            if str(item.data(PathRole)) == path:
                self._set_icon(item)

    def _fit_height(self) -> None:
        # Tall enough for every thumbnail: the pane scrolls, not each strip.
        per_row = max(1, (self.viewport().width() or 300) // (THUMB + 10))
        rows = max(1, -(-self.count() // per_row))
        self.setFixedHeight(rows * (THUMB + 10) + 4)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._fit_height()


class TaskDetail(QScrollArea):
    compare_requested = Signal(str, object)  # "before" | "after", Path
    open_path_requested = Signal(object)  # Path
    reveal_path_requested = Signal(object)  # Path
    link_requested = Signal(str)  # a URL to open in the browser

    def __init__(
        self,
        thumbs: ThumbnailCache,
        fetch: Callable[[int], TaskRecord | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("taskDetail")
        self.setAccessibleName(self.tr("Task detail"))
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fetch = fetch
        self.task_id: int | None = None
        self.record: TaskRecord | None = None
        self._signature: tuple | None = None
        body = QWidget(self)
        body.setObjectName("taskDetailBody")
        self.setWidget(body)

        self.placeholder = QLabel(self.tr("Select a task to see its details."), body)
        self.placeholder.setObjectName("taskDetailPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.content = QWidget(body)
        self.status_label = QLabel(self.content)
        self.status_label.setObjectName("detailStatus")
        f = self.status_label.font()
        f.setBold(True)
        self.status_label.setFont(f)
        self.star_button = QToolButton(self.content)
        self.star_button.setObjectName("detailStar")
        self.star_button.setAutoRaise(True)
        self.prompt_label = QLabel(self.content)
        self.prompt_label.setObjectName("detailPrompt")
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # What went wrong or what is uncertain, and what to do about it.
        self.explain = QFrame(self.content)
        self.explain.setObjectName("taskExplanation")
        self.explain.setFrameShape(QFrame.Shape.StyledPanel)
        self.explain_label = QLabel(self.explain)
        self.explain_label.setObjectName("taskExplanationText")
        self.explain_label.setWordWrap(True)
        self.explain_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explain_check = QToolButton(self.explain)
        self.explain_check.setObjectName("explainCheckAgain")
        self.explain_run = QToolButton(self.explain)
        self.explain_run.setObjectName("explainRunAgain")
        xl = QVBoxLayout(self.explain)
        xl.setContentsMargins(8, 6, 8, 6)
        xl.addWidget(self.explain_label)
        xb = QHBoxLayout()
        xb.addWidget(self.explain_check)
        xb.addWidget(self.explain_run)
        xb.addStretch(1)
        xl.addLayout(xb)

        self.load_button = QToolButton(self.content)
        self.load_button.setObjectName("detailLoad")
        self.run_button = QToolButton(self.content)
        self.run_button.setObjectName("detailRunAgain")
        self.more_button = QToolButton(self.content)
        self.more_button.setObjectName("detailMore")
        self.more_button.setText(self.tr("More"))
        self.more_button.setAccessibleName(self.tr("More actions"))
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for b in (self.load_button, self.run_button, self.more_button):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        self.inputs_title = QLabel(self.content)
        self.inputs = ThumbStrip("detailInputs", thumbs, self.content)
        self.results_title = QLabel(self.content)
        self.results = ThumbStrip("detailResults", thumbs, self.content)
        self.results_note = QLabel(self.content)
        self.results_note.setObjectName("detailResultsNote")
        self.results_note.setWordWrap(True)
        for strip in (self.inputs, self.results):
            strip.customContextMenuRequested.connect(lambda pos, s=strip: self._thumb_menu(s, pos))
            strip.itemDoubleClicked.connect(
                lambda item: self.open_path_requested.emit(item.data(PathRole))
            )

        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("model", self.tr("Model")),
            ("size", self.tr("Size")),
            ("images", self.tr("Images")),
            ("created", self.tr("Created")),
            ("submitted", self.tr("Sent")),
            ("finished", self.tr("Finished")),
            ("duration", self.tr("Took")),
            ("cost", self.tr("Cost")),
            ("remote", self.tr("Task id")),
            ("record", self.tr("Call record")),
            ("note", self.tr("Note")),
        ):
            value = QLabel(self.content)
            value.setObjectName(f"detail_{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            self.form.addRow(label, value)
        record = self.fields["record"]
        record.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        record.setOpenExternalLinks(False)
        record.linkActivated.connect(self.link_requested.emit)

        head = QHBoxLayout()
        head.addWidget(self.status_label, 1)
        head.addWidget(self.star_button)
        actions = QHBoxLayout()
        actions.addWidget(self.load_button)
        actions.addWidget(self.run_button)
        actions.addStretch(1)
        actions.addWidget(self.more_button)
        cl = QVBoxLayout(self.content)
        cl.setContentsMargins(8, 6, 8, 8)
        cl.setSpacing(6)
        cl.addLayout(head)
        cl.addWidget(self.prompt_label)
        cl.addWidget(self.explain)
        cl.addLayout(actions)
        cl.addWidget(self.inputs_title)
        cl.addWidget(self.inputs)
        cl.addWidget(self.results_title)
        cl.addWidget(self.results)
        cl.addWidget(self.results_note)
        cl.addLayout(self.form)
        cl.addStretch(1)
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.placeholder, 1)
        bl.addWidget(self.content)
        for t in (self.inputs_title, self.results_title):
            tf = t.font()
            tf.setBold(True)
            t.setFont(tf)
        self.show_task(None)

    def set_actions(self, actions: dict[str, QAction]) -> None:
        self._actions = actions
        self.load_button.setDefaultAction(actions["loadAction"])
        self.run_button.setDefaultAction(actions["runAgainAction"])
        self.star_button.setDefaultAction(actions["starAction"])
        self.explain_check.setDefaultAction(actions["checkAgainAction"])
        self.explain_run.setDefaultAction(actions["runAgainAction"])
        menu = QMenu(self.more_button)
        menu.setObjectName("detailMoreMenu")
        for name in ("copyPromptAction", "copyDetailsAction", "noteAction", None,
                     "openResultAction", "revealAction", "exportAction", None, "deleteAction"):  # fmt: skip
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[name])
        self.more_button.setMenu(menu)
        self._update_star()
        actions["starAction"].changed.connect(self._update_star)

    def _update_star(self) -> None:
        # The star button shows a star, not the word: the action's text is its accessible name.
        if not hasattr(self, "_actions"):
            return
        a = self._actions["starAction"]
        starred = self.record is not None and self.record.starred
        self.star_button.setText("★" if starred else "☆")
        self.star_button.setToolTip(a.text() + " (Ctrl+D)")
        self.star_button.setAccessibleName(a.text())

    # -- content ------------------------------------------------------------------------------
    def show_task(self, task_id: int | None, record: TaskRecord | None = None) -> None:
        self.task_id = task_id
        if task_id is not None and record is None:
            record = self._fetch(task_id)
        self.record = record
        self._signature = None
        if record is None:
            self.task_id = None
            self.placeholder.show()
            self.content.hide()
            return
        self.placeholder.hide()
        self.content.show()
        self._fill(record)

    def refresh(self) -> None:
        if self.task_id is not None:
            self.show_task(self.task_id)

    def refresh_if_changed(self, row: TaskRow | None) -> None:
        if row is None:
            return
        sig = (row.status, tuple(row.results), row.remote_id, row.starred, row.user_note,
               row.error)  # fmt: skip
        if sig != self._signature:
            self.refresh()
            self._signature = sig

    def _fill(self, rec: TaskRecord) -> None:
        self.status_label.setText(self.tr("Task {id} · {status}").format(
            id=rec.id, status=status_label(rec.status)))  # fmt: skip
        self.prompt_label.setText(rec.prompt or self.tr("(no prompt)"))
        self._update_star()

        explanation = self.explanation(rec)
        self.explain.setVisible(bool(explanation))
        self.explain_label.setText(explanation)
        actions = getattr(self, "_actions", {})
        offer_check = rec.status in (S.UNKNOWN, S.GAVE_UP) and bool(rec.remote_id)
        offer_run = rec.status in (S.UNKNOWN, S.FAILED, S.CANCELLED) or self._expired(rec) > 0
        self.explain_check.setVisible(offer_check and bool(actions))
        # "Run again" sits right under the explanation already; a second one there was noise.
        self.explain_run.setVisible(False)
        self.offers_run_again = offer_run

        inputs = [(Path(i.local_path or i.source_path), self._input_tip(i)) for i in rec.inputs]
        self.inputs_title.setText(self.tr("Inputs ({n})").format(n=len(inputs)))
        self.inputs_title.setVisible(bool(inputs))
        self.inputs.setVisible(bool(inputs))
        self.inputs.set_paths(inputs)
        saved = [
            (
                Path(r.local_path),
                self.tr("Result {n} · {name}").format(n=r.idx + 1, name=Path(r.local_path).name),
            )  # fmt: skip
            for r in rec.results
            if r.state == S.RESULT_SAVED and r.local_path
        ]
        self.results_title.setText(self.tr("Results ({n})").format(n=len(saved)))
        self.results_title.setVisible(bool(saved))
        self.results.setVisible(bool(saved))
        self.results.set_paths(saved)
        notes = []
        missing = [p for p, _tip in saved if not p.exists()]
        if missing:
            notes.append(self.tr("{n} result file(s) are no longer on this computer.").format(
                n=len(missing)))  # fmt: skip
        for r in rec.results:
            if r.state == S.RESULT_PENDING and rec.status == S.SUCCEEDED:
                notes.append(self.tr("Result {n} is still being downloaded.").format(n=r.idx + 1))
            elif r.state == S.RESULT_FAILED:
                notes.append(self.tr("Result {n} could not be downloaded: {error}").format(
                    n=r.idx + 1, error=r.error or ""))  # fmt: skip
        self.results_note.setText("\n".join(notes))
        self.results_note.setVisible(bool(notes))

        fields = self.fields
        model = rec.spec.model
        fields["model"].setText(
            self.tr("{model} · edits images").format(model=model.label)
            if model.takes_images
            else self.tr("{model} · new image from the prompt").format(model=model.label)
        )
        fields["model"].setToolTip(rec.endpoint)
        fields["size"].setText(f"{rec.width} × {rec.height}")
        fields["images"].setText(
            self.tr("A related set, up to {n}").format(n=rec.max_images)
            if rec.sequential
            else self.tr("One image")
        )
        fields["created"].setText(_time(rec.created_at))
        fields["submitted"].setText(_time(rec.submitted_at) if rec.submitted_at else "—")
        fields["finished"].setText(_time(rec.finished_at) if rec.finished_at else "—")
        start = rec.submitted_at or rec.created_at
        fields["duration"].setText(_duration(rec.finished_at - start) if rec.finished_at else "—")
        fields["cost"].setText(self._cost(rec))
        fields["remote"].setText(rec.remote_id or self.tr("none (never reached RunningHub)"))
        url = call_record_url(rec.base_url) if rec.base_url else ""
        if url:
            fields["record"].setText(
                f'<a href="{url}">{self.tr("Open RunningHub")}</a><br>'
                f'<span style="color: palette(mid)">{self.tr(CALL_RECORD_HINT)}</span>'
            )
        else:
            fields["record"].setText("—")
        fields["note"].setText(rec.note or "—")

    def _cost(self, rec: TaskRecord) -> str:
        bits = []
        if rec.cost_money is not None:
            bits.append(f"¥{rec.cost_money:.2f}")
        if rec.cost_coins is not None:
            bits.append(self.tr("{n} coins").format(n=f"{rec.cost_coins:g}"))
        if bits:
            return " · ".join(bits)
        return self.tr("not charged") if rec.status == S.CANCELLED and not rec.remote_id else "—"

    def _input_tip(self, item) -> str:  # noqa: ANN001 - InputRecord
        tip = self.tr("Input {n} · {name}").format(n=item.idx + 1, name=Path(item.source_path).name)
        if item.width and item.height:
            tip += f" · {item.width}×{item.height}"
        return tip

    @staticmethod
    def _expired(rec: TaskRecord) -> int:
        return sum(1 for r in rec.results if r.state == S.RESULT_EXPIRED)

    def explanation(self, rec: TaskRecord) -> str:
        """Plain words for anything uncertain or wrong about a task ("" when all is well)."""
        parts: list[str] = []
        if rec.status == S.UNKNOWN:
            parts.append(self.tr(
                "It is not known whether RunningHub started this task: the connection broke "
                "while it was being sent. rhdesk never sends a task twice on its own. Check your "
                "call record on RunningHub ({where}) before running it again: if it is there, "
                "it ran and was charged."
            ).format(where=self.tr(CALL_RECORD_HINT)))  # fmt: skip
            if rec.remote_id:
                parts.append(self.tr("RunningHub did give it an id: Check again asks for it."))
        elif rec.status == S.GAVE_UP:
            parts.append(self.tr(
                "rhdesk stopped waiting for this task, but RunningHub may still be running it. "
                "Check again asks RunningHub for its state and saves the result if there is one."
            ))  # fmt: skip
        elif rec.status == S.FAILED:
            parts.append(rec.error_message or self.tr("The task failed."))
        elif rec.status == S.CANCELLED and rec.error_message:
            parts.append(rec.error_message)
        expired = self._expired(rec)
        if expired:
            parts.append(self.tr(
                "{n} result(s) expired before they could be downloaded: RunningHub keeps result "
                "links for about a day. Run the task again to get them."
            ).format(n=expired))  # fmt: skip
        return "\n\n".join(parts)

    # -- thumbnails ---------------------------------------------------------------------------
    def thumb_menu(self, strip: ThumbStrip, item: QListWidgetItem) -> QMenu:
        path: Path = item.data(PathRole)
        menu = QMenu(self)
        menu.setObjectName("thumbMenu")
        before = menu.addAction(self.tr("Set as before"))
        before.setObjectName("setBeforeAction")
        before.triggered.connect(lambda: self.compare_requested.emit("before", path))
        after = menu.addAction(self.tr("Set as after"))
        after.setObjectName("setAfterAction")
        after.triggered.connect(lambda: self.compare_requested.emit("after", path))
        menu.addSeparator()
        opened = menu.addAction(self.tr("Open"))
        opened.triggered.connect(lambda: self.open_path_requested.emit(path))
        reveal = menu.addAction(self.tr("Show in folder"))
        reveal.triggered.connect(lambda: self.reveal_path_requested.emit(path))
        for a in (before, after, opened, reveal):
            a.setEnabled(path.exists())
        return menu

    def _thumb_menu(self, strip: ThumbStrip, pos: QPoint) -> None:
        item = strip.itemAt(pos)
        if item is not None:
            self.thumb_menu(strip, item).popup(strip.viewport().mapToGlobal(pos))


def _time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
