"""The ten input-image slots: drop, browse, paste, reorder, and per-image problems at a glance."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QMimeData,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QContextMenuEvent,
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QEnterEvent,
    QFocusEvent,
    QFontMetrics,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QGridLayout,
    QMenu,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from rhdesk.core.imageops import thumbnail
from rhdesk.core.prepare import ImageInfo, ImageProblem, inspect_image
from rhdesk.ui.style import accent, muted_text, problem_color, subtle_line
from rhdesk.ui.workers import ImageWorker, pil_to_qimage

log = logging.getLogger(__name__)

SLOT_COUNT = 10
SLOT_COLUMNS = 5
SLOT_MIME = "application/x-rhdesk-slot"
THUMB_SIDE = 100  # logical px; the thumbnail is decoded at THUMB_SIDE × devicePixelRatio
SLOT_WIDTH = 112
SLOT_MARGIN = 6
IMAGE_FILTER = "*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff *.heic *.heif *.avif"
MAX_NAMES_IN_MESSAGE = 4

# (parent, allow_several, accept) - the chooser calls accept(paths) when, and only if, the user
# picked something. Tests replace it; the default opens a non-modal QFileDialog.
FileChooser = Callable[[QWidget, bool, Callable[[list[Path]], None]], None]


def human_size(n: int) -> str:
    # Binary units, like the server's "10 MB" upload limit and most file managers on Windows.
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def local_files(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


@dataclass(frozen=True)
class SlotLoad:
    """What the worker learns about one slot's file."""

    info: ImageInfo | None
    problem: str = ""  # short reason shown on the slot; empty when the file is usable
    problem_detail: str = ""  # the full sentence naming the file, for the tooltip
    image: QImage | None = None


def load_slot_file(path: Path, side_px: int, dpr: float) -> SlotLoad:
    """Runs on a worker thread: inspect the file, then make its thumbnail."""
    info: ImageInfo | None = None
    problem = detail = ""
    try:
        info = inspect_image(path)
    except ImageProblem as e:
        problem, detail = e.reason, str(e)
    except OSError as e:
        # QCoreApplication.translate is thread-safe; self.tr needs a QObject we do not have here.
        problem = QCoreApplication.translate("ImageSlot", "This file cannot be read.")
        detail = f"{path.name}: {e.strerror or e}"
    image: QImage | None = None
    try:
        image = pil_to_qimage(thumbnail(path, side_px))
        image.setDevicePixelRatio(dpr)
    except Exception:  # noqa: BLE001 - a file without a preview still shows its problem or info
        if not problem:
            log.info("no preview for %s", path, exc_info=True)
    return SlotLoad(info, problem, detail, image)


_entry_ids = itertools.count(1)


@dataclass
class SlotEntry:
    path: Path
    id: int = field(default_factory=lambda: next(_entry_ids))
    loading: bool = True
    load: SlotLoad | None = None
    pixmap: QPixmap | None = None

    @property
    def problem(self) -> str:
        return self.load.problem if self.load else ""


