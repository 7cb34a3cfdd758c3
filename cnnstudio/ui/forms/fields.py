"""Typed editors for one :class:`~cnnstudio.core.params.Param` each: a layer parameter or a setting.

Each field shows a value with :meth:`ParamField.set_value` (silently) and emits
``committed(value)`` once per user change: spin boxes on Enter, focus loss or an arrow
step (keyboard tracking off, so typing ``32`` is one change, not two), text fields on
Enter or focus loss, boxes, sliders and drop-downs at once. The value is raw: the caller
coerces it through the Param, which is where invalid input is refused with a message.
The widget follows the Param (type, range, choices with their titles, doc as the tool
tip); a form may ask for a look (a suffix, a special text for the minimum) by keyword.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QSlider, QSpinBox,
                               QWidget)

from cnnstudio.core.params import Param

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12


class ParamField(QWidget):
    """Base class: an editor for one parameter; its tool tip is the parameter's doc."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        self.setToolTip(param.doc)

    def value(self) -> Any:
        """The value the editor shows now."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting ``committed``."""
        raise NotImplementedError

    def _emit(self, *_args) -> None:
        self.committed.emit(self.value())


def set_silently(widget: QWidget, setter, value: Any) -> None:
    """``setter(value)`` on ``widget`` with its signals blocked (a shown value is not an edit)."""
    widget.blockSignals(True)
    setter(value)
    widget.blockSignals(False)


def int_spin(param: Param, parent: QWidget, suffix: str = "", special: str = "", step: int = 1) -> QSpinBox:
    """A spin box over ``param``'s range that changes only on Enter, focus loss or a step."""
    box = QSpinBox(parent)
    box.setRange(-_INT_LIMIT if param.min is None else int(param.min), _INT_LIMIT if param.max is None else int(param.max))
    box.setKeyboardTracking(False)
    box.setSingleStep(step)
    box.setSuffix(suffix)
    box.setSpecialValueText(special)
    box.setMinimumWidth(56)  # a wide range must not make the inspector wider than its dock
    return box


class IntField(ParamField):
    """``int``: a spin box limited to the parameter's range; ``special`` is shown for the minimum ("off")."""

    def __init__(self, param: Param, parent: QWidget | None = None, suffix: str = "", special: str = "",
                 step: int = 1) -> None:
        super().__init__(param, parent)
        self.box = int_spin(param, self, suffix, special, step)
        self.box.valueChanged.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> int:
        return self.box.value()

    def set_value(self, value: Any) -> None:
        set_silently(self.box, self.box.setValue, int(value))


class _FloatSpin(QDoubleSpinBox):
    """A double spin box that shows values compactly (``0.001``, ``0.00392157``)."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt name)
        return f"{value:.8g}"


class FloatField(ParamField):
    """``float``: a double spin box limited to the parameter's range.

    A small positive default (a learning rate, a weight decay, an epsilon) steps by a tenth
    of the value's size; other values step by 0.05 (fractions) or 0.1.
    """

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = _FloatSpin(self)
        self.box.setDecimals(8)
        self.box.setRange(-_FLOAT_LIMIT if param.min is None else param.min, _FLOAT_LIMIT if param.max is None else param.max)
        if isinstance(param.default, float) and 0 < param.default < 0.01:
            self.box.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
        else:
            self.box.setSingleStep(0.05 if param.max is not None and param.max <= 1 else 0.1)
        self.box.setKeyboardTracking(False)
        self.box.setMinimumWidth(72)
        self.box.valueChanged.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> float:
        return self.box.value()

    def set_value(self, value: Any) -> None:
        set_silently(self.box, self.box.setValue, float(value))


class PercentField(ParamField):
    """A ``float`` fraction of 0..1 edited as a whole percentage (data splits)."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QSpinBox(self)
        self.box.setRange(round(100 * (param.min or 0)), round(100 * (1 if param.max is None else param.max)))
        self.box.setSuffix(" %")
        self.box.setKeyboardTracking(False)
        self.box.valueChanged.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> float:
        return self.box.value() / 100

    def set_value(self, value: Any) -> None:
        set_silently(self.box, self.box.setValue, round(float(value) * 100))


