"""Before/after comparison: a split view with a draggable divider or side by side, zoom and pan,
and a strip of results when a task made several images."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QMimeData,
    QModelIndex,
    QPointF,
    QRectF,
    QSize,
    QSizeF,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QDrag,
    QFocusEvent,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QImage,
    QImageReader,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rhdesk.ui.style import accent, muted_text, subtle_line
from rhdesk.ui.workers import ImageWorker

log = logging.getLogger(__name__)

ZOOM_STEP = 1.25
MAX_ZOOM_DEVICE = 32.0  # image pixels shown at most this many device pixels wide
MIN_ZOOM = 0.02
SPLIT_KEY_STEP = 0.05
SIDE_GAP = 8
STRIP_ICON = 64
BEFORE_MAX_SIDE = 4096  # inputs can be 24 MP; the comparison never needs more than this
NEAREST_ABOVE = 3.0  # zoom from which pixels are shown as squares, not blurred


class Mode(enum.Enum):
    SPLIT = "split"
    SIDE_BY_SIDE = "side"


def load_display_image(path: Path, max_side: int = 0) -> QImage:
    """Worker thread: decode upright, optionally shrunk while decoding (JPEG scales for free)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    if max_side:
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > max_side:
            reader.setScaledSize(
                size.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio)
            )
    image = reader.read()
    if image.isNull():
        raise OSError(f"{path.name}: {reader.errorString()}")
    return _displayable(image)


def _displayable(image: QImage) -> QImage:
    # The raster engine blits these two formats without a per-paint conversion.
    fmt = (
        QImage.Format.Format_ARGB32_Premultiplied
        if image.hasAlphaChannel()
        else QImage.Format.Format_RGB32
    )
    return image if image.format() == fmt else image.convertToFormat(fmt)