class ImageSlot(QFrame):
    """One input slot. It only reports what the user did; the SlotGrid decides what it means."""

    files_dropped = Signal(int, list)  # (slot index, list[Path])
    move_requested = Signal(int, int)  # (from slot, onto slot)
    browse_requested = Signal(int)
    clear_requested = Signal(int)
    move_first_requested = Signal(int)
    paste_requested = Signal(int)
    focus_neighbour = Signal(int, int)  # (slot index, step)

    def __init__(self, index: int, drag_token: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self._drag_token = drag_token
        self._entry: SlotEntry | None = None
        self._hover = False
        self._drag_over = False
        self._press_pos: QPoint | None = None

        self.setObjectName(f"imageSlot{index}")
        self.setAccessibleName(
            self.tr("Image slot 1 (main image)")
            if index == 0
            else self.tr("Image slot {n}").replace("{n}", str(index + 1))
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover, True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(self.sizeHint())

        self._clear_button = _ClearButton(self)
        self._clear_button.setObjectName(f"imageSlot{index}Clear")
        self._clear_button.setCursor(Qt.CursorShape.ArrowCursor)
        self._clear_button.setToolTip(self.tr("Remove this image (Delete)"))
        self._clear_button.setAccessibleName(
            self.tr("Remove image {n}").replace("{n}", str(index + 1))
        )
        self._clear_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._clear_button.setFixedSize(22, 22)
        self._clear_button.move(self.width() - SLOT_MARGIN - 22, SLOT_MARGIN)
        self._clear_button.clicked.connect(lambda: self.clear_requested.emit(self.index))
        self._clear_button.hide()
        self._update_texts()

    # -- state -----------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        lines = 3  # dimensions, size · format, problem
        text_h = QFontMetrics(self._small_font()).lineSpacing() * lines
        return QSize(SLOT_WIDTH, SLOT_MARGIN * 2 + THUMB_SIDE + 4 + text_h)

    def entry(self) -> SlotEntry | None:
        return self._entry

    def path(self) -> Path | None:
        return self._entry.path if self._entry else None

    def set_entry(self, entry: SlotEntry | None) -> None:
        self._entry = entry
        self._clear_button.setVisible(entry is not None)
        self._update_texts()
        self.update()

    def caption_lines(self) -> list[str]:
        """The text under the thumbnail: dimensions, then size and format."""
        e = self._entry
        if e is None:
            return []
        if e.loading:
            return [self.tr("Loading…"), e.path.name]
        info = e.load.info if e.load else None
        if info is None:
            return [e.path.name, ""]
        size = f"{human_size(info.file_size)} · {info.format}"
        return [f"{info.width}×{info.height}", size]

    def problem_text(self) -> str:
        return self._entry.problem if self._entry else ""

    def _update_texts(self) -> None:
        e = self._entry
        if e is None:
            self.setToolTip(
                self.tr(
                    "Drop images here, click to browse, or paste with Ctrl+V."
                    "\nSeveral files fill this slot and the free ones after it."
                )
            )
            self.setAccessibleDescription(self.tr("Empty"))
            return
        tip = [e.path.name]
        info = e.load.info if e.load else None
        if info is not None:
            tip.append(f"{info.width}×{info.height} · {human_size(info.file_size)} · {info.format}")
            tip.extend(info.notes)
        if e.load and e.load.problem:
            tip.append("⚠ " + (e.load.problem_detail or e.load.problem))
        tip.append(
            self.tr("Drag onto another slot to reorder · right-click for more · Delete removes")
        )
        self.setToolTip("\n".join(tip))
        self.setAccessibleDescription(", ".join([*self.caption_lines(), self.problem_text()]))

    # -- drag source -------------------------------------------------------------------------

    def drag_mime_data(self) -> QMimeData | None:
        """The payload of an internal reorder drag, or None for an empty slot."""
        if self._entry is None:
            return None
        md = QMimeData()
        md.setData(SLOT_MIME, QByteArray(f"{self._drag_token}:{self.index}".encode()))
        return md

    def _dragged_index(self, md: QMimeData) -> int | None:
        if not md.hasFormat(SLOT_MIME):
            return None
        token, _, index = bytes(md.data(SLOT_MIME).data()).decode(errors="replace").rpartition(":")
        # A slot drag from another window of the app carries another grid's token: not ours.
        if token != self._drag_token or not index.isdigit():
            return None
        return int(index)

    def _start_drag(self) -> None:
        md = self.drag_mime_data()
        if md is None:
            return
        drag = QDrag(self)
        drag.setMimeData(md)
        if self._entry and self._entry.pixmap is not None:
            pm = self._entry.pixmap.scaled(
                QSize(64, 64) * self.devicePixelRatioF(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            pm.setDevicePixelRatio(self.devicePixelRatioF())
            drag.setPixmap(pm)
        drag.exec(Qt.DropAction.MoveAction)

    # -- drop target -------------------------------------------------------------------------

    def _accept(self, event: QDragEnterEvent | QDragMoveEvent) -> bool:
        md = event.mimeData()
        index = self._dragged_index(md)
        if index is not None:
            if index == self.index:
                return False
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
            return True
        if local_files(md):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            return True
        return False

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accept(event):
            self._drag_over = True
            self.update()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not self._accept(event):
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: ANN001 - QDragLeaveEvent
        self._drag_over = False
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_over = False
        self.update()
        md = event.mimeData()
        index = self._dragged_index(md)
        if index is not None:
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
            if index != self.index:
                self.move_requested.emit(index, self.index)
            return
        files = local_files(md)
        if not files:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.files_dropped.emit(self.index, files)

    # -- mouse and keyboard ------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position().toPoint()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if (
            self._press_pos is not None
            and event.buttons() & Qt.MouseButton.LeftButton
            and (event.position().toPoint() - self._press_pos).manhattanLength()
            >= QApplication.startDragDistance()
        ):
            self._press_pos = None
            self._start_drag()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._press_pos is not None:
            self._press_pos = None
            if self.rect().contains(event.position().toPoint()):
                self.browse_requested.emit(self.index)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste_requested.emit(self.index)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.browse_requested.emit(self.index)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._entry is not None:
            self.clear_requested.emit(self.index)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = {
                Qt.Key.Key_Left: -1,
                Qt.Key.Key_Right: 1,
                Qt.Key.Key_Up: -SLOT_COLUMNS,
                Qt.Key.Key_Down: SLOT_COLUMNS,
            }[Qt.Key(key)]
            self.focus_neighbour.emit(self.index, step)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def context_menu(self) -> QMenu:
        """The right-click menu (built on demand so its state matches the slot)."""
        menu = QMenu(self)
        menu.setObjectName(f"imageSlot{self.index}Menu")
        filled = self._entry is not None
        replace = menu.addAction(self.tr("Replace…") if filled else self.tr("Add images…"))
        replace.triggered.connect(lambda: self.browse_requested.emit(self.index))
        paste = menu.addAction(self.tr("Paste"))
        paste.setShortcut(QKeySequence(QKeySequence.StandardKey.Paste))
        paste.triggered.connect(lambda: self.paste_requested.emit(self.index))
        menu.addSeparator()
        first = menu.addAction(self.tr("Move to first"))
        first.setEnabled(filled and self.index > 0)
        first.triggered.connect(lambda: self.move_first_requested.emit(self.index))
        clear = menu.addAction(self.tr("Clear"))
        clear.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        clear.setEnabled(filled)
        clear.triggered.connect(lambda: self.clear_requested.emit(self.index))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos())

    def enterEvent(self, event: QEnterEvent) -> None:
        self._hover = True
        self.update()
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: ANN001 - QEvent
        self._hover = False
        self.update()
        super().leaveEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusOutEvent(event)

    # -- painting ----------------------------------------------------------------------------

    def _small_font(self):  # noqa: ANN202 - QFont
        f = self.font()
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.88))
        return f

    def _thumb_rect(self) -> QRectF:
        x = (self.width() - THUMB_SIDE) / 2
        return QRectF(x, SLOT_MARGIN, THUMB_SIDE, THUMB_SIDE)

    def _pixmap(self) -> QPixmap | None:
        e = self._entry
        if e is None or e.load is None or e.load.image is None:
            return None
        if e.pixmap is None:
            # QPixmap only on the GUI thread: the worker hands over a QImage.
            e.pixmap = QPixmap.fromImage(e.load.image)
        return e.pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        e = self._entry
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)

        if self._drag_over:
            p.setBrush(accent(pal, 0.18))
        elif self._hover:
            p.setBrush(accent(pal, 0.07))
        else:
            p.setBrush(pal.color(QPalette.ColorRole.Base if e else QPalette.ColorRole.Window))
        if self._drag_over or self.hasFocus():
            p.setPen(QPen(accent(pal), 2))
        elif e is not None and e.problem:
            p.setPen(QPen(problem_color(pal), 1.5))
        elif self._hover:
            p.setPen(QPen(accent(pal, 0.7), 1))
        else:
            pen = QPen(subtle_line(pal), 1)
            if e is None:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
        p.drawRoundedRect(frame, 8, 8)

        thumb = self._thumb_rect()
        pm = self._pixmap()
        if pm is not None:
            size = pm.deviceIndependentSize()
            scale = min(1.0, thumb.width() / size.width(), thumb.height() / size.height())
            w, h = size.width() * scale, size.height() * scale
            target = QRectF(thumb.center().x() - w / 2, thumb.center().y() - h / 2, w, h)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(target, pm, QRectF(pm.rect()))
        elif e is None:
            p.setPen(muted_text(pal))
            p.drawText(thumb, Qt.AlignmentFlag.AlignCenter, self.tr("Drop image\nor click"))
        elif not e.loading and e.problem:
            # No picture to show: the reason takes the picture's place, where the eye goes.
            self._paint_problem_box(p, pal, thumb.adjusted(4, 20, -4, -2), e.problem)
        elif not e.loading:
            p.setPen(muted_text(pal))
            p.drawText(thumb, Qt.AlignmentFlag.AlignCenter, self.tr("No preview"))

        self._paint_badge(p, pal)
        self._paint_caption(p, pal, thumb)
        p.end()

    def _paint_problem_box(self, p: QPainter, pal: QPalette, box: QRectF, problem: str) -> None:
        p.setPen(problem_color(pal))
        mark = self.font()
        mark.setPointSizeF(mark.pointSizeF() * 1.6)
        p.setFont(mark)
        mark_h = QFontMetrics(mark).height()
        p.drawText(
            QRectF(box.left(), box.top(), box.width(), mark_h), Qt.AlignmentFlag.AlignCenter, "⚠"
        )
        font = self._small_font()
        p.setFont(font)
        fm = QFontMetrics(font)
        text_box = box.adjusted(0, mark_h, 0, 0)
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        text = problem
        # Drop words from the end until the sentence fits; the tooltip has all of it.
        words = problem.split()
        while (
            len(words) > 1
            and fm.boundingRect(text_box.toRect(), flags, text).height() > text_box.height()
        ):
            words.pop()
            text = " ".join(words).rstrip(",.;:") + "…"
        p.drawText(text_box, flags, text)

    def _paint_badge(self, p: QPainter, pal: QPalette) -> None:
        # The number matters: Seedream prompts refer to inputs as "image 1", "image 2", ...
        label = f"{self.index + 1}"
        if self.index == 0:
            label = self.tr("1 ★ Main")
        font = self._small_font()
        font.setBold(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        w = fm.horizontalAdvance(label) + 10
        h = fm.height() + 2
        rect = QRectF(SLOT_MARGIN + 2, SLOT_MARGIN + 2, max(w, h), h)
        if self.index == 0:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(accent(pal, 0.92))
            p.drawRoundedRect(rect, h / 2, h / 2)
            p.setPen(pal.color(QPalette.ColorRole.HighlightedText))
        else:
            p.setPen(Qt.PenStyle.NoPen)
            bg = pal.color(QPalette.ColorRole.Window)
            bg.setAlphaF(0.85)
            p.setBrush(bg)
            p.drawRoundedRect(rect, h / 2, h / 2)
            p.setPen(muted_text(pal))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)

    def _paint_caption(self, p: QPainter, pal: QPalette, thumb: QRectF) -> None:
        font = self._small_font()
        p.setFont(font)
        fm = QFontMetrics(font)
        line_h = fm.lineSpacing()
        x = SLOT_MARGIN + 2
        width = self.width() - 2 * x
        y = thumb.bottom() + 4
        for i, line in enumerate(self.caption_lines()):
            p.setPen(pal.color(QPalette.ColorRole.WindowText) if i == 0 else muted_text(pal))
            text = fm.elidedText(line, Qt.TextElideMode.ElideMiddle, int(width))
            p.drawText(QRect(x, int(y), int(width), line_h), Qt.AlignmentFlag.AlignHCenter, text)
            y += line_h
        problem = self.problem_text()
        if problem and self._pixmap() is not None:
            bold = QFontMetrics(font)
            p.setPen(problem_color(pal))
            text = bold.elidedText("⚠ " + problem, Qt.TextElideMode.ElideRight, int(width))
            p.drawText(QRect(x, int(y), int(width), line_h), Qt.AlignmentFlag.AlignHCenter, text)