class SliderField(ParamField):
    """A ``float`` of 0..1 as a slider in hundredths, with its value beside it (generator sliders)."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.slider = QSlider(Qt.Horizontal, self)
        self.slider.setRange(0, 100)
        self.label = QLabel("0.00", self)
        self.label.setMinimumWidth(30)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.row.addWidget(self.slider, 1)
        self.row.addWidget(self.label)

    def _on_slider_value_changed(self, v: int) -> None:
        self.label.setText(f"{v / 100:.2f}")
        self._emit()

    def value(self) -> float:
        return self.slider.value() / 100

    def set_value(self, value: Any) -> None:
        set_silently(self.slider, self.slider.setValue, round(float(value) * 100))
        self.label.setText(f"{self.value():.2f}")


class BoolField(ParamField):
    """``bool``: a check box, with ``text`` beside it where the form has no label for it."""

    def __init__(self, param: Param, parent: QWidget | None = None, text: str = "") -> None:
        super().__init__(param, parent)
        self.box = QCheckBox(text, self)
        self.box.toggled.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        set_silently(self.box, self.box.setChecked, bool(value))


class ChoiceField(ParamField):
    """``choice``: a drop-down of the allowed values, shown by their titles."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QComboBox(self)
        for choice in param.choices:
            self.box.addItem(param.title(choice))
        self.box.activated.connect(self._emit)  # user picks only, never programmatic changes
        self.row.addWidget(self.box)

    def value(self) -> Any:
        return self.param.choices[self.box.currentIndex()]

    def set_value(self, value: Any) -> None:
        if value in self.param.choices:
            self.box.setCurrentIndex(self.param.choices.index(value))


class TextField(ParamField):
    """Types typed as text (``shape``, ``floats``, free-length ``ints``, ``str``): a line edit.

    The Param parses the text (``'3x3'``, ``'-0.2, 0.3'``); a value it refuses keeps the
    text so it can be corrected.
    """

    PLACEHOLDERS = {"shape": "e.g. 28x28x1", "floats": "e.g. 0.1 or -0.2, 0.3", "ints": "e.g. 7, 7, 1"}

    def __init__(self, param: Param, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(param, parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder or self.PLACEHOLDERS.get(param.type, ""))
        self.edit.editingFinished.connect(self._on_edit_finished)
        self.row.addWidget(self.edit)
        self._last = ""

    def _on_edit_finished(self) -> None:
        if self.edit.text() != self._last:  # Enter then focus loss must not apply twice
            self._last = self.edit.text()
            self._emit()

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: Any) -> None:
        if self.param.type == "shape":
            text = "x".join("None" if d is None else str(d) for d in value)
        elif self.param.type in ("ints", "floats") and isinstance(value, (tuple, list)):
            text = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = str(value)
        self._last = text
        self.edit.setText(text)


class OptionalField(ParamField):
    """An optional parameter: an 'auto' (or 'none') check box in front of the typed editor."""

    def __init__(self, param: Param, inner: ParamField, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.inner = inner
        self.auto = QCheckBox("auto" if "empty" in param.doc or param.name == "strides" else "none", self)
        self.auto.setToolTip(f"{param.doc}\nChecked: no value (None); Keras decides.")
        self.auto.toggled.connect(self._on_auto_toggled)
        inner.committed.connect(self.committed)
        self.row.addWidget(self.auto)
        self.row.addWidget(inner, 1)
        inner.set_value(_placeholder(param))

    def _on_auto_toggled(self, checked: bool) -> None:
        self.inner.setEnabled(not checked)
        self._emit()

    def value(self) -> Any:
        return None if self.auto.isChecked() else self.inner.value()

    def set_value(self, value: Any) -> None:
        set_silently(self.auto, self.auto.setChecked, value is None)
        self.inner.setEnabled(value is not None)
        if value is not None:
            self.inner.set_value(value)


def _placeholder(param: Param) -> Any:
    """What an optional parameter's editor shows while it is set to None: the smallest sensible value."""
    low = 0 if param.min is None or param.min <= 0 else param.min
    if param.type == "ints":
        return (max(int(low), 1),) * (param.length or 1)
    if param.type in ("int", "float", "floats"):
        return low
    return ""
