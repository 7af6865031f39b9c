"""The history panel: every task, newest first, with thumbnail, prompt, model, size, status, time."""

from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, QTimer, Signal
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
from rhdesk.ui.style import is_dark

THUMB = 64
ROW_H = 84

ANIMATION_MS = 50  # the moving segment of a running task's bar; only active rows repaint

# (on a light base, on a dark base): each reads at >= 4.5:1 against its own background.
STATUS_COLOURS = {
    S.SUCCEEDED: ("#1e7b3c", "#5fd38a"),
    S.FAILED: ("#c62828", "#ff6b6b"),
    S.UNKNOWN: ("#9a5b00", "#ffb74d"),
    S.GAVE_UP: ("#9a5b00", "#ffb74d"),
    S.CANCELLED: ("#6b6b6b", "#a8a8a8"),
}


def status_colour(status: str, palette: QPalette, selected: bool) -> QColor:
    """The colour of a row's status text. On a selected row the highlight is the background, and
    green or red on blue is unreadable: the text then uses the highlighted-text colour and the
    status keeps its colour only in the dot in front of it."""
    if selected:
        return palette.color(QPalette.ColorRole.HighlightedText)
    pair = STATUS_COLOURS.get(status)
    if pair is None:
        return palette.color(QPalette.ColorRole.Text)
    return QColor(pair[1] if is_dark(palette) else pair[0])


def status_dot_colour(status: str, palette: QPalette) -> QColor:
    pair = STATUS_COLOURS.get(status)
    if pair is None:
        return palette.color(QPalette.ColorRole.Highlight)
    return QColor(pair[1] if is_dark(palette) else pair[0])


class TaskDelegate(QStyledItemDelegate):
    def __init__(self, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        # No width of its own: rows take the view's width (text elides), never a scrollbar.
        return QSize(0, ROW_H)

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
        colour = status_colour(row.status, pal, selected)
        status_text = row.stage_text()
        # a dot in the status colour, ringed so it stays visible on the highlight
        dot_d = max(6, sfm.height() // 2)
        dot = QRect(text_rect.left(), y + (sfm.height() - dot_d) // 2, dot_d, dot_d)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(text_col, 1) if selected else Qt.PenStyle.NoPen)
        # an active row's dot is the highlight colour: on a selected row it would vanish
        p.setBrush(text_col if selected and row.active else status_dot_colour(row.status, pal))
        p.drawEllipse(dot)
        left = dot.right() + 6
        p.setPen(QPen(colour))
        bold = QFont(small)
        bold.setBold(True)
        p.setFont(bold)
        label = row.status_label if row.status in (S.FAILED, S.UNKNOWN, S.GAVE_UP) else ""
        if label:
            lw = QFontMetrics(bold).horizontalAdvance(label + ": ")
            p.drawText(QRect(left, y, lw, sfm.height()), 0, label + ": ")
        else:
            lw = 0
        p.setFont(small if label or row.status != S.SUCCEEDED else bold)
        room = text_rect.right() - left - lw
        p.drawText(QRect(left + lw, y, room, sfm.height()), 0,
                   sfm.elidedText(status_text, Qt.TextElideMode.ElideRight, room))  # fmt: skip
        if row.active:
            bar = QRect(text_rect.left(), text_rect.bottom() - 4, text_rect.width(), 4)
            p.setPen(Qt.PenStyle.NoPen)
            track = QColor(text_col if selected else pal.color(QPalette.ColorRole.Text))
            track.setAlphaF(0.18)
            p.setBrush(track)
            p.drawRoundedRect(bar, 2, 2)
            frac = _fraction(row)
            p.setBrush(text_col if selected else pal.color(QPalette.ColorRole.Highlight))
            if frac is None:  # indeterminate: a moving segment
                w = bar.width() // 4
                phase = time.monotonic() * 0.6 % 2.0  # back and forth, not a jump back
                off = int((phase if phase < 1.0 else 2.0 - phase) * (bar.width() - w))
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
        title.setObjectName("historyTitle")
        title.setContentsMargins(2, 6, 0, 2)
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        self.view = QListView(self)
        self.view.setObjectName("historyList")
        self.view.setAccessibleName(self.tr("Task history"))
        self.view.setModel(model)
        self.view.setItemDelegate(TaskDelegate(thumbs, self.view))
        self.view.setUniformItemSizes(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        thumbs.ready.connect(lambda _p: self.view.viewport().update())
        self._animation = QTimer(self)
        self._animation.setInterval(ANIMATION_MS)
        self._animation.timeout.connect(self._animate)
        model.dataChanged.connect(lambda *_: self._update_animation())
        model.rowsInserted.connect(lambda *_: self._update_animation())
        model.modelReset.connect(self._update_animation)
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

    def _update_animation(self) -> None:
        running = bool(self.model.active_rows())
        if running and not self._animation.isActive():
            self._animation.start()
        elif not running:
            self._animation.stop()

    def _animate(self) -> None:
        # Repaint only the bars of active rows that are on screen: a whole-viewport update every
        # 50 ms would redraw every thumbnail for nothing.
        if not self.view.isVisible():
            return
        vp = self.view.viewport().rect()
        for i, row in enumerate(self.model.rows()):
            if row.active:
                rect = self.view.visualRect(self.model.index(i))
                if rect.intersects(vp):
                    self.view.viewport().update(rect.adjusted(0, rect.height() - 16, 0, 0))

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