class _ClearButton(QToolButton):
    """A small round × that stays readable on top of any photo."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setText("×")
        self.setAttribute(Qt.WidgetAttribute.WA_Hover, True)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        r = QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5)
        hot = self.underMouse() or self.isDown()
        bg = accent(pal) if hot else pal.color(QPalette.ColorRole.Window)
        if not hot:
            bg.setAlphaF(0.9)
        p.setBrush(bg)
        p.setPen(QPen(accent(pal), 2) if self.hasFocus() else QPen(subtle_line(pal), 1))
        p.drawEllipse(r)
        fg = pal.color(QPalette.ColorRole.HighlightedText if hot else QPalette.ColorRole.WindowText)
        pen = QPen(fg, 1.6)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        c = r.center()
        d = r.width() * 0.2
        p.drawLine(QPointF(c.x() - d, c.y() - d), QPointF(c.x() + d, c.y() + d))
        p.drawLine(QPointF(c.x() - d, c.y() + d), QPointF(c.x() + d, c.y() - d))
        p.end()


class SlotGrid(QWidget):
    """Ten slots, 2 × 5, always filled from the first one with no gaps (order is meaningful)."""

    changed = Signal()
    message = Signal(str)
    info_ready = Signal(int)

    def __init__(
        self,
        paste_dir: Path,
        worker: ImageWorker | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("slotGrid")
        self.setAccessibleName(self.tr("Input images"))
        self._paste_dir = Path(paste_dir)
        self._worker = worker or ImageWorker(self)
        self._entries: list[SlotEntry] = []
        self._chooser: FileChooser = self._default_chooser
        self._last_dir = ""
        self._paste_counter = itertools.count(1)
        token = f"{id(self):x}"

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.slots: list[ImageSlot] = []
        for i in range(SLOT_COUNT):
            slot = ImageSlot(i, token, self)
            slot.files_dropped.connect(self._on_files_dropped)
            slot.move_requested.connect(self.move)
            slot.browse_requested.connect(self.browse)
            slot.clear_requested.connect(self.remove)
            slot.move_first_requested.connect(lambda i: self.move(i, 0))
            slot.paste_requested.connect(self.paste)
            slot.focus_neighbour.connect(self._focus_neighbour)
            layout.addWidget(slot, i // SLOT_COLUMNS, i % SLOT_COLUMNS)
            self.slots.append(slot)
        layout.setRowStretch(2, 1)
        layout.setColumnStretch(SLOT_COLUMNS, 1)

    # -- queries -----------------------------------------------------------------------------

    def slot(self, i: int) -> ImageSlot:
        return self.slots[i]

    def paths(self) -> list[Path]:
        return [e.path for e in self._entries]

    def slot_info(self, i: int) -> ImageInfo | None:
        if 0 <= i < len(self._entries) and self._entries[i].load is not None:
            return self._entries[i].load.info
        return None

    def problems(self) -> dict[int, str]:
        """Slots whose file cannot be used, with the reason (the caller disables Run)."""
        out: dict[int, str] = {}
        for i, e in enumerate(self._entries):
            if e.load and e.load.problem:
                out[i] = e.load.problem_detail or e.load.problem
        return out

    def is_loading(self) -> bool:
        return any(e.loading for e in self._entries)

    def free_slots(self) -> int:
        return SLOT_COUNT - len(self._entries)

    # -- edits -------------------------------------------------------------------------------

    def add_files(self, paths: Iterable[Path], at: int | None = None) -> list[Path]:
        """Add files from slot ``at`` on (default: the first free slot); returns those refused.

        Dropped on a filled slot, the first file replaces that slot and the rest go right after
        it; files that do not fit are refused and nothing already in the grid is pushed out.
        """
        incoming: list[Path] = []
        refused: list[Path] = []
        present = {self._key(e.path) for e in self._entries}
        notes: list[str] = []
        for p in (Path(x) for x in paths):
            if not p.is_file():
                refused.append(p)
                notes.append(self.tr("{name} is not a file.").replace("{name}", p.name))
            elif self._key(p) in present:
                refused.append(p)
                notes.append(self.tr("{name} is already added.").replace("{name}", p.name))
            else:
                present.add(self._key(p))
                incoming.append(p)

        replace = at is not None and at < len(self._entries) and bool(incoming)
        room = self.free_slots() + (1 if replace else 0)
        overflow = incoming[room:]
        incoming = incoming[:room]
        if overflow:
            refused.extend(overflow)
            names = ", ".join(p.name for p in overflow[:MAX_NAMES_IN_MESSAGE])
            if len(overflow) > MAX_NAMES_IN_MESSAGE:
                names += ", …"
            if len(overflow) == 1:
                text = self.tr("Only {max} images fit: 1 file was not added ({names}).")
            else:
                text = self.tr("Only {max} images fit: {n} files were not added ({names}).")
            notes.insert(
                0,
                text.replace("{max}", str(SLOT_COUNT))
                .replace("{n}", str(len(overflow)))
                .replace("{names}", names),
            )

        if incoming:
            new = [SlotEntry(p) for p in incoming]
            if replace:
                assert at is not None
                self._forget(self._entries[at])
                self._entries[at : at + 1] = new
            else:
                self._entries.extend(new)
            for e in new:
                self._start_load(e)
            self._refresh()
        if notes:
            self.message.emit(" ".join(notes))
        return refused

    def set_paths(self, paths: Sequence[Path]) -> list[Path]:
        for e in self._entries:
            self._forget(e)
        had = bool(self._entries)
        self._entries = []
        refused = self.add_files(paths)
        if had and not self._entries:
            self._refresh()
        return refused

    def clear_all(self) -> None:
        if not self._entries:
            return
        for e in self._entries:
            self._forget(e)
        self._entries = []
        self._refresh()

    def remove(self, i: int) -> None:
        if 0 <= i < len(self._entries):
            self._forget(self._entries.pop(i))
            self._refresh()
            # Keep keyboard users where they were: the next image slid into this slot.
            target = min(i, max(0, len(self._entries) - 1))
            if self.slots[i].hasFocus() or self.slots[i].isAncestorOf(self.focusWidget()):
                self.slots[target].setFocus()

    def move(self, src: int, dst: int) -> None:
        """Move the image in ``src`` to position ``dst``; the others shift to make room."""
        if not 0 <= src < len(self._entries):
            return
        dst = min(max(dst, 0), len(self._entries) - 1)
        if src == dst:
            return
        self._entries.insert(dst, self._entries.pop(src))
        self._refresh()

    def replace(self, i: int, path: Path) -> list[Path]:
        return self.add_files([path], at=i)

    # -- user actions ------------------------------------------------------------------------

    def set_file_chooser(self, chooser: FileChooser) -> None:
        self._chooser = chooser

    def browse(self, i: int) -> None:
        """Ask for files: a filled slot is replaced by one file, an empty one takes several."""
        filled = i < len(self._entries)
        self._chooser(self, not filled, lambda paths: self.add_files(paths, at=i))

    def paste(self, i: int | None = None) -> None:
        """Paste files or image data from the clipboard into slot ``i`` (default: next free)."""
        clipboard = QGuiApplication.clipboard()
        md = clipboard.mimeData()
        files = local_files(md) if md is not None else []
        if files:
            self.add_files(files, at=i)
            return
        if md is None or not md.hasImage():
            self.message.emit(self.tr("The clipboard holds no image to paste."))
            return
        if self.free_slots() == 0 and (i is None or i >= len(self._entries)):
            self.message.emit(
                self.tr("Only {max} images fit: clear a slot first.").replace(
                    "{max}", str(SLOT_COUNT)
                )
            )
            return
        image = clipboard.image()
        if image.isNull():
            self.message.emit(self.tr("The clipboard image could not be read."))
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self._paste_dir / f"pasted-{stamp}-{next(self._paste_counter)}.png"

        def save() -> Path:
            # Encoding a screen-sized PNG takes long enough to stutter the GUI: worker thread.
            self._paste_dir.mkdir(parents=True, exist_ok=True)
            if not image.save(str(target), "PNG"):
                raise OSError(f"could not write {target}")
            return target

        def failed(err: BaseException) -> None:
            self.message.emit(
                self.tr("The pasted image could not be saved: {err}").replace("{err}", str(err))
            )

        self._worker.submit(
            save, on_done=lambda p: self.add_files([p], at=i), on_error=failed, owner=self
        )

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _key(p: Path) -> str:
        try:
            return str(p.resolve())
        except OSError:
            return str(p.absolute())

    def _on_files_dropped(self, i: int, paths: list[Path]) -> None:
        self.add_files(paths, at=i)

    def _focus_neighbour(self, i: int, step: int) -> None:
        j = i + step
        if 0 <= j < SLOT_COUNT:
            self.slots[j].setFocus(Qt.FocusReason.TabFocusReason)

    def _start_load(self, e: SlotEntry) -> None:
        dpr = self.devicePixelRatioF()
        self._worker.submit(
            load_slot_file,
            e.path,
            round(THUMB_SIDE * dpr),
            dpr,
            on_done=lambda load, e=e: self._loaded(e, load),
            on_error=lambda err, e=e: self._load_failed(e, err),
            key=("slot", e.id),
            owner=self,
        )

    def _forget(self, e: SlotEntry) -> None:
        self._worker.invalidate(("slot", e.id))

    def _loaded(self, e: SlotEntry, load: SlotLoad) -> None:
        if e not in self._entries:
            return
        e.loading = False
        e.load = load
        e.pixmap = None
        i = self._entries.index(e)
        self.slots[i].set_entry(e)
        self.info_ready.emit(i)
        self.changed.emit()

    def _load_failed(self, e: SlotEntry, err: BaseException) -> None:
        log.error("loading %s failed", e.path, exc_info=err)
        reason = self.tr("cannot be read")
        self._loaded(e, SlotLoad(None, reason, f"{e.path.name} {reason}: {err}"))

    def event(self, event: QEvent) -> bool:
        # Moved to a screen with another scale: thumbnails were decoded for the old one.
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            for e in self._entries:
                e.loading = e.load is None
                self._start_load(e)
        return super().event(event)

    def _refresh(self) -> None:
        for i, slot in enumerate(self.slots):
            slot.set_entry(self._entries[i] if i < len(self._entries) else None)
        self.changed.emit()

    def _default_chooser(
        self, parent: QWidget, several: bool, accept: Callable[[list[Path]], None]
    ) -> None:
        # open() rather than exec(): a nested modal loop inside qasync can re-enter coroutines.
        dialog = QFileDialog(
            parent, self.tr("Choose images") if several else self.tr("Replace image")
        )
        dialog.setObjectName("slotFileDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setFileMode(
            QFileDialog.FileMode.ExistingFiles if several else QFileDialog.FileMode.ExistingFile
        )
        dialog.setNameFilters(
            [self.tr("Images ({f})").replace("{f}", IMAGE_FILTER), self.tr("All files (*)")]
        )
        if self._last_dir:
            dialog.setDirectory(self._last_dir)

        def chosen(files: list[str]) -> None:
            if files:
                self._last_dir = str(Path(files[0]).parent)
                accept([Path(f) for f in files])

        dialog.filesSelected.connect(chosen)
        dialog.open()
