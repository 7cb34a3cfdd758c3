"""Editors made of several boxes: a tuple of ints per axis, (before, after) pairs, a set of names."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QToolButton, QWidget

from cnnstudio.core.params import Param

from cnnstudio.ui.forms.fields import ParamField, int_spin, set_silently


class IntsField(ParamField):
    """``ints`` of fixed length: one spin box per axis, with a toggle that keeps them equal.

    ``link=False`` leaves the toggle out (an image size, where square is not the rule).
    """

    def __init__(self, param: Param, parent: QWidget | None = None, suffix: str = "", link: bool = True) -> None:
        super().__init__(param, parent)
        self.boxes = [int_spin(param, self, suffix) for _ in range(param.length)]
        for box in self.boxes:
            box.valueChanged.connect(self._on_box_value_changed)
            self.row.addWidget(box, 1)
        self.link = QToolButton(self)
        self.link.setText("=")
        self.link.setCheckable(True)
        self.link.setToolTip("Keep every axis equal (a square window)")
        self.link.setVisible(link and param.length > 1)
        self.row.addWidget(self.link)
        self._linked_once = not link

    def _on_box_value_changed(self, v: int) -> None:
        if self.link.isChecked():
            for box in self.boxes:
                set_silently(box, box.setValue, v)
        self._emit()

    def value(self) -> tuple[int, ...]:
        return tuple(b.value() for b in self.boxes)

    def set_value(self, value: Any) -> None:
        vals = tuple(value)
        if not self._linked_once:  # a square window starts linked, a rectangular one does not
            self.link.setChecked(len(set(vals)) == 1)
            self._linked_once = True
        for box, v in zip(self.boxes, vals):
            set_silently(box, box.setValue, int(v))


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
            pair = [int_spin(param, self), int_spin(param, self)]
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
            set_silently(a, a.setValue, int(va))
            set_silently(b, b.setValue, int(vb))


class NamesField(ParamField):
    """``names`` with choices: a check box per choice (by its title), ``columns`` to a row."""

    def __init__(self, param: Param, parent: QWidget | None = None, columns: int = 1) -> None:
        super().__init__(param, parent)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        if columns > 1:
            grid.setSpacing(2)  # a table of short names (the shape classes) stays compact
        self.checks: dict[Any, QCheckBox] = {}
        for i, name in enumerate(param.choices):
            box = QCheckBox(param.title(name), self)
            box.toggled.connect(self._emit)
            grid.addWidget(box, i // columns, i % columns)
            self.checks[name] = box
        self.row.addLayout(grid)

    def value(self) -> tuple:
        return tuple(name for name, box in self.checks.items() if box.isChecked())

    def set_value(self, value: Any) -> None:
        for name, box in self.checks.items():
            set_silently(box, box.setChecked, name in value)
