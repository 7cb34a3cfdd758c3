"""Typed editors for catalog parameters, one per :class:`~cnnstudio.core.params.Param` type.

Each field shows a value with :meth:`ParamField.set_value` (silently) and emits
``committed(value)`` once per user change: spin boxes on Enter, focus loss or an arrow
step (keyboard tracking off, so typing ``32`` is one change, not two), text fields on
Enter or focus loss. The value is raw: the inspector coerces it through the catalog,
which is where invalid input is refused with a message.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QSpinBox, QToolButton, QWidget)

from cnnstudio.core.params import Param

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12


class ParamField(QWidget):
    """Base class: an editor for one parameter."""

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


class _FloatSpin(QDoubleSpinBox):
    """A double spin box that shows values compactly (``0.001``, ``0.00392157``)."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt name)
        return f"{value:.8g}"


def _int_spin(param: Param, parent: QWidget) -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(-_INT_LIMIT if param.min is None else int(param.min), _INT_LIMIT if param.max is None else int(param.max))
    box.setKeyboardTracking(False)
    box.setToolTip(param.doc)
    box.setMinimumWidth(56)  # a wide range must not make the inspector wider than its dock
    return box


class IntField(ParamField):
    """``int``: a spin box limited to the parameter's range."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = _int_spin(param, self)
        self.box.valueChanged.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> int:
        return self.box.value()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setValue(int(value))
        self.box.blockSignals(False)


class FloatField(ParamField):
    """``float``: a double spin box limited to the parameter's range."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = _FloatSpin(self)
        self.box.setDecimals(8)
        self.box.setRange(-_FLOAT_LIMIT if param.min is None else param.min, _FLOAT_LIMIT if param.max is None else param.max)
        self.box.setSingleStep(0.05 if param.max is not None and param.max <= 1 else 0.1)
        self.box.setKeyboardTracking(False)
        self.box.setMinimumWidth(72)
        self.box.valueChanged.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> float:
        return self.box.value()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setValue(float(value))
        self.box.blockSignals(False)


class BoolField(ParamField):
    """``bool``: a check box."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QCheckBox(self)
        self.box.toggled.connect(self._emit)
        self.row.addWidget(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class ChoiceField(ParamField):
    """``choice``: a combo box of the allowed values."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QComboBox(self)
        self.box.addItems([str(c) for c in param.choices])
        self.box.activated.connect(self._emit)  # user picks only, never programmatic changes
        self.row.addWidget(self.box)

    def value(self) -> Any:
        return self.param.choices[self.box.currentIndex()]

    def set_value(self, value: Any) -> None:
        if value in self.param.choices:
            self.box.setCurrentIndex(self.param.choices.index(value))


class IntsField(ParamField):
    """``ints`` of fixed length: one spin box per axis, with a toggle that keeps them equal."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.boxes = [_int_spin(param, self) for _ in range(param.length)]
        for box in self.boxes:
            box.valueChanged.connect(self._on_box_value_changed)
            self.row.addWidget(box, 1)
        self.link = QToolButton(self)
        self.link.setText("=")
        self.link.setCheckable(True)
        self.link.setToolTip("Keep every axis equal (a square window)")
        self.link.setVisible(param.length > 1)
        self.row.addWidget(self.link)
        self._linked_once = False

    def _on_box_value_changed(self, v: int) -> None:
        if self.link.isChecked():
            for box in self.boxes:
                box.blockSignals(True)
                box.setValue(v)
                box.blockSignals(False)
        self._emit()

    def value(self) -> tuple[int, ...]:
        return tuple(b.value() for b in self.boxes)

    def set_value(self, value: Any) -> None:
        vals = tuple(value)
        if not self._linked_once:  # a square window starts linked, a rectangular one does not
            self.link.setChecked(len(set(vals)) == 1)
            self._linked_once = True
        for box, v in zip(self.boxes, vals):
            box.blockSignals(True)
            box.setValue(int(v))
            box.blockSignals(False)


class PairsField(ParamField):
    """``pairs``: (before, after) spin boxes per spatial axis, as ZeroPadding2D's padding."""

    AXES = ("height", "width", "depth")

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        self.boxes = []
        for i in range(param.length or 2):
            axis = self.AXES[i] if i < len(self.AXES) else f"axis {i}"
            grid.addWidget(QLabel(f"{axis} ({'top, bottom' if i == 0 else 'left, right'})"), i, 0)
            pair = [_int_spin(param, self), _int_spin(param, self)]
            pair[0].setToolTip(f"{param.doc}\nBefore (top or left)")
            pair[1].setToolTip(f"{param.doc}\nAfter (bottom or right)")
            for col, box in enumerate(pair, 1):
                box.valueChanged.connect(self._emit)
                grid.addWidget(box, i, col)
            self.boxes.append(pair)
        self.row.addLayout(grid)

    def value(self) -> tuple[tuple[int, int], ...]:
        return tuple((a.value(), b.value()) for a, b in self.boxes)

    def set_value(self, value: Any) -> None:
        for (a, b), (va, vb) in zip(self.boxes, value):
            for box, v in ((a, va), (b, vb)):
                box.blockSignals(True)
                box.setValue(int(v))
                box.blockSignals(False)


class TextField(ParamField):
    """Types typed as text (``shape``, ``floats``, free-length ``ints``, ``str``): a line edit.

    The catalog parses the text; a value it refuses keeps the text so it can be corrected.
    """

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.edit = QLineEdit(self)
        self.edit.setToolTip(param.doc)
        self.edit.setPlaceholderText({"shape": "e.g. 28x28x1", "floats": "e.g. 0.1 or -0.2, 0.3",
                                      "ints": "e.g. 7, 7, 1"}.get(param.type, ""))
        self.edit.editingFinished.connect(self._on_edit_finished)
        self.row.addWidget(self.edit)
        self._last = ""

    def _on_edit_finished(self) -> None:
        if self.edit.text() != self._last:  # Enter then focus loss must not apply twice
            self._last = self.edit.text()
            self._emit()

    def value(self) -> Any:
        text = self.edit.text().strip()
        if self.param.type == "floats":
            parts = [x.strip() for x in text.split(",") if x.strip()]
            return parts if len(parts) > 1 else text
        return text

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
        self.auto.blockSignals(True)
        self.auto.setChecked(value is None)
        self.auto.blockSignals(False)
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


_FIELDS = {"int": IntField, "float": FloatField, "bool": BoolField, "choice": ChoiceField, "pairs": PairsField}


def make_field(param: Param, parent: QWidget | None = None) -> ParamField:
    """The editor for ``param``: typed by its type, wrapped in an 'auto' box when optional."""
    if param.type == "ints" and param.length:
        cls = IntsField
    else:
        cls = _FIELDS.get(param.type, TextField)
    field = cls(param, parent)
    return OptionalField(param, field, parent) if param.optional else field
