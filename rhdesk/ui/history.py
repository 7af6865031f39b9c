"""The history panel: every task, newest first, with thumbnail, prompt, model, size, status, time."""

from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from rhdesk.models.tasks import IdRole, RowRole, TaskListModel, TaskRow
from rhdesk.models.thumbs import ThumbnailCache
from rhdesk.store import db as S

THUMB = 64
ROW_H = 84

STATUS_COLOURS = {
    S.SUCCEEDED: QColor("#2e9d57"),
    S.FAILED: QColor("#d03030"),
    S.UNKNOWN: QColor("#d98a00"),
    S.GAVE_UP: QColor("#d98a00"),
    S.CANCELLED: QColor("#888888"),
}


class TaskDelegate(QStyledItemDelegate):
    def __init__(self, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(260, ROW_H)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: TaskRow = index.data(RowRole)
        if row is None:
            return
        p.save()
        style = option.widget.style() if option.widget else None
        if style:
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, option, p, option.widget
            )
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        text_col = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = QColor(text_col)
        dim.setAlpha(160)
        r = option.rect.adjusted(8, 8, -8, -8)
        # thumbnail: first result, else the main input
        thumb_rect = QRect(r.left(), r.top() + (r.height() - THUMB) // 2, THUMB, THUMB)
        src = row.results[0] if row.results else (row.inputs[0] if row.inputs else None)
        img = self.thumbs.get(src, THUMB * 2) if src else None
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if img is not None and not img.isNull():
            scaled = img.size().scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(thumb_rect.center())
            p.drawImage(target, img)
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            p.drawRoundedRect(thumb_rect, 6, 6)
            p.setPen(dim)
            p.drawText(thumb_rect, Qt.AlignmentFlag.AlignCenter, "T" if not row.inputs else "…")
        x = thumb_rect.right() + 10
        text_rect = QRect(x, r.top(), r.right() - x, r.height())
        f = QFont(option.font)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.88))
        fm = QFontMetrics(f)
        # line 1: prompt excerpt ... time
        when = _when(row.created_at)
        p.setFont(small)
        tw = QFontMetrics(small).horizontalAdvance(when)
        p.setPen(dim)
        p.drawText(QRect(text_rect.right() - tw, text_rect.top(), tw, fm.height()), 0, when)
        p.setFont(f)
        p.setPen(text_col)
        prompt = fm.elidedText(
            " ".join(row.prompt.split()), Qt.TextElideMode.ElideRight, text_rect.width() - tw - 8
        )
        p.drawText(
            QRect(text_rect.left(), text_rect.top(), text_rect.width() - tw - 8, fm.height()),
            0,
            prompt,
        )
        # line 2: model · size
        p.setFont(small)
        sfm = QFontMetrics(small)
        y = text_rect.top() + fm.height() + 3
        meta = f"{row.model_label} · {row.width}×{row.height}"
        if row.demo:
            meta += " · demo"
        p.setPen(dim)
        p.drawText(QRect(text_rect.left(), y, text_rect.width(), sfm.height()), 0,
                   sfm.elidedText(meta, Qt.TextElideMode.ElideRight, text_rect.width()))  # fmt: skip
        # line 3: status (colour) / progress
        y += sfm.height() + 4
        colour = STATUS_COLOURS.get(row.status, pal.color(QPalette.ColorRole.Highlight))
        if selected and row.status not in STATUS_COLOURS:
            colour = text_col
        status_text = row.stage_text()
        p.setPen(QPen(colour))
        bold = QFont(small)
        bold.setBold(True)
        p.setFont(bold)
        label = row.status_label if row.status in (S.FAILED, S.UNKNOWN, S.GAVE_UP) else ""
        if label:
            lw = QFontMetrics(bold).horizontalAdvance(label + ": ")
            p.drawText(QRect(text_rect.left(), y, lw, sfm.height()), 0, label + ": ")
        else:
            lw = 0
        p.setFont(small)
        p.drawText(QRect(text_rect.left() + lw, y, text_rect.width() - lw, sfm.height()), 0,
                   sfm.elidedText(status_text, Qt.TextElideMode.ElideRight, text_rect.width() - lw))  # fmt: skip
        if row.active:
            bar = QRect(text_rect.left(), text_rect.bottom() - 4, text_rect.width(), 4)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            p.drawRoundedRect(bar, 2, 2)
            frac = _fraction(row)
            p.setBrush(pal.color(QPalette.ColorRole.Highlight))
            if frac is None:  # indeterminate: a moving segment
                w = bar.width() // 4
                off = int((time.time() * 0.5 % 1.0) * (bar.width() - w))
                p.drawRoundedRect(QRect(bar.left() + off, bar.top(), w, bar.height()), 2, 2)
            else:
                p.drawRoundedRect(
                    QRect(bar.left(), bar.top(), int(bar.width() * frac), bar.height()), 2, 2
                )
        p.restore()


