"""The prompt editor: live length check against the model's limits, Ctrl+Enter runs, recent prompts."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rhdesk.ui.style import muted_text, problem_color, set_text_color

DEFAULT_MIN_CHARS = 5
DEFAULT_MAX_CHARS = 2000
RECENT_LABEL_CHARS = 70  # menu entries are one line; the tooltip has the whole prompt


class PromptEdit(QWidget):
    text_changed = Signal(str)
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptPanel")
        self._min = DEFAULT_MIN_CHARS
        self._max = DEFAULT_MAX_CHARS
        self._recent: list[str] = []

        self.edit = QPlainTextEdit(self)
        self.edit.setObjectName("promptEdit")
        self.edit.setAccessibleName(self.tr("Prompt"))
        self.edit.setPlaceholderText(
            self.tr(
                "Describe the change, e.g. “Replace the grey sky with a warm sunset; keep the "
                "people and the building unchanged.” Refer to inputs as image 1, image 2…"
            )
        )
        self.edit.setToolTip(
            self.tr("What should change in the images. Ctrl+Enter runs; Ctrl+Z undoes.")
        )
        # Lines wrap at the widget's width, so a horizontal scrollbar would only ever be noise.
        self.edit.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.edit.setTabChangesFocus(True)  # keyboard users must be able to leave the editor
        self.edit.setMinimumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.edit.installEventFilter(self)
        self.edit.textChanged.connect(self._on_text_changed)

        self.recent_button = QToolButton(self)
        self.recent_button.setObjectName("recentPromptsButton")
        self.recent_button.setText(self.tr("Recent"))
        self.recent_button.setAccessibleName(self.tr("Recent prompts"))
        self.recent_button.setToolTip(self.tr("Reuse a prompt you ran before (Ctrl+Z to go back)"))
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_menu.setObjectName("recentPromptsMenu")
        self.recent_button.setMenu(self.recent_menu)
        self.recent_button.setEnabled(False)

        self.reason_label = QLabel(self)
        self.reason_label.setObjectName("promptReason")
        self.reason_label.setAccessibleName(self.tr("Prompt problem"))
        self.reason_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.counter_label = QLabel(self)
        self.counter_label.setObjectName("promptCounter")
        self.counter_label.setAccessibleName(self.tr("Prompt length"))
        self.counter_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.recent_button)
        row.addWidget(self.reason_label, 1)
        row.addWidget(self.counter_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addLayout(row)
        self.setFocusProxy(self.edit)
        self._update_counter()

    # -- public API --------------------------------------------------------------------------

    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the whole prompt as one undoable edit (Ctrl+Z brings the old text back)."""
        if text == self.text():
            return
        cursor = QTextCursor(self.edit.document())
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)

    def set_limits(self, min_chars: int, max_chars: int) -> None:
        self._min, self._max = min_chars, max_chars
        self._update_counter()

    def limits(self) -> tuple[int, int]:
        return self._min, self._max

    def set_recent(self, prompts: Sequence[str]) -> None:
        self._recent = [p for p in prompts if p.strip()]
        self.recent_menu.clear()
        for i, prompt in enumerate(self._recent):
            one_line = " ".join(prompt.split())
            label = self.fontMetrics().elidedText(
                one_line,
                Qt.TextElideMode.ElideRight,
                self.fontMetrics().averageCharWidth() * RECENT_LABEL_CHARS,
            )
            action = self.recent_menu.addAction(label.replace("&", "&&"))
            action.setObjectName(f"recentPrompt{i}")
            action.setToolTip(prompt)
            action.triggered.connect(lambda _=False, p=prompt: self.set_text(p))
        self.recent_menu.setToolTipsVisible(True)
        self.recent_button.setEnabled(bool(self._recent))

    def recent(self) -> list[str]:
        return list(self._recent)

    def problem(self) -> str:
        """Why the prompt cannot be sent as it is, or "" (mirrors core.validation.check_prompt)."""
        text = self.text()
        stripped = len(text.strip())
        if stripped < self._min:
            return self.tr("at least {n} characters").replace("{n}", str(self._min))
        if len(text) > self._max:
            over = len(text) - self._max
            return self.tr("{n} over the limit").replace("{n}", f"{over:,}")
        return ""

    def is_valid(self) -> bool:
        return not self.problem()

    def counter_text(self) -> str:
        return self.counter_label.text()

    # -- internals ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if key_event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                key_event.modifiers() & Qt.KeyboardModifier.ControlModifier
            ):
                self.run_requested.emit()
                return True
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        # The counter's colours were computed from the palette: redo them on a theme switch.
        if event.type() == QEvent.Type.PaletteChange:
            self._update_counter()
        super().changeEvent(event)

    def _on_text_changed(self) -> None:
        self._update_counter()
        self.text_changed.emit(self.text())

    def _update_counter(self) -> None:
        n = len(self.text())
        self.counter_label.setText(f"{n:,} / {self._max}")
        problem = self.problem()
        # An empty prompt is the normal starting state: say what is needed, but not in red.
        shout = bool(problem) and bool(self.text())
        red = problem_color(self.palette())
        set_text_color(self.counter_label, red if shout else muted_text(self.palette()))
        set_text_color(self.reason_label, red if shout else muted_text(self.palette()))
        self.reason_label.setText(problem)
        self.counter_label.setProperty("problem", shout)
        tip = self.tr("Between {min} and {max} characters").replace("{min}", str(self._min))
        self.counter_label.setToolTip(tip.replace("{max}", f"{self._max:,}"))