def _scaled(image: QImage, size: QSize) -> QImage:
    return image.scaled(
        size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def _icon_image(image: QImage, side: int) -> QImage:
    return image.scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


def _load_result(path: Path, icon_side: int) -> tuple[QImage, QImage]:
    image = load_display_image(path)
    return image, _icon_image(image, icon_side)


@dataclass
class _Scaled:
    size: QSize  # device pixels
    pixmap: QPixmap | None = None
    requested: bool = False


class CompareCanvas(QWidget):
    """Paints the two images. Image geometry follows the *after* image; the before image is
    stretched onto the same rectangle so that the divider compares the same spot."""

    split_changed = Signal(float)
    view_changed = Signal()  # zoom or pan
    drag_out = Signal()  # Alt+drag on the result: the owner starts a file drag

    def __init__(self, worker: ImageWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareCanvas")
        self.setAccessibleName(self.tr("Comparison image"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 180)
        self.setToolTip(
            self.tr(
                "Split view: drag or ←/→ to move the divider.\n"
                "Zoom: Ctrl+wheel or +/−; Ctrl+0 fits, Ctrl+1 shows 100 %.\n"
                "Pan: drag with the middle button or hold Space and drag "
                "(side by side: plain drag).\n"
                "Alt+drag the result to copy it into another app."
            )
        )
        self._worker = worker
        self._images: dict[str, QImage | None] = {"before": None, "after": None}
        self._scaled: dict[str, _Scaled | None] = {"before": None, "after": None}
        self._mode = Mode.SPLIT
        self._split = 0.5
        self._fit = True
        self._zoom = 1.0
        self._center = QPointF()  # reference-image point shown at the viewport centre
        self._space = False
        self._action: str | None = None  # "split", "pan", "dragout" while a button is held
        self._last = QPointF()
        self._press = QPointF()
        self._mouse: QPointF | None = None

    # -- state -------------------------------------------------------------------------------

    def set_image(self, role: str, image: QImage | None) -> None:
        had_geometry = self.reference_size()
        self._images[role] = (
            _displayable(image) if image is not None and not image.isNull() else None
        )
        self._scaled[role] = None
        self._worker.invalidate(("compare", id(self), role))
        if self.reference_size() != had_geometry:
            self._center = (
                QPointF(self.reference_size().width(), self.reference_size().height()) / 2
            )
        self._clamp_center()
        self.update()
        self.view_changed.emit()

    def image(self, role: str) -> QImage | None:
        return self._images[role]

    def has_content(self) -> bool:
        return any(self._images.values())

    def both(self) -> bool:
        return self._images["before"] is not None and self._images["after"] is not None

    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        if mode != self._mode:
            self._mode = mode
            self._clamp_center()
            self.update()
            self.view_changed.emit()

    def split(self) -> float:
        return self._split

    def set_split(self, value: float) -> None:
        value = min(1.0, max(0.0, value))
        if value != self._split:
            self._split = value
            self.update()
            self.split_changed.emit(value)

    def reference_size(self) -> QSize:
        ref = self._images["after"] or self._images["before"]
        return ref.size() if ref is not None else QSize()

    def is_fit(self) -> bool:
        return self._fit

    def scale(self) -> float:
        """Logical pixels per reference-image pixel at the current zoom."""
        return self._fit_scale() if self._fit else self._zoom

    def device_scale(self) -> float:
        return self.scale() * self.devicePixelRatioF()

    def zoom_to_fit(self) -> None:
        self._fit = True
        self._center = QPointF(self.reference_size().width(), self.reference_size().height()) / 2
        self.update()
        self.view_changed.emit()

    def zoom_actual(self, around: QPointF | None = None) -> None:
        # 100 % means one image pixel per *device* pixel, so High-DPI screens show real detail.
        self._set_zoom(1.0 / self.devicePixelRatioF(), around)

    def zoom_by(self, factor: float, around: QPointF | None = None) -> None:
        self._set_zoom(self.scale() * factor, around)

    def center(self) -> QPointF:
        return QPointF(self._center)

    def pan_by(self, dx: float, dy: float) -> None:
        s = self.scale()
        if s <= 0:
            return
        self._center -= QPointF(dx / s, dy / s)
        self._clamp_center()
        self.update()
        self.view_changed.emit()

    # -- geometry ----------------------------------------------------------------------------

    def viewports(self) -> list[QRectF]:
        r = QRectF(self.rect())
        if self._mode is Mode.SIDE_BY_SIDE and self.both():
            w = (r.width() - SIDE_GAP) / 2
            return [
                QRectF(r.left(), r.top(), w, r.height()),
                QRectF(r.left() + w + SIDE_GAP, r.top(), w, r.height()),
            ]
        return [r]

    def image_rect(self, viewport: QRectF) -> QRectF:
        ref = self.reference_size()
        s = self.scale()
        size = QSizeF(ref.width() * s, ref.height() * s)
        top_left = viewport.center() - QPointF(self._center.x() * s, self._center.y() * s)
        return QRectF(top_left, size)

    def split_x(self) -> float:
        vp = self.viewports()[0]
        return vp.left() + self._split * vp.width()

    def _fit_scale(self) -> float:
        ref = self.reference_size()
        if ref.isEmpty():
            return 1.0
        vp = self.viewports()[0]
        return max(MIN_ZOOM, min(vp.width() / ref.width(), vp.height() / ref.height()))

    def _viewport_at(self, pos: QPointF) -> QRectF:
        for vp in self.viewports():
            if vp.contains(pos):
                return vp
        return self.viewports()[0]

    def _set_zoom(self, scale: float, around: QPointF | None) -> None:
        if self.reference_size().isEmpty():
            return
        lo = min(MIN_ZOOM, self._fit_scale())
        hi = MAX_ZOOM_DEVICE / self.devicePixelRatioF()
        scale = min(hi, max(lo, scale))
        if around is None:
            inside = self._mouse is not None and any(
                v.contains(self._mouse) for v in self.viewports()
            )
            around = self._mouse if inside else self.viewports()[0].center()
        vp = self._viewport_at(around)
        old = self.scale()
        offset = around - vp.center()
        # Keep the image point under the cursor where it is.
        under = self._center + QPointF(offset.x() / old, offset.y() / old)
        self._fit = False
        self._zoom = scale
        self._center = under - QPointF(offset.x() / scale, offset.y() / scale)
        self._clamp_center()
        self.update()
        self.view_changed.emit()

    def _clamp_center(self) -> None:
        ref = self.reference_size()
        if ref.isEmpty():
            return
        s = self.scale()
        vp = self.viewports()[0]
        cx, cy = self._center.x(), self._center.y()
        half_w, half_h = vp.width() / 2 / s, vp.height() / 2 / s
        cx = (
            ref.width() / 2
            if half_w * 2 >= ref.width()
            else min(max(cx, half_w), ref.width() - half_w)
        )
        cy = (
            ref.height() / 2
            if half_h * 2 >= ref.height()
            else min(max(cy, half_h), ref.height() - half_h)
        )
        self._center = QPointF(cx, cy)

    def _can_pan(self) -> bool:
        ref = self.reference_size()
        if ref.isEmpty():
            return False
        vp = self.viewports()[0]
        s = self.scale()
        return ref.width() * s > vp.width() + 0.5 or ref.height() * s > vp.height() + 0.5

    # -- input -------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._last = self._press = pos
        button = event.button()
        mods = event.modifiers()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._action = "pan"
        elif button == Qt.MouseButton.LeftButton and mods & Qt.KeyboardModifier.AltModifier:
            self._action = "dragout"
        elif button == Qt.MouseButton.LeftButton:
            if self._mode is Mode.SPLIT and self.both():
                self._action = "split"
                self._split_to(pos.x())
            elif self._can_pan():
                self._action = "pan"
        if self._action == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        if self._action:
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._mouse = pos
        if self._action == "split":
            self._split_to(pos.x())
        elif self._action == "pan":
            delta = pos - self._last
            self.pan_by(delta.x(), delta.y())
        elif (
            self._action == "dragout"
            and (pos - self._press).manhattanLength() >= QApplication.startDragDistance()
        ):
            self._action = None
            self.drag_out.emit()
        else:
            self._update_hover_cursor(pos)
        self._last = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._action:
            self._action = None
            self._update_hover_cursor(event.position())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not (
            self._mode is Mode.SPLIT and self.both()
        ):
            if self._fit:
                self.zoom_actual(event.position())
            else:
                self.zoom_to_fit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: ANN001 - QEvent
        self._mouse = None
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.has_content():
            event.ignore()
            return
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120
            self.zoom_by(ZOOM_STEP**steps, event.position())
            event.accept()
        elif self._can_pan():
            pixel = event.pixelDelta()
            d = QPointF(pixel) if not pixel.isNull() else QPointF(delta) / 2
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                d = QPointF(d.y(), d.x())
            self.pan_by(d.x(), d.y())
            event.accept()
        else:
            event.ignore()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif (
            key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self._mode is Mode.SPLIT and self.both()
        ):
            step = SPLIT_KEY_STEP if key == Qt.Key.Key_Right else -SPLIT_KEY_STEP
            self.set_split(round((self._split + step) / SPLIT_KEY_STEP) * SPLIT_KEY_STEP)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(1 / ZOOM_STEP)
        elif (
            key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down)
            and self._can_pan()
        ):
            step = 40.0
            dx = {Qt.Key.Key_Left: step, Qt.Key.Key_Right: -step}.get(Qt.Key(key), 0.0)
            dy = {Qt.Key.Key_Up: step, Qt.Key.Key_Down: -step}.get(Qt.Key(key), 0.0)
            self.pan_by(dx, dy)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_hover_cursor(self._mouse)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space = False  # a Space release delivered elsewhere must not leave pan mode stuck
        self.update()
        super().focusOutEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.update()
        super().focusInEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001 - QResizeEvent
        self._clamp_center()
        super().resizeEvent(event)
        self.view_changed.emit()

    def _split_to(self, x: float) -> None:
        vp = self.viewports()[0]
        if vp.width() > 0:
            self.set_split((x - vp.left()) / vp.width())

    def _update_hover_cursor(self, pos: QPointF | None) -> None:
        if self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self._mode is Mode.SPLIT and self.both():
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self._can_pan():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    # -- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Window).darker(104))
        if not self.has_content():
            self._paint_empty(p, pal)
        elif self._mode is Mode.SIDE_BY_SIDE and self.both():
            left, right = self.viewports()
            for vp, role, label in (
                (left, "before", self.tr("Before")),
                (right, "after", self.tr("After")),
            ):
                p.save()
                p.setClipRect(vp)
                self._paint_image(p, role, self.image_rect(vp), vp)
                p.restore()
                self._paint_label(p, pal, label, vp, Qt.AlignmentFlag.AlignLeft)
        else:
            vp = self.viewports()[0]
            rect = self.image_rect(vp)
            if self.both():
                x = self.split_x()
                p.save()
                p.setClipRect(QRectF(vp.left(), vp.top(), x - vp.left(), vp.height()))
                self._paint_image(p, "before", rect, vp)
                p.restore()
                p.save()
                p.setClipRect(QRectF(x, vp.top(), vp.right() - x, vp.height()))
                self._paint_image(p, "after", rect, vp)
                p.restore()
                self._paint_divider(p, pal, x, vp)
                self._paint_label(p, pal, self.tr("Before"), vp, Qt.AlignmentFlag.AlignLeft)
                self._paint_label(p, pal, self.tr("After"), vp, Qt.AlignmentFlag.AlignRight)
            else:
                role = "after" if self._images["after"] is not None else "before"
                self._paint_image(p, role, rect, vp)
                if role == "before":
                    self._paint_label(p, pal, self.tr("Before"), vp, Qt.AlignmentFlag.AlignLeft)
        if self.hasFocus():
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(accent(pal, 0.8), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.end()

    def _paint_empty(self, p: QPainter, pal: QPalette) -> None:
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        p.setFont(font)
        p.setPen(muted_text(pal))
        text = self.tr(
            "Results appear here.\nDrop images on the left, write what to change, press Run."
        )
        box = QRectF(self.rect()).adjusted(32, 24, -32, -24)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _paint_image(self, p: QPainter, role: str, rect: QRectF, viewport: QRectF) -> None:
        image = self._images[role]
        if image is None or rect.isEmpty():
            return
        dpr = self.devicePixelRatioF()
        device = QSize(max(1, round(rect.width() * dpr)), max(1, round(rect.height() * dpr)))
        if device.width() <= image.width() and device.height() <= image.height():
            pixmap = self._scaled_pixmap(role, image, device)
            if pixmap is not None:
                # Snap to device pixels so the cached pixmap is blitted 1:1, never resampled.
                origin = QPointF(round(rect.left() * dpr) / dpr, round(rect.top() * dpr) / dpr)
                p.drawPixmap(origin, pixmap)
                return
        visible = rect.intersected(viewport)
        if visible.isEmpty():
            return
        sx, sy = image.width() / rect.width(), image.height() / rect.height()
        source = QRectF(
            (visible.left() - rect.left()) * sx,
            (visible.top() - rect.top()) * sy,
            visible.width() * sx,
            visible.height() * sy,
        )
        # Judged on the user's zoom, not this image's: an upsampled small input stays smooth
        # at 100 %, while pixel peeping at 300 %+ shows every image's pixels as squares.
        smooth = self.device_scale() < NEAREST_ABOVE
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        p.drawImage(visible, image, source)

    def _scaled_pixmap(self, role: str, image: QImage, device: QSize) -> QPixmap | None:
        """The whole image scaled to ``device`` pixels, made on the worker and cached; None while
        it is being made (the caller paints a quick resample meanwhile)."""
        cached = self._scaled[role]
        if cached is not None and cached.size == device:
            return cached.pixmap
        if device == image.size():
            pm = QPixmap.fromImage(image)
            pm.setDevicePixelRatio(self.devicePixelRatioF())
            self._scaled[role] = _Scaled(device, pm)
            return pm
        entry = _Scaled(device, None, True)
        self._scaled[role] = entry
        dpr = self.devicePixelRatioF()

        def done(scaled: QImage, entry: _Scaled = entry) -> None:
            if self._scaled.get(role) is entry:
                pm = QPixmap.fromImage(scaled)
                pm.setDevicePixelRatio(dpr)
                entry.pixmap = pm
                self.update()

        self._worker.submit(
            _scaled, image, device, on_done=done, key=("compare", id(self), role), owner=self
        )
        return None

    def _paint_divider(self, p: QPainter, pal: QPalette, x: float, vp: QRectF) -> None:
        # Accent-coloured rather than theme-coloured: it has to stand out on any photo.
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(subtle_line(pal), 4))
        p.drawLine(QPointF(x, vp.top()), QPointF(x, vp.bottom()))
        p.setPen(QPen(accent(pal), 2))
        p.drawLine(QPointF(x, vp.top()), QPointF(x, vp.bottom()))
        # The handle: a round knob with two arrowheads, so it reads as "drag sideways".
        c = QPointF(x, vp.center().y())
        radius = 14.0
        p.setPen(QPen(pal.color(QPalette.ColorRole.HighlightedText), 1.5))
        p.setBrush(accent(pal))
        p.drawEllipse(c, radius, radius)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(pal.color(QPalette.ColorRole.HighlightedText))
        for sign in (-1, 1):
            tip = c + QPointF(sign * 9, 0)
            path = QPainterPath(tip)
            path.lineTo(c + QPointF(sign * 3, -5))
            path.lineTo(c + QPointF(sign * 3, 5))
            path.closeSubpath()
            p.drawPath(path)
        p.restore()

    def _paint_label(
        self, p: QPainter, pal: QPalette, text: str, vp: QRectF, side: Qt.AlignmentFlag
    ) -> None:
        # On the picture's corner rather than the letterbox: that is where the eye is.
        shown = self.image_rect(vp).intersected(vp)
        if not shown.isEmpty():
            vp = shown
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = self.font()
        font.setBold(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        w, h = fm.horizontalAdvance(text) + 16, fm.height() + 6
        x = vp.left() + 10 if side == Qt.AlignmentFlag.AlignLeft else vp.right() - 10 - w
        rect = QRectF(x, vp.top() + 10, w, h)
        bg = QPalette(pal).color(QPalette.ColorRole.Window)
        bg.setAlphaF(0.82)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(rect, h / 2, h / 2)
        p.setPen(pal.color(QPalette.ColorRole.WindowText))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()


class _ThumbDelegate(QStyledItemDelegate):
    """Paints a result as its picture with a rounded accent frame when current; no caption."""

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = QRectF(option.rect).adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hover:
            p.setPen(QPen(accent(pal, 1.0 if selected else 0.5), 2.5 if selected else 1.5))
            p.setBrush(accent(pal, 0.15 if selected else 0.06))
            p.drawRoundedRect(rect, 6, 6)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon) and not icon.isNull():
            side = STRIP_ICON
            target = QRectF(rect.center().x() - side / 2, rect.center().y() - side / 2, side, side)
            icon.paint(p, target.toRect(), Qt.AlignmentFlag.AlignCenter)
        else:
            p.setPen(muted_text(pal))
            text = index.data(Qt.ItemDataRole.DisplayRole) or self.tr("Loading…")
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        if option.state & QStyle.StateFlag.State_HasFocus:
            p.setPen(QPen(accent(pal), 1, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect.adjusted(-1, -1, 1, 1), 7, 7)
        p.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(STRIP_ICON + 12, STRIP_ICON + 12)


class _ResultsStrip(QListWidget):
    """Thumbnails of a task's results; dragging one out gives other apps its file."""

    def __init__(self, owner: CompareView) -> None:
        super().__init__(owner)
        self._owner = owner

    def startDrag(self, supported: Qt.DropAction) -> None:
        row = self.currentRow()
        md = self._owner.result_mime_data(row)
        if md is None:
            return
        drag = QDrag(self)
        drag.setMimeData(md)
        item = self.currentItem()
        if item is not None and not item.icon().isNull():
            drag.setPixmap(
                item.icon().pixmap(QSize(STRIP_ICON, STRIP_ICON), self.devicePixelRatioF())
            )
        drag.exec(Qt.DropAction.CopyAction)


class CompareView(QWidget):
    """The comparison canvas with its toolbar and, for several results, a results strip."""

    current_result_changed = Signal(int)
    save_requested = Signal(int)
    open_folder_requested = Signal()

    def __init__(self, worker: ImageWorker | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setAccessibleName(self.tr("Before and after"))
        self._worker = worker or ImageWorker(self)
        self._results: list[QImage | None] = []
        self._paths: list[Path | None] = []
        self._current = -1

        self.canvas = CompareCanvas(self._worker, self)
        self.canvas.view_changed.connect(self._update_zoom_label)
        self.canvas.drag_out.connect(self._drag_current_out)

        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("compareToolbar")
        self.toolbar.setAccessibleName(self.tr("Comparison tools"))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setIconSize(QSize(16, 16))

        def action(name: str, text: str, tip: str, keys: QKeySequence | None) -> QAction:
            act = QAction(text, self)
            act.setObjectName(name)
            if keys is not None:
                act.setShortcut(keys)
                # Only while the comparison has focus: Ctrl+C must still copy text elsewhere.
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                tip = f"{tip} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})"
            act.setToolTip(tip)
            self.addAction(act)
            self.toolbar.addAction(act)
            button = self.toolbar.widgetForAction(act)
            if isinstance(button, QToolButton):
                button.setObjectName(name.replace("action", "button", 1))
                button.setAccessibleName(tip)
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            return act

        self.fit_action = action(
            "actionFit",
            self.tr("Fit"),
            self.tr("Fit the image in the view"),
            QKeySequence("Ctrl+0"),
        )
        self.actual_action = action(
            "actionActualSize",
            self.tr("100 %"),
            self.tr("One image pixel per screen pixel"),
            QKeySequence("Ctrl+1"),
        )
        self.zoom_out_action = action(
            "actionZoomOut",
            "−",
            self.tr("Zoom out"),
            QKeySequence(QKeySequence.StandardKey.ZoomOut),
        )
        self.zoom_in_action = action(
            "actionZoomIn", "+", self.tr("Zoom in"), QKeySequence(QKeySequence.StandardKey.ZoomIn)
        )
        self.zoom_label = QLabel(self.toolbar)
        self.zoom_label.setObjectName("compareZoomLabel")
        self.zoom_label.setAccessibleName(self.tr("Zoom level"))
        self.zoom_label.setToolTip(self.tr("Current zoom"))
        self.zoom_label.setMinimumWidth(
            QFontMetrics(self.font()).horizontalAdvance("Fit 100 %") + 12
        )
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.toolbar.addWidget(self.zoom_label)
        self.toolbar.addSeparator()
        self.side_action = action(
            "actionSideBySide",
            self.tr("Side by side"),
            self.tr("Show before and after next to each other instead of split"),
            QKeySequence("Ctrl+2"),
        )
        self.side_action.setCheckable(True)
        spacer = QWidget(self.toolbar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.save_action = action(
            "actionSaveAs",
            self.tr("Save As…"),
            self.tr("Save this result under another name"),
            QKeySequence("Ctrl+Shift+S"),
        )
        self.copy_action = action(
            "actionCopy",
            self.tr("Copy"),
            self.tr("Copy this result to the clipboard"),
            QKeySequence(QKeySequence.StandardKey.Copy),
        )
        self.folder_action = action(
            "actionOpenFolder",
            self.tr("Open folder"),
            self.tr("Show the results folder in the file manager"),
            None,
        )

        self.fit_action.setCheckable(True)
        self.fit_action.setChecked(True)
        self.fit_action.triggered.connect(lambda: self.canvas.zoom_to_fit())
        self.actual_action.triggered.connect(lambda: self.canvas.zoom_actual())
        self.zoom_in_action.triggered.connect(lambda: self.canvas.zoom_by(ZOOM_STEP))
        self.zoom_out_action.triggered.connect(lambda: self.canvas.zoom_by(1 / ZOOM_STEP))
        self.side_action.toggled.connect(
            lambda on: self.canvas.set_mode(Mode.SIDE_BY_SIDE if on else Mode.SPLIT)
        )
        self.save_action.triggered.connect(lambda: self.save_requested.emit(self._current))
        self.copy_action.triggered.connect(self.copy_current)
        self.folder_action.triggered.connect(self.open_folder_requested.emit)

        self.strip = _ResultsStrip(self)
        self.strip.setObjectName("resultsStrip")
        self.strip.setAccessibleName(self.tr("Results"))
        self.strip.setToolTip(
            self.tr("Pick a result to compare; drag one into another app to use its file")
        )
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setIconSize(QSize(STRIP_ICON, STRIP_ICON))
        self.strip.setSpacing(4)
        self.strip.setUniformItemSizes(True)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.setItemDelegate(_ThumbDelegate(self.strip))
        self.strip.setFrameShape(QFrame.Shape.NoFrame)
        self.strip.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        self.strip.setDragEnabled(True)
        self.strip.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.strip.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        scroll_h = self.strip.horizontalScrollBar().sizeHint().height()
        self.strip.setFixedHeight(STRIP_ICON + 12 + 2 * 4 + 2 * self.strip.frameWidth() + scroll_h)
        self.strip.currentRowChanged.connect(self._on_strip_row)
        self.strip.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.strip)
        self.setFocusProxy(self.canvas)
        self._update_actions()
        self._update_zoom_label()

    # -- content -----------------------------------------------------------------------------

    def set_before(self, image: QImage | Path | None) -> None:
        key = ("compare-before", id(self))
        if isinstance(image, Path):
            self._worker.submit(
                load_display_image,
                image,
                BEFORE_MAX_SIDE,
                on_done=lambda img: self.canvas.set_image("before", img),
                on_error=self._before_failed,
                key=key,
                owner=self,
            )
            return
        self._worker.invalidate(key)
        self.canvas.set_image("before", image)

    def set_results(self, items: Sequence[QImage | Path]) -> None:
        """Show a task's results; the first becomes "after". Paths load off the GUI thread."""
        self.strip.blockSignals(True)
        self.strip.clear()
        self.strip.blockSignals(False)
        self._results = [None] * len(items)
        self._paths = [item if isinstance(item, Path) else None for item in items]
        self._current = -1
        side = round(STRIP_ICON * self.devicePixelRatioF())
        for i, item in enumerate(items):
            # Icons only: the picture is the label; the name is for tooltips and screen readers.
            name = self.tr("Result {n}").replace("{n}", str(i + 1))
            entry = QListWidgetItem()
            entry.setData(Qt.ItemDataRole.AccessibleTextRole, name)
            entry.setToolTip(f"{name} · {item.name}" if isinstance(item, Path) else name)
            entry.setSizeHint(QSize(STRIP_ICON + 12, STRIP_ICON + 12))
            self.strip.addItem(entry)
            key = ("compare-result", id(self), i)
            if isinstance(item, Path):
                self._worker.submit(
                    _load_result,
                    item,
                    side,
                    on_done=lambda pair, i=i: self._result_loaded(i, *pair),
                    on_error=lambda err, i=i: self._result_failed(i, err),
                    key=key,
                    owner=self,
                )
            else:
                self._results[i] = _displayable(item)
                self._worker.submit(
                    _icon_image,
                    self._results[i],
                    side,
                    on_done=lambda icon, i=i: self._set_icon(i, icon),
                    key=key,
                    owner=self,
                )
        self.strip.setVisible(len(items) > 1)
        if items:
            self.set_current(0)
        else:
            self.canvas.set_image("after", None)
        self._update_actions()

    def set_result_paths(self, paths: Sequence[Path | None]) -> None:
        """Where each result lives on disk (for drag-out); results given as images can get
        their files later, once saved."""
        self._paths = list(paths) + [None] * max(0, len(self._results) - len(paths))
        for i, p in enumerate(self._paths[: self.strip.count()]):
            if p is not None:
                self.strip.item(i).setToolTip(p.name)
        self._update_actions()

    def result_paths(self) -> list[Path | None]:
        return list(self._paths)

    def clear(self) -> None:
        self.set_before(None)
        self.set_results([])

    def results_count(self) -> int:
        return len(self._results)

    def current_result(self) -> int:
        return self._current

    def current_image(self) -> QImage | None:
        if 0 <= self._current < len(self._results):
            return self._results[self._current]
        return None

    def set_current(self, i: int) -> None:
        if not 0 <= i < len(self._results) or i == self._current:
            return
        self._current = i
        if self.strip.currentRow() != i:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(i)
            self.strip.blockSignals(False)
        self.canvas.set_image("after", self._results[i])
        self._update_actions()
        self.current_result_changed.emit(i)

    # -- actions -----------------------------------------------------------------------------

    def result_mime_data(self, i: int) -> QMimeData | None:
        """What dragging result ``i`` out of the app carries: its file, which every file
        manager, browser upload field and image editor understands."""
        if not 0 <= i < len(self._paths) or self._paths[i] is None:
            return None
        path = self._paths[i]
        assert path is not None
        md = QMimeData()
        md.setUrls([QUrl.fromLocalFile(str(path.resolve()))])
        return md

    def copy_current(self) -> bool:
        image = self.current_image()
        if image is None:
            return False
        QGuiApplication.clipboard().setImage(image)
        return True

    def _drag_current_out(self) -> None:
        md = self.result_mime_data(self._current)
        if md is None:
            return
        drag = QDrag(self.canvas)
        drag.setMimeData(md)
        image = self.current_image()
        if image is not None:
            drag.setPixmap(QPixmap.fromImage(_icon_image(image, STRIP_ICON)))
        drag.exec(Qt.DropAction.CopyAction)

    def _on_strip_row(self, row: int) -> None:
        if row >= 0:
            self.set_current(row)

    def _result_loaded(self, i: int, image: QImage, icon: QImage) -> None:
        if i >= len(self._results):
            return
        self._results[i] = image
        self._set_icon(i, icon)
        if i == self._current:
            self.canvas.set_image("after", image)
        self._update_actions()

    def _before_failed(self, err: BaseException) -> None:
        log.warning("could not show the before image: %s", err)
        self.canvas.set_image("before", None)

    def _result_failed(self, i: int, err: BaseException) -> None:
        log.warning("could not show result %d: %s", i + 1, err)
        item = self.strip.item(i)
        if item is not None:
            item.setText(self.tr("Unreadable"))
            item.setToolTip(str(err))

    def _set_icon(self, i: int, icon: QImage) -> None:
        item = self.strip.item(i)
        if item is not None:
            pm = QPixmap.fromImage(icon)
            pm.setDevicePixelRatio(self.devicePixelRatioF())
            item.setIcon(QIcon(pm))

    def _update_actions(self) -> None:
        has_result = self.current_image() is not None
        for act in (
            self.fit_action,
            self.actual_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.side_action,
        ):
            act.setEnabled(self.canvas.has_content())
        self.save_action.setEnabled(0 <= self._current < len(self._results))
        self.copy_action.setEnabled(has_result)

    def _update_zoom_label(self) -> None:
        self.fit_action.setChecked(self.canvas.is_fit())
        self._update_actions()
        if not self.canvas.has_content():
            self.zoom_label.setText("")
            return
        percent = self.canvas.device_scale() * 100
        text = f"{percent:.0f} %" if percent >= 10 else f"{percent:.1f} %"
        if self.canvas.is_fit():
            text = self.tr("Fit {p}").replace("{p}", text)
        self.zoom_label.setText(text)
