"""Colours and small drawing helpers shared by the widgets, derived from the palette.

Only the problem red is fixed (it must read as "wrong" in any theme); everything else comes from
the current palette so light and dark system themes both work.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

_PROBLEM_RED_ON_LIGHT = QColor(0xC6, 0x28, 0x28)
_PROBLEM_RED_ON_DARK = QColor(0xFF, 0x6B, 0x6B)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def problem_color(palette: QPalette) -> QColor:
    return QColor(_PROBLEM_RED_ON_DARK if is_dark(palette) else _PROBLEM_RED_ON_LIGHT)


def accent(palette: QPalette, alpha: float = 1.0) -> QColor:
    c = QColor(palette.color(QPalette.ColorRole.Highlight))
    c.setAlphaF(alpha)
    return c


def subtle_line(palette: QPalette) -> QColor:
    """A frame colour a little off the background, visible on light and dark themes."""
    c = QColor(palette.color(QPalette.ColorRole.WindowText))
    c.setAlphaF(0.22)
    return c


def muted_text(palette: QPalette) -> QColor:
    c = QColor(palette.color(QPalette.ColorRole.WindowText))
    c.setAlphaF(0.62)
    return c


def set_text_color(widget: QWidget, color: QColor | None) -> None:
    """Colour a label's text through its palette (None restores the inherited colour)."""
    if color is None:
        widget.setPalette(QPalette())
        return
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.WindowText, color)
    pal.setColor(QPalette.ColorRole.Text, color)
    widget.setPalette(pal)
