"""Output size: presets by aspect ratio and tier, "match first image", or custom width × height."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QSpinBox, QWidget

from rhdesk.core.catalogue import ModelSpec
from rhdesk.core.sizes import match_aspect, presets_for
from rhdesk.core.validation import Problem, check_size

MATCH = "match"
CUSTOM = "custom"


class SizePicker(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: ModelSpec | None = None
        self._first: tuple[int, int] | None = None
        self._chosen_by_user = False  # until the user picks, each model kind gets its default
        self.preset = QComboBox(self)
        self.preset.setObjectName("sizePicker")
        self.preset.setAccessibleName(self.tr("Output size"))
        self.preset.setToolTip(self.tr("Aspect ratio and resolution of the result"))
        self.width_spin = QSpinBox(self)
        self.width_spin.setObjectName("widthSpin")
        self.width_spin.setAccessibleName(self.tr("Width in pixels"))
        self.height_spin = QSpinBox(self)
        self.height_spin.setObjectName("heightSpin")
        self.height_spin.setAccessibleName(self.tr("Height in pixels"))
        for spin, tip in (
            (self.width_spin, self.tr("Width")),
            (self.height_spin, self.tr("Height")),
        ):
            spin.setRange(1, 20000)
            spin.setSuffix(" px")
            spin.setKeyboardTracking(True)
            spin.setToolTip(tip)
            spin.setAccelerated(True)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("sizeProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #d03030;")
        self.problem_label.hide()
        times = QLabel("×", self)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.preset, 0, 0, 1, 3)
        grid.addWidget(self.width_spin, 1, 0)
        grid.addWidget(times, 1, 1)
        grid.addWidget(self.height_spin, 1, 2)
        grid.addWidget(self.problem_label, 2, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(2, 1)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.preset.activated.connect(self._user_picked)
        self.width_spin.valueChanged.connect(self._spin_edited)
        self.height_spin.valueChanged.connect(self._spin_edited)

    # -- API --------------------------------------------------------------------------------
    def set_model(self, model: ModelSpec) -> None:
        previous = self.preset.currentData()
        self._model = model
        self.width_spin.setSingleStep(model.width.step)
        self.height_spin.setSingleStep(model.height.step)
        for spin, name, rng in (
            (self.width_spin, self.tr("Width"), model.width),
            (self.height_spin, self.tr("Height"), model.height),
        ):
            spin.setToolTip(
                self.tr(
                    "{name} of the result: {lo}–{hi} px in steps of {step}; at least "
                    "{px} pixels in all"
                ).format(
                    name=name, lo=rng.min, hi=rng.max, step=rng.step, px=f"{model.min_pixels:,}"
                )  # fmt: skip
            )
        with QSignalBlocker(self.preset):
            self.preset.clear()
            if model.takes_images:
                self.preset.addItem(self.tr("Match first image"), MATCH)
            for p in presets_for(model):
                self.preset.addItem(
                    f"{p.aspect[0]}:{p.aspect[1]} · {p.tier}  ({p.width}×{p.height})", p.key
                )
            self.preset.addItem(self.tr("Custom…"), CUSTOM)
        i = self.preset.findData(previous) if previous and self._chosen_by_user else -1
        if i < 0:
            i = self.preset.findData(MATCH if model.takes_images else "1:1@2K")
        self.preset.setCurrentIndex(max(0, i))
        self._preset_chosen()

    def set_first_image_size(self, size: tuple[int, int] | None) -> None:
        # The window calls this from its `changed` handler: re-emitting for an unchanged size
        # would recurse without end.
        if size == self._first:
            return
        self._first = size
        if self.preset.currentData() == MATCH:
            self._preset_chosen()

    def size(self) -> tuple[int, int]:
        return self.width_spin.value(), self.height_spin.value()

    def set_size(self, width: int, height: int) -> None:
        with QSignalBlocker(self.preset):
            self.preset.setCurrentIndex(self.preset.findData(CUSTOM))
        self._set_spins(width, height)
        self._validate()

    def problems(self) -> list[Problem]:
        if self._model is None:
            return []
        return check_size(self._model, *self.size())

    # -- internals --------------------------------------------------------------------------
    def _set_spins(self, w: int, h: int) -> None:
        with QSignalBlocker(self.width_spin), QSignalBlocker(self.height_spin):
            self.width_spin.setValue(w)
            self.height_spin.setValue(h)

    def _preset_chosen(self) -> None:
        if self._model is None:
            return
        key = self.preset.currentData()
        if key == MATCH:
            w, h = match_aspect(self._model, *(self._first or (1, 1)))
            self._set_spins(w, h)
        elif key != CUSTOM:
            for p in presets_for(self._model):
                if p.key == key:
                    self._set_spins(p.width, p.height)
        self._validate()

    def _user_picked(self, _index: int) -> None:
        self._chosen_by_user = True

    def _spin_edited(self) -> None:
        self._chosen_by_user = True
        if self.preset.currentData() != CUSTOM:
            with QSignalBlocker(self.preset):
                self.preset.setCurrentIndex(self.preset.findData(CUSTOM))
        self._validate()

    def _validate(self) -> None:
        problems = self.problems()
        self.problem_label.setText(" ".join(p.message for p in problems))
        self.problem_label.setVisible(bool(problems))
        bad_w = any(p.field in ("width", "size") for p in problems)
        bad_h = any(p.field in ("height", "size") for p in problems)
        self.width_spin.setProperty("invalid", bad_w)
        self.height_spin.setProperty("invalid", bad_h)
        for spin, bad in ((self.width_spin, bad_w), (self.height_spin, bad_h)):
            spin.setStyleSheet("QSpinBox { border: 1px solid #d03030; }" if bad else "")
        self.changed.emit()
