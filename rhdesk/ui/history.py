"""The history panel: every task, newest first, with thumbnail, prompt, model, size, status, time;
search and filters above it, the selected task's detail below it, and the actions on tasks.

Searching never blocks the window: typing restarts a short timer, the id query runs on the
model's worker thread, and only the answer to the newest request is shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDate, QEvent, QModelIndex, QRect, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rhdesk.core.catalogue import families, model_for
from rhdesk.models.tasks import HistoryFilter, IdRole, RowRole, TaskListModel, TaskRow
from rhdesk.models.thumbs import ThumbnailCache
from rhdesk.store import db as S
from rhdesk.ui.style import is_dark
from rhdesk.ui.task_detail import TaskDetail

log = logging.getLogger("rhdesk.ui")

THUMB = 64
ROW_H = 84

SEARCH_DEBOUNCE_MS = 150  # typing pauses shorter than this do not start a query
STAR_COLOUR = "#e0a000"
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
    star_clicked = Signal(int)  # task id whose star the user clicked

    def __init__(self, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs

    @staticmethod
    def star_rect(option_rect: QRect, font_height: int) -> QRect:
        """Where a row's star sits (right end of the second line); also the click target."""
        r = option_rect.adjusted(8, 8, -8, -8)
        side = max(18, font_height + 4)
        return QRect(r.right() - side + 3, r.top() + font_height + 1, side, side)

    def editorEvent(self, event, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        # A click on the star toggles it without changing the selection.
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            rect = self.star_rect(option.rect, QFontMetrics(option.font).height())
            if rect.contains(event.position().toPoint()):
                if event.type() == QEvent.Type.MouseButtonRelease:
                    self.star_clicked.emit(index.data(IdRole))
                return True
        return super().editorEvent(event, model, option, index)

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
        if row.user_note:
            meta += " · ✎ " + " ".join(row.user_note.split())
        star = self.star_rect(option.rect, fm.height())
        room = star.left() - text_rect.left() - 4
        p.setPen(dim)
        p.drawText(QRect(text_rect.left(), y, room, sfm.height()), 0,
                   sfm.elidedText(meta, Qt.TextElideMode.ElideRight, room))  # fmt: skip
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if row.starred or hovered or selected:  # an empty star only where the pointer is
            p.setFont(f)
            p.setPen(QColor(STAR_COLOUR) if row.starred and not selected else dim)
            p.drawText(star, Qt.AlignmentFlag.AlignCenter, "★" if row.starred else "☆")
            p.setFont(small)
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
        if label and status_text.strip() == label:  # no error text: say it once, not "X: X"
            label = ""
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


def open_url(url: QUrl) -> bool:
    """Every "open"/"reveal" goes through here (tests replace it: no file manager pops up)."""
    return QDesktopServices.openUrl(url)


# (key, statuses); labels are made in HistoryPanel so they translate.
STATUS_FILTERS: list[tuple[str, tuple[str, ...]]] = [
    ("all", ()),
    ("done", (S.SUCCEEDED,)),
    ("failed", (S.FAILED,)),
    ("running", tuple(sorted(S.ACTIVE_STATES))),
    ("unknown", (S.UNKNOWN, S.GAVE_UP)),
    ("cancelled", (S.CANCELLED,)),
]
DATE_FILTERS = ["all", "today", "7d", "30d", "range"]


class HistoryPanel(QWidget):
    task_selected = Signal(int)
    stop_requested = Signal(int)
    check_again_requested = Signal(int)
    open_folder_requested = Signal(int)
    load_requested = Signal(int)  # put this task's inputs and settings into the editor
    run_again_requested = Signal(int)
    compare_before_requested = Signal(object)  # Path
    compare_after_requested = Signal(object)  # Path
    message = Signal(str)  # a short confirmation for the status bar

    def __init__(
        self, model: TaskListModel, thumbs: ThumbnailCache, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.search_done_for: str | None = None  # the search text the list shows results for
        top = QWidget(self)
        title = QLabel(self.tr("History"), top)
        title.setObjectName("historyTitle")
        f = title.font()
        f.setBold(True)
        title.setFont(f)
        self.count_label = QLabel(top)
        self.count_label.setObjectName("historyCount")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.count_label.setStyleSheet("color: palette(mid);")

        # -- search and filters ---------------------------------------------------------------
        self.search_edit = QLineEdit(top)
        self.search_edit.setObjectName("historySearch")
        self.search_edit.setPlaceholderText(self.tr("Search prompts and notes"))
        self.search_edit.setAccessibleName(self.tr("Search prompts and notes"))
        self.search_edit.setToolTip(self.tr("Every word must appear; the last may be the start "
                                            "of a word (Ctrl+F)"))  # fmt: skip
        self.search_edit.setClearButtonEnabled(True)
        self.star_filter = QToolButton(top)
        self.star_filter.setObjectName("historyStarredFilter")
        self.star_filter.setText("★")
        self.star_filter.setCheckable(True)
        self.star_filter.setAccessibleName(self.tr("Starred only"))
        self.star_filter.setToolTip(self.tr("Show starred tasks only"))
        self.status_filter = QComboBox(top)
        self.status_filter.setObjectName("historyStatusFilter")
        self.status_filter.setAccessibleName(self.tr("Status"))
        self.status_filter.setToolTip(self.tr("Show tasks in this state"))
        status_labels = {
            "all": self.tr("All states"),
            "done": self.tr("Done"),
            "failed": self.tr("Failed"),
            "running": self.tr("In progress"),
            "unknown": self.tr("Needs checking"),
            "cancelled": self.tr("Cancelled"),
        }
        for key, _statuses in STATUS_FILTERS:
            self.status_filter.addItem(status_labels[key], key)
        self.model_filter = QComboBox(top)
        self.model_filter.setObjectName("historyModelFilter")
        self.model_filter.setAccessibleName(self.tr("Model"))
        self.model_filter.setToolTip(self.tr("Show tasks of this model"))
        self.model_filter.addItem(self.tr("All models"), "")
        for fam in families():
            self.model_filter.addItem(model_for(fam, True).label, fam)
        self.date_filter = QComboBox(top)
        self.date_filter.setObjectName("historyDateFilter")
        self.date_filter.setAccessibleName(self.tr("Date"))
        self.date_filter.setToolTip(self.tr("Show tasks started in this period"))
        date_labels = {
            "all": self.tr("Any time"),
            "today": self.tr("Today"),
            "7d": self.tr("Last 7 days"),
            "30d": self.tr("Last 30 days"),
            "range": self.tr("From – to…"),
        }
        for key in DATE_FILTERS:
            self.date_filter.addItem(date_labels[key], key)
        self.from_date = QDateEdit(QDate.currentDate().addDays(-7), top)
        self.from_date.setObjectName("historyFromDate")
        self.from_date.setAccessibleName(self.tr("From date"))
        self.to_date = QDateEdit(QDate.currentDate(), top)
        self.to_date.setObjectName("historyToDate")
        self.to_date.setAccessibleName(self.tr("To date (included)"))
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.range_row = QWidget(top)
        rr = QHBoxLayout(self.range_row)
        rr.setContentsMargins(0, 0, 0, 0)
        rr.addWidget(self.from_date, 1)
        rr.addWidget(QLabel("–", self.range_row))
        rr.addWidget(self.to_date, 1)
        self.range_row.hide()

        # -- the list and its empty state -----------------------------------------------------
        self.view = QListView(top)
        self.view.setObjectName("historyList")
        self.view.setAccessibleName(self.tr("Task history"))
        self.view.setModel(model)
        self.delegate = TaskDelegate(thumbs, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setUniformItemSizes(True)
        self.view.setMouseTracking(True)  # the empty star shows under the pointer
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.view.doubleClicked.connect(lambda idx: self.load_requested.emit(idx.data(IdRole)))
        self.delegate.star_clicked.connect(self._toggle_star)
        thumbs.ready.connect(lambda _p: self.view.viewport().update())
        self.empty = QWidget(top)
        self.empty.setObjectName("historyEmpty")
        self.empty_title = QLabel(self.empty)
        self.empty_title.setObjectName("historyEmptyTitle")
        self.empty_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ef = self.empty_title.font()
        ef.setPointSizeF(ef.pointSizeF() * 1.15)
        ef.setBold(True)
        self.empty_title.setFont(ef)
        self.empty_hint = QLabel(self.empty)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: palette(mid);")
        self.clear_filters_button = QPushButton(self.tr("Clear search and filters"), self.empty)
        self.clear_filters_button.setObjectName("historyClearFilters")
        self.clear_filters_button.clicked.connect(self.clear_filters)
        el = QVBoxLayout(self.empty)
        el.addStretch(1)
        el.addWidget(self.empty_title)
        el.addWidget(self.empty_hint)
        el.addWidget(self.clear_filters_button, 0, Qt.AlignmentFlag.AlignHCenter)
        el.addStretch(2)
        self.stack = QStackedWidget(top)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)

        self._animation = QTimer(self)
        self._animation.setInterval(ANIMATION_MS)
        self._animation.timeout.connect(self._animate)
        model.dataChanged.connect(lambda *_: self._update_animation())
        model.rowsInserted.connect(lambda *_: self._update_animation())
        model.modelReset.connect(self._update_animation)
        self.stop_button = QPushButton(self.tr("Stop"), top)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setAccessibleName(self.tr("Stop the selected task"))
        self.stop_button.setToolTip(
            self.tr(
                "Stop waiting for the selected task. RunningHub may still finish it; "
                "rhdesk then saves the result."
            )  # fmt: skip
        )
        self.check_button = QPushButton(self.tr("Check again"), top)
        self.check_button.setObjectName("checkAgainButton")
        self.check_button.setToolTip(
            self.tr("Ask RunningHub again about a task rhdesk stopped watching")
        )
        self.stop_button.clicked.connect(lambda: self._emit_for_current(self.stop_requested))
        self.check_button.clicked.connect(
            lambda: self._emit_for_current(self.check_again_requested)
        )
        head = QHBoxLayout()
        head.setContentsMargins(2, 6, 2, 0)
        head.addWidget(title)
        head.addWidget(self.count_label, 1)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.star_filter)
        for combo in (self.status_filter, self.model_filter, self.date_filter):
            # narrow panels elide the choice rather than widen the whole window
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(2)
        filter_row = QHBoxLayout()
        filter_row.addWidget(self.status_filter, 1)
        filter_row.addWidget(self.model_filter, 1)
        filter_row.addWidget(self.date_filter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(4)
        tl.addLayout(head)
        tl.addLayout(search_row)
        tl.addLayout(filter_row)
        tl.addWidget(self.range_row)
        tl.addWidget(self.stack, 1)
        tl.addLayout(buttons)

        # -- the selected task's detail, under the list ---------------------------------------
        self.detail = TaskDetail(thumbs, model.record, self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("historySplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([440, 380])  # the list keeps ~5 rows; the detail its header
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)

        self._build_actions()
        self.detail.set_actions(self.actions_by_name)
        self.detail.compare_requested.connect(self._compare)
        self.detail.open_path_requested.connect(self.open_path)
        self.detail.reveal_path_requested.connect(self.reveal_path)
        self.detail.link_requested.connect(lambda url: open_url(QUrl(url)))

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        for combo in (self.status_filter, self.model_filter):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.date_filter.currentIndexChanged.connect(self._date_mode_changed)
        self.from_date.dateChanged.connect(lambda _d: self.apply_filters())
        self.to_date.dateChanged.connect(lambda _d: self.apply_filters())
        self.star_filter.toggled.connect(lambda _on: self.apply_filters())
        model.filter_applied.connect(self._filter_applied)
        model.modelReset.connect(self._update_empty)
        model.rowsInserted.connect(lambda *_: self._update_empty())
        model.rowsRemoved.connect(lambda *_: self._update_empty())
        model.dataChanged.connect(self._rows_changed)
        model.exported.connect(self._exported)
        model.export_failed.connect(
            lambda err: self.message.emit(self.tr("Export failed: {error}").format(error=err))
        )
        model.dataChanged.connect(lambda *_: self._update_buttons())
        model.modelReset.connect(self._update_buttons)
        self._update_buttons()
        self._update_empty()

    # -- actions ------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}

        def add(name: str, text: str, slot: Callable[[], None], shortcut=None, tip: str = ""):
            a = QAction(text, self)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                # only while the history or the detail has focus: Delete in the prompt deletes text
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            if tip:
                a.setToolTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            self.actions_by_name[name] = a
            return a

        add("loadAction", self.tr("Load into editor"), lambda: self._with_task(self.load_requested.emit),
            "Ctrl+E", self.tr("Put this task's images, prompt, model and size back into the "
                              "editor (Ctrl+E)"))  # fmt: skip
        add("runAgainAction", self.tr("Run again"), lambda: self._with_task(self.run_again_requested.emit),
            "Ctrl+Shift+R", self.tr("Run the same task again; the images are uploaded again from "
                                    "their local copies (Ctrl+Shift+R)"))  # fmt: skip
        add("checkAgainAction", self.tr("Check again"),
            lambda: self._with_task(self.check_again_requested.emit), None,
            self.tr("Ask RunningHub again about this task"))  # fmt: skip
        add("copyPromptAction", self.tr("Copy prompt"), lambda: self._with_task(self.copy_prompt),
            "Ctrl+Shift+C")  # fmt: skip
        add("copyDetailsAction", self.tr("Copy details"), lambda: self._with_task(self.copy_details),
            None, self.tr("Copy every parameter of the task as JSON"))  # fmt: skip
        add("starAction", self.tr("Star"), lambda: self._with_task(self._toggle_star), "Ctrl+D")
        add("noteAction", self.tr("Note…"), lambda: self._with_task(self.edit_note), "Ctrl+Shift+N",
            self.tr("Add a note; notes are searched like prompts"))  # fmt: skip
        add("revealAction", self.tr("Show in folder"), lambda: self._with_task(self.reveal_task),
            None, self.tr("Open the folder with this task's results in the file manager"))  # fmt: skip
        add("openResultAction", self.tr("Open result"), lambda: self._with_task(self.open_result),
            None, self.tr("Open the first result with the system's image viewer"))  # fmt: skip
        add("exportAction", self.tr("Export…"), self.export_selected, "Ctrl+Shift+E",
            self.tr("Copy the selected tasks' results and a JSON file of their parameters to a "
                    "folder"))  # fmt: skip
        add("deleteAction", self.tr("Delete…"), self.delete_selected, QKeySequence.StandardKey.Delete,
            self.tr("Remove the selected tasks from the history"))  # fmt: skip
        find = QAction(self.tr("Search history"), self)
        find.setObjectName("findAction")
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        find.triggered.connect(self.focus_search)
        self.addAction(find)

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def shown_task(self) -> int | None:
        """The task the detail shows (what the actions act on)."""
        return self.detail.task_id

    def selected_ids(self) -> list[int]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedRows())
        ids = [self.model.index(r).data(IdRole) for r in rows]
        if not ids and self.detail.task_id is not None:
            ids = [self.detail.task_id]
        return ids

    def _with_task(self, fn: Callable[[int], object]) -> None:
        task_id = self.shown_task()
        if task_id is not None:
            fn(task_id)

    def _toggle_star(self, task_id: int) -> None:
        starred = self.model.toggle_star(task_id)
        if self.star_filter.isChecked() and not starred:
            self.apply_filters()  # it no longer belongs in a starred-only list
        if task_id == self.detail.task_id:
            self.detail.refresh()
        self._update_buttons()

    def copy_prompt(self, task_id: int) -> None:
        row = self.model.task(task_id)
        rec = None if row else self.model.record(task_id)
        prompt = row.prompt if row else (rec.prompt if rec else "")
        QGuiApplication.clipboard().setText(prompt)
        self.message.emit(self.tr("Prompt copied."))

    def copy_details(self, task_id: int) -> None:
        QGuiApplication.clipboard().setText(self.model.details_json(task_id))
        self.message.emit(self.tr("Task details copied as JSON."))

    def edit_note(self, task_id: int) -> None:
        rec = self.model.record(task_id)
        if rec is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("noteDialog")
        dialog.setWindowTitle(self.tr("Note"))
        dialog.setLabelText(self.tr("A note for this task (found by the search):"))
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
        dialog.setTextValue(rec.note)
        dialog.textValueSelected.connect(lambda text: self._save_note(task_id, text))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _save_note(self, task_id: int, text: str) -> None:
        self.model.set_user_note(task_id, text)
        if task_id == self.detail.task_id:
            self.detail.refresh()

    def _task_files(self, task_id: int) -> list[Path]:
        row = self.model.task(task_id)
        return list(row.results) if row else []

    def reveal_task(self, task_id: int) -> None:
        files = self._task_files(task_id)
        if files:
            self.reveal_path(files[0])
        else:
            self.open_folder_requested.emit(task_id)

    def open_result(self, task_id: int) -> None:
        files = self._task_files(task_id)
        if files:
            self.open_path(files[0])

    def open_path(self, path: Path) -> None:
        if not Path(path).exists():
            self.message.emit(self.tr("{name} is no longer on this computer.").format(
                name=Path(path).name))  # fmt: skip
            return
        open_url(QUrl.fromLocalFile(str(path)))

    def reveal_path(self, path: Path) -> None:
        # Qt cannot select a file in every file manager: the containing folder opens.
        folder = Path(path).parent
        if folder.is_dir():
            open_url(QUrl.fromLocalFile(str(folder)))

    def _compare(self, which: str, path: Path) -> None:
        if which == "before":
            self.compare_before_requested.emit(path)
        else:
            self.compare_after_requested.emit(path)

    # -- delete and export --------------------------------------------------------------------
    def delete_selected(self) -> None:
        ids = self.selected_ids()
        rows = [self.model.task(i) for i in ids]
        running = [r for r in rows if r is not None and r.active]
        ids = [i for i, r in zip(ids, rows, strict=True) if not (r is not None and r.active)]
        if not ids:
            if running:
                self.message.emit(self.tr("A running task cannot be deleted; stop it first."))
            return
        text = (
            self.tr("Remove this task from the history?")
            if len(ids) == 1
            else self.tr("Remove {n} tasks from the history?").format(n=len(ids))
        )
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete"), text,
                          QMessageBox.StandardButton.NoButton, self)  # fmt: skip
        box.setObjectName("deleteTasksBox")
        info = self.tr("The result files can stay in your results folder or be deleted too.")
        if running:
            info += " " + self.tr("{n} running task(s) are left out.").format(n=len(running))
        box.setInformativeText(info)
        keep = box.addButton(self.tr("Remove from history"), QMessageBox.ButtonRole.AcceptRole)
        keep.setObjectName("deleteKeepFiles")
        purge = box.addButton(
            self.tr("Remove and delete files"), QMessageBox.ButtonRole.DestructiveRole
        )
        purge.setObjectName("deleteWithFiles")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.setEscapeButton(cancel)

        def clicked(button) -> None:
            if button is keep:
                self.delete_tasks(ids, delete_files=False)
            elif button is purge:
                self.delete_tasks(ids, delete_files=True)

        box.buttonClicked.connect(clicked)
        box.finished.connect(box.deleteLater)
        box.open()

    def delete_tasks(self, ids: list[int], *, delete_files: bool) -> None:
        shown = self.detail.task_id
        removed = self.model.delete(ids, delete_files=delete_files)
        if shown in ids:
            self.detail.show_task(None)
        if delete_files:
            self.message.emit(self.tr("Removed {n} task(s) and deleted {f} file(s).").format(
                n=len(ids), f=len(removed)))  # fmt: skip
        else:
            self.message.emit(self.tr("Removed {n} task(s); their files are kept.").format(
                n=len(ids)))  # fmt: skip

    def export_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        dialog = QFileDialog(self, self.tr("Export {n} task(s) to").format(n=len(ids)))
        dialog.setObjectName("exportDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda folder: self.export_to(ids, Path(folder)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def export_to(self, ids: list[int], folder: Path) -> None:
        self.model.export(ids, folder)
        self.message.emit(self.tr("Exporting {n} task(s)…").format(n=len(ids)))

    def _exported(self, written: list[Path]) -> None:
        folder = written[0].parent if written else None
        self.message.emit(self.tr("Exported {n} file(s) to {folder}.").format(
            n=len(written), folder=folder or ""))  # fmt: skip

    # -- search and filters -------------------------------------------------------------------
    def current_filter(self) -> HistoryFilter:
        statuses = dict(STATUS_FILTERS).get(self.status_filter.currentData() or "all", ())
        fam = self.model_filter.currentData() or ""
        since, until = self._date_bounds()
        return HistoryFilter(
            search=self.search_edit.text(),
            statuses=statuses,
            families=(fam,) if fam else (),
            since=since,
            until=until,
            starred=self.star_filter.isChecked(),
        )

    def _date_bounds(self) -> tuple[float | None, float | None]:
        mode = self.date_filter.currentData()
        today = dt.datetime.combine(dt.date.today(), dt.time())
        if mode == "today":
            return today.timestamp(), None
        if mode == "7d":
            return (today - dt.timedelta(days=6)).timestamp(), None
        if mode == "30d":
            return (today - dt.timedelta(days=29)).timestamp(), None
        if mode == "range":
            start = dt.datetime.combine(self.from_date.date().toPython(), dt.time())
            end = dt.datetime.combine(self.to_date.date().toPython(), dt.time())
            return start.timestamp(), (end + dt.timedelta(days=1)).timestamp()
        return None, None

    def _date_mode_changed(self) -> None:
        self.range_row.setVisible(self.date_filter.currentData() == "range")
        self.apply_filters()

    def apply_filters(self) -> None:
        self._search_timer.stop()
        self._selected_before = self.detail.task_id
        self.model.request_filter(self.current_filter())

    def clear_filters(self) -> None:
        widgets = (self.search_edit, self.status_filter, self.model_filter, self.date_filter,
                   self.star_filter)  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        self.search_edit.clear()
        self.status_filter.setCurrentIndex(0)
        self.model_filter.setCurrentIndex(0)
        self.date_filter.setCurrentIndex(0)
        self.star_filter.setChecked(False)
        self.range_row.hide()
        for w in widgets:
            w.blockSignals(False)
        self.apply_filters()

    def _filter_applied(self, flt: HistoryFilter) -> None:
        self.search_done_for = flt.search
        keep = getattr(self, "_selected_before", None)
        if keep is not None and self.model.row_for(keep) >= 0:
            self.select_task(keep)
        self._update_empty()

    def _update_empty(self) -> None:
        n = self.model.rowCount()
        total = self.model.total()
        filtered = not self.model.filter.empty
        if filtered:
            self.count_label.setText(
                self.tr("{n} of {total}").format(n=f"{n:,}", total=f"{total:,}")
            )
        else:
            self.count_label.setText(self.tr("{n} tasks").format(n=f"{n:,}") if n else "")
        if n:
            self.stack.setCurrentWidget(self.view)
            return
        if filtered:
            self.empty_title.setText(self.tr("No tasks match"))
            self.empty_hint.setText(self.tr("Try other words, or clear the search and filters."))
        else:
            self.empty_title.setText(self.tr("No tasks yet"))
            self.empty_hint.setText(self.tr("Every task you run appears here, with its results."))
        self.clear_filters_button.setVisible(filtered)
        self.stack.setCurrentWidget(self.empty)

    # -- selection, live rows -----------------------------------------------------------------
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
        for row in self.model.active_rows():
            i = self.model.row_for(row.id)
            if i >= 0:
                rect = self.view.visualRect(self.model.index(i))
                if rect.intersects(vp):
                    self.view.viewport().update(rect.adjusted(0, rect.height() - 16, 0, 0))

    def _rows_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, *_args) -> None:
        shown = self.detail.task_id
        if shown is None:
            return
        i = self.model.row_for(shown)
        if top_left.row() <= i <= bottom_right.row():
            self.detail.refresh_if_changed(self.model.task(shown))

    def current_task(self) -> TaskRow | None:
        idx = self.view.currentIndex()
        return idx.data(RowRole) if idx.isValid() else None

    def select_task(self, task_id: int) -> None:
        row = self.model.row_for(task_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))
            self.view.scrollTo(self.model.index(row))

    def _current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            task_id = current.data(IdRole)
            self.detail.show_task(task_id, self.model.record(task_id))
            self._update_buttons()  # the actions act on the task the detail now shows
            self.task_selected.emit(task_id)
        else:
            self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.current_task()
        self.stop_button.setEnabled(bool(row and row.active))
        self.check_button.setEnabled(bool(row and row.status == S.GAVE_UP and row.remote_id))
        shown = self.model.task(self.detail.task_id) if self.detail.task_id is not None else None
        has = shown is not None
        a = self.actions_by_name
        for name in ("loadAction", "copyPromptAction", "copyDetailsAction", "starAction",
                     "noteAction", "exportAction"):  # fmt: skip
            a[name].setEnabled(has)
        a["runAgainAction"].setEnabled(has and not shown.active)
        a["checkAgainAction"].setEnabled(
            has and shown.status in (S.GAVE_UP, S.UNKNOWN) and bool(shown.remote_id)
        )
        a["revealAction"].setEnabled(has and bool(shown.results))
        a["openResultAction"].setEnabled(has and bool(shown.results))
        a["deleteAction"].setEnabled(has and not shown.active)
        a["starAction"].setText(self.tr("Unstar") if has and shown.starred else self.tr("Star"))
        a["noteAction"].setText(
            self.tr("Edit note…") if has and shown.user_note else self.tr("Add note…")
        )

    def _emit_for_current(self, signal) -> None:
        row = self.current_task()
        if row:
            signal.emit(row.id)

    def _menu(self, pos) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        if not self.view.selectionModel().isSelected(idx):
            self.view.setCurrentIndex(idx)
        row: TaskRow = idx.data(RowRole)
        menu = self.context_menu(row)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def context_menu(self, row: TaskRow) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("historyMenu")
        a = self.actions_by_name
        for name in ("loadAction", "runAgainAction"):
            menu.addAction(a[name])
        if row.status in (S.GAVE_UP, S.UNKNOWN) and row.remote_id:
            menu.addAction(a["checkAgainAction"])
        stop = menu.addAction(self.tr("Stop"))
        stop.setEnabled(row.active)
        stop.triggered.connect(lambda: self.stop_requested.emit(row.id))
        menu.addSeparator()
        for name in ("copyPromptAction", "copyDetailsAction", "starAction", "noteAction"):
            menu.addAction(a[name])
        menu.addSeparator()
        for name in ("openResultAction", "revealAction", "exportAction"):
            menu.addAction(a[name])
        menu.addSeparator()
        menu.addAction(a["deleteAction"])
        return menu