def _fraction(row: TaskRow) -> float | None:
    if row.status == S.UPLOADING and row.progress is not None:
        return row.progress
    return None


def _when(ts: float) -> str:
    t = time.localtime(ts)
    today = time.localtime()
    if t.tm_yday == today.tm_yday and t.tm_year == today.tm_year:
        return time.strftime("%H:%M", t)
    return time.strftime("%d %b", t)


class HistoryPanel(QWidget):
    task_selected = Signal(int)
    stop_requested = Signal(int)
    check_again_requested = Signal(int)
    open_folder_requested = Signal(int)

    def __init__(
        self, model: TaskListModel, thumbs: ThumbnailCache, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        title = QLabel(self.tr("History"), self)
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        self.view = QListView(self)
        self.view.setObjectName("historyList")
        self.view.setAccessibleName(self.tr("Task history"))
        self.view.setModel(model)
        self.view.setItemDelegate(TaskDelegate(thumbs, self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        thumbs.ready.connect(lambda _p: self.view.viewport().update())
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setAccessibleName(self.tr("Stop the selected task"))
        self.stop_button.setToolTip(
            self.tr(
                "Stop waiting for the selected task. RunningHub may still finish it; "
                "rhdesk then saves the result."
            )  # fmt: skip
        )
        self.check_button = QPushButton(self.tr("Check again"), self)
        self.check_button.setObjectName("checkAgainButton")
        self.check_button.setToolTip(
            self.tr("Ask RunningHub again about a task rhdesk stopped watching")
        )
        self.stop_button.clicked.connect(lambda: self._emit_for_current(self.stop_requested))
        self.check_button.clicked.connect(
            lambda: self._emit_for_current(self.check_again_requested)
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(title)
        lay.addWidget(self.view, 1)
        lay.addLayout(buttons)
        model.dataChanged.connect(lambda *_: self._update_buttons())
        model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def current_task(self) -> TaskRow | None:
        idx = self.view.currentIndex()
        return idx.data(RowRole) if idx.isValid() else None

    def select_task(self, task_id: int) -> None:
        row = self.model.row_for(task_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))

    def _current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        self._update_buttons()
        if current.isValid():
            self.task_selected.emit(current.data(IdRole))

    def _update_buttons(self) -> None:
        row = self.current_task()
        self.stop_button.setEnabled(bool(row and row.active))
        self.check_button.setEnabled(bool(row and row.status == S.GAVE_UP and row.remote_id))

    def _emit_for_current(self, signal) -> None:
        row = self.current_task()
        if row:
            signal.emit(row.id)

    def _menu(self, pos) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        row: TaskRow = idx.data(RowRole)
        menu = QMenu(self)
        stop = menu.addAction(self.tr("Stop"))
        stop.setEnabled(row.active)
        stop.triggered.connect(lambda: self.stop_requested.emit(row.id))
        again = menu.addAction(self.tr("Check again"))
        again.setEnabled(row.status == S.GAVE_UP and bool(row.remote_id))
        again.triggered.connect(lambda: self.check_again_requested.emit(row.id))
        folder = menu.addAction(self.tr("Open results folder"))
        folder.setEnabled(bool(row.results))
        folder.triggered.connect(lambda: self.open_folder_requested.emit(row.id))
        menu.popup(self.view.viewport().mapToGlobal(pos))
