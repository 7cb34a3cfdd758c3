"""Form fields bound to a key of a project settings dict: read, write, and tell when edited.

Each :class:`Field` wraps one widget; a :class:`FieldSet` collects fields per settings
section (``data``, ``preprocessing``, ``training``), loads them from the project without
echoing edits back, and emits ``edited`` when the user changes any of them.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QSpinBox,
                               QWidget)

from cnnstudio.core.params import Param


class Field:
    """A widget bound to ``section[key]`` through a getter, a setter and its change signal."""

    def __init__(self, section: str, key: str, widget: QWidget, get: Callable[[], Any],
                 put: Callable[[Any], None], signal) -> None:
        self.section, self.key, self.widget, self.get, self.put, self.signal = section, key, widget, get, put, signal


class FieldSet(QObject):
    """Fields of one form; ``edited`` fires on a user change (not on :meth:`load`)."""

    edited = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fields: list[Field] = []
        self._touched: list[Field] = []  # edited by the user since the last take_edits()
        self._loading = False

    def add(self, field: Field) -> QWidget:
        """Register ``field``; returns its widget (for layouts)."""
        self.fields.append(field)
        field.signal.connect(lambda *_args: self._on_field_changed(field))
        return field.widget

    def _on_field_changed(self, field: Field) -> None:
        if not self._loading:
            self._touched.append(field)
            self.edited.emit()

    def load(self, sections: dict[str, dict[str, Any]]) -> None:
        """Show the values of ``sections`` (``{"training": {...}, ...}``)."""
        self._loading = True
        try:
            for f in self.fields:
                section = sections.get(f.section, {})
                if f.key in section and f.get() != section[f.key]:
                    f.put(section[f.key])
        finally:
            self._loading = False

    def take_edits(self) -> dict[str, dict[str, Any]]:
        """Values of the fields the user edited since the last call, by section."""
        out: dict[str, dict[str, Any]] = {}
        for f in self._touched:
            out.setdefault(f.section, {})[f.key] = f.get()
        self._touched = []
        return out

    # -- field makers ----------------------------------------------------------------
    def choice(self, section: str, param: Param, tip: str | None = None) -> QComboBox:
        """A drop-down of a settings parameter's choices, with their titles and its doc as the tip."""
        return self.combo(section, param.name, {c: param.title(c) for c in param.choices},
                          param.doc if tip is None else tip)

    def setting(self, section: str, param: Param, text: str = "", decimals: int = 4, **options) -> QWidget:
        """The widget for a settings parameter, from its description: its type, range, choices
        and doc (the tool tip). ``text`` labels a tick box; ``options`` go to :meth:`spin`."""
        if param.type == "choice":
            return self.choice(section, param)
        if param.type == "bool":
            return self.check(section, param.name, text, param.doc)
        if param.type == "int":
            return self.spin(section, param.name, int(param.min), int(param.max), tip=param.doc, **options)
        if param.type == "float":
            return self.number(section, param.name, param.min, param.max, decimals, param.doc)
        raise ValueError(f"no form widget for {param.type} setting {param.name!r}")

    def combo(self, section: str, key: str, choices: dict[str, str], tip: str = "") -> QComboBox:
        """A drop-down of ``{value: title}``."""
        w = QComboBox()
        w.setToolTip(tip)
        for value, title in choices.items():
            w.addItem(title, value)
        return self.add(Field(section, key, w, w.currentData,
                              lambda v: w.setCurrentIndex(max(0, w.findData(v))), w.currentIndexChanged))

    def spin(self, section: str, key: str, lo: int, hi: int, step: int = 1, suffix: str = "",
             tip: str = "", special: str = "") -> QSpinBox:
        """A whole-number box (``special`` is shown for the minimum, e.g. "off")."""
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setSuffix(suffix)
        w.setToolTip(tip)
        if special:
            w.setSpecialValueText(special)
        return self.add(Field(section, key, w, w.value, lambda v: w.setValue(int(v)), w.valueChanged))

    def number(self, section: str, key: str, lo: float, hi: float, decimals: int = 4, tip: str = "") -> QDoubleSpinBox:
        """A decimal box whose step adapts to the value's size (learning rates)."""
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setDecimals(decimals)
        w.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
        w.setToolTip(tip)
        return self.add(Field(section, key, w, w.value, lambda v: w.setValue(float(v)), w.valueChanged))

    def check(self, section: str, key: str, text: str, tip: str = "") -> QCheckBox:
        """A tick box."""
        w = QCheckBox(text)
        w.setToolTip(tip)
        return self.add(Field(section, key, w, w.isChecked, lambda v: w.setChecked(bool(v)), w.toggled))

    def percent(self, section: str, key: str, hi: int = 60, tip: str = "") -> QSpinBox:
        """A 0..1 fraction edited as a whole percentage."""
        w = QSpinBox()
        w.setRange(0, hi)
        w.setSuffix(" %")
        w.setToolTip(tip)
        return self.add(Field(section, key, w, lambda: w.value() / 100, lambda v: w.setValue(round(float(v) * 100)),
                              w.valueChanged))

    def size(self, section: str, key: str, lo: int = 8, hi: int = 1024) -> QWidget:
        """``[height, width]`` as two boxes."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        h, w = QSpinBox(), QSpinBox()
        for spin, tip in ((h, "height"), (w, "width")):
            spin.setRange(lo, hi)
            spin.setSuffix(" px")
            spin.setToolTip(tip)
            row.addWidget(spin)

        def put(v):
            h.setValue(int(v[0]))
            w.setValue(int(v[1]))

        return self.add(Field(section, key, box, lambda: [h.value(), w.value()], put,
                              AnyChanged([h.valueChanged, w.valueChanged], box).changed))

    def slider(self, section: str, key: str, tip: str = "") -> QWidget:
        """A 0..1 slider in hundredths, with its value beside it."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        s = QSlider(Qt.Horizontal)
        s.setRange(0, 100)
        s.setToolTip(tip)
        value = QLabel("0.00")
        value.setMinimumWidth(30)
        s.valueChanged.connect(lambda v: value.setText(f"{v / 100:.2f}"))
        row.addWidget(s, 1)
        row.addWidget(value)
        self.add(Field(section, key, box, lambda: s.value() / 100, lambda v: s.setValue(round(float(v) * 100)),
                       s.valueChanged))
        return box


class AnyChanged(QObject):
    """One ``changed`` signal for several widgets' signals (a field made of several widgets)."""

    changed = Signal()

    def __init__(self, signals, parent: QObject) -> None:
        super().__init__(parent)
        for signal in signals:
            signal.connect(self.changed)
