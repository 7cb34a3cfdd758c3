"""The convolution explorer: the lecture's CONVOLUTION chapter, made interactive.

An editable input grid and kernel, stride, padding, dilation and the operation
(:data:`cnnstudio.core.convarith.MODES`); a step control moves the window over the input,
showing the elementwise products and their sum, and the output-size formula with its numbers.
All arithmetic lives in :mod:`cnnstudio.core.convarith`; this module only shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from cnnstudio.core import convarith as ca
from cnnstudio.core.rules import ShapeError

from cnnstudio.ui.explorer.picture import ExplorerPicture

LECTURE_IMAGE = "Lecture 6×6 image"
LECTURE_POOL = "Lecture 4×4 pooling input"
LECTURE_SERIES = "Lecture 1-D series"
SMALL = "2×2 (the lecture's transposed convolution)"
RANDOM = "Random integers 0-9"
INPUT_PRESETS = (LECTURE_IMAGE, LECTURE_POOL, LECTURE_SERIES, SMALL, RANDOM)
IMAGE_MAX_SIDE = 28   # a loaded picture is shrunk to this many cells on its longer side, like MNIST
PLAY_MS = 650


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setMaximumWidth(72)
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _pair(first: QWidget, second: QWidget, between: str = "×") -> QHBoxLayout:
    row = QHBoxLayout()
    if between:  # two numbers: rows × columns
        for w in (first, QLabel(between), second):
            row.addWidget(w)
        row.addStretch(1)
    else:
        row.addWidget(first, 1)
        row.addWidget(second)
    return row


def _form(*rows) -> QFormLayout:
    form = QFormLayout()
    form.setVerticalSpacing(4)
    for label, field in rows:
        form.addRow(label, field) if label else form.addRow(field)
    return form


def _show_custom(combo: QComboBox, presets: int, text: str) -> None:
    """Say in ``combo`` that the grid is no longer one of its ``presets`` first items."""
    if combo.count() == presets:
        combo.addItem(text)
    combo.setItemText(presets, text)
    combo.setCurrentIndex(presets)


def _resized(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    r, c = min(rows, a.shape[0]), min(cols, a.shape[1])
    out[:r, :c] = a[:r, :c]
    return out


class ConvolutionExplorer(QWidget):
    """Step a convolution, a pooling or a transposed convolution over a small grid, cell by cell."""

    def __init__(self, studio=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.studio = studio  # the explorer works on its own grids, not on the project
        self.input = ca.LECTURE_IMAGE.copy()
        self.kernel = ca.LECTURE_FILTER_1.copy()
        self.pool = (2, 2)
        self.strides = {"conv": 1, "pool": 2}  # each family keeps its own stride (pooling: the lecture's s = 2)
        self.operation: ca.Operation | None = None
        self.current_step = 0
        self._rng = np.random.default_rng()
        self.play_timer = QTimer(self, interval=PLAY_MS)
        self.play_timer.timeout.connect(self._on_play_timer_timeout)
        self.setFocusPolicy(Qt.StrongFocus)
        layout = QVBoxLayout(self)
        self.controls = self._build_controls()
        layout.addWidget(self.controls)
        self.picture = ExplorerPicture()
        self._connect_picture()
        layout.addWidget(self.picture, 1)
        self.hint_label = hint = QLabel("Double-click a cell of the input or the kernel to edit it · click an output "
                                        "cell to jump there · ← / → step the window")
        hint.setStyleSheet("color: #5f6b75;")
        layout.addWidget(hint)
        self._sync_controls()
        self._recompute()

    # -- construction -------------------------------------------------------------------
    def _build_controls(self) -> QWidget:
        """The settings as one strip of three small forms above the picture (width goes to the grids)."""
        strip = QWidget()
        row = QHBoxLayout(strip)
        row.setContentsMargins(4, 0, 4, 0)
        self.input_preset = QComboBox()
        self.input_preset.addItems(INPUT_PRESETS)
        self.input_preset.activated.connect(self._on_input_preset_activated)
        self.input_rows = _spin(1, 32, 6, "rows of the input")
        self.input_cols = _spin(1, 32, 6, "columns of the input")
        for w in (self.input_rows, self.input_cols):
            w.valueChanged.connect(self._on_input_size_changed)
        self.load_button = QPushButton("Load image…")
        self.load_button.setToolTip(f"a picture, in grey levels 0-255, shrunk to at most {IMAGE_MAX_SIDE} cells a side")
        self.load_button.clicked.connect(self._on_load_button_clicked)
        row.addLayout(_form(("Input", self.input_preset), ("Size", _pair(self.input_rows, self.input_cols)),
                            ("", self.load_button)), 3)

        self.mode_combo = QComboBox()
        self.mode_combo.addItems(ca.MODES)
        self.mode_combo.currentTextChanged.connect(self._on_mode_combo_changed)
        self.kernel_preset = QComboBox()
        self.kernel_preset.addItems(list(ca.KERNEL_PRESETS))
        self.kernel_preset.activated.connect(self._on_kernel_preset_activated)
        self.window_rows = _spin(1, 9, 3, "rows of the kernel / pooling window")
        self.window_cols = _spin(1, 9, 3, "columns of the kernel / pooling window")
        for w in (self.window_rows, self.window_cols):
            w.valueChanged.connect(self._on_window_size_changed)
        row.addLayout(_form(("Operation", self.mode_combo), ("Kernel", self.kernel_preset),
                            ("Window", _pair(self.window_rows, self.window_cols))), 3)
        self.kernel_preset_label = row.itemAt(1).layout().labelForField(self.kernel_preset)

        self.stride_spin = _spin(1, 8, 1, "s: how many cells the window moves per step")
        self.stride_spin.valueChanged.connect(self._on_stride_spin_changed)
        self.padding_combo = QComboBox()
        self.padding_combo.addItems(["valid", "same", "explicit p", "causal"])
        self.padding_combo.setToolTip("valid: none; same: as TensorFlow pads (the smaller half first); "
                                      "explicit: p zeros on every side; causal (1-D): f-1 zeros before")
        self.padding_combo.currentTextChanged.connect(self._recompute)
        self.pad_spin = _spin(0, 6, 1, "p: zeros added on every side")
        self.pad_spin.valueChanged.connect(self._recompute)
        self.dilation_spin = _spin(1, 4, 1, "d: gaps between the kernel's taps (the window spans d(k-1)+1)")
        self.dilation_spin.valueChanged.connect(self._recompute)
        row.addLayout(_form(("Stride s", self.stride_spin), ("Padding", _pair(self.padding_combo, self.pad_spin, "")),
                            ("Dilation d", self.dilation_spin)), 2)

        self.reveal_check = QCheckBox("Fill the output step by step")
        self.reveal_check.setChecked(True)
        self.reveal_check.toggled.connect(lambda _: self.step_to(self.current_step))
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        last = QVBoxLayout()
        last.addWidget(self.reveal_check)
        last.addWidget(self.export_button, 0, Qt.AlignLeft)
        last.addStretch(1)
        row.addLayout(last, 1)
        for combo in (self.input_preset, self.mode_combo, self.kernel_preset, self.padding_combo):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.setMinimumWidth(120)  # overrides the combo's own minimum, which fits its longest item
        self.padding_combo.setMinimumWidth(90)
        strip.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        return strip

    def _connect_picture(self) -> None:
        p = self.picture
        p.input_view.cell_edited.connect(self._on_input_view_cell_edited)
        p.kernel_view.cell_edited.connect(self._on_kernel_view_cell_edited)
        p.output_view.cell_clicked.connect(self._on_output_view_cell_clicked)
        p.prev_button.clicked.connect(lambda: self.step_to(self.current_step - 1))
        p.next_button.clicked.connect(lambda: self.step_to(self.current_step + 1))
        p.play_button.toggled.connect(self._on_play_button_toggled)
        p.step_slider.valueChanged.connect(self.step_to)

    # -- state -> controls -------------------------------------------------------------
    @property
    def mode(self) -> str:
        """The operation shown (one of :data:`cnnstudio.core.convarith.MODES`)."""
        return self.mode_combo.currentText()

    def _family(self) -> str:
        return "pool" if self.mode in ca.POOLING else "conv"

    def _window(self) -> tuple[int, int]:
        return self.pool if self.mode in ca.POOLING else self.kernel.shape

    def _sync_controls(self) -> None:
        """Put the current state into the spin boxes without re-entering the slots."""
        pooling = self.mode in ca.POOLING
        pairs = [(self.input_rows, self.input.shape[0]), (self.input_cols, self.input.shape[1]),
                 (self.window_rows, self._window()[0]), (self.window_cols, self._window()[1]),
                 (self.stride_spin, self.strides[self._family()])]
        for box, value in pairs:
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.kernel_preset.setVisible(not pooling)
        self.kernel_preset_label.setVisible(not pooling)
        self.window_rows.setEnabled(self.mode != ca.CONV_1D)
        self.padding_combo.model().item(3).setEnabled(self.mode == ca.CONV_1D)  # causal is a 1-D idea

    def _padding(self):
        choice = self.padding_combo.currentText()
        self.pad_spin.setEnabled(choice == "explicit p")
        return self.pad_spin.value() if choice == "explicit p" else choice

    # -- slots: controls ----------------------------------------------------------------
    def _set_input(self, values: np.ndarray, preset: str | None = None, scale: str = "ink") -> None:
        self.input = np.array(values, dtype=float)
        self.picture.input_view.scale = scale
        if preset is not None:
            self.input_preset.setCurrentText(preset)

    def _set_kernel(self, values: np.ndarray, preset: str | None = None) -> None:
        self.kernel = np.array(values, dtype=float)
        if preset is not None:
            self.kernel_preset.setCurrentText(preset)

    def _on_input_preset_activated(self, index: int) -> None:
        if index >= len(INPUT_PRESETS):
            return  # "Image: ..." / "Edited grid": the grid is already there
        name = INPUT_PRESETS[index]
        if name == RANDOM:
            self._set_input(self._rng.integers(0, 10, (self.input_rows.value(), self.input_cols.value())))
        else:
            self._set_input({LECTURE_IMAGE: ca.LECTURE_IMAGE, LECTURE_POOL: ca.LECTURE_POOL_INPUT,
                             LECTURE_SERIES: ca.LECTURE_SERIES[None, :], SMALL: [[1, 2], [3, 4]]}[name])
        if name == LECTURE_SERIES and self.mode != ca.CONV_1D:
            self.mode_combo.setCurrentText(ca.CONV_1D)  # a series is read by the 1-D convolution
        if name == SMALL and self.mode != ca.TRANSPOSED:  # the lecture's figure: 3x3 kernel, stride 2
            self.strides["conv"] = 2
            self.mode_combo.setCurrentText(ca.TRANSPOSED)
        elif self.mode == ca.CONV_1D and self.input.shape[0] > 1:
            self.mode_combo.setCurrentText(ca.CROSS_CORRELATION)  # a grid is read in 2-D
        self._sync_controls()
        self._recompute()

    def _on_input_size_changed(self) -> None:
        self.input = _resized(self.input, self.input_rows.value(), self.input_cols.value())
        _show_custom(self.input_preset, len(INPUT_PRESETS), "Edited grid")
        self._recompute()

    def _on_kernel_preset_activated(self, index: int) -> None:
        if index >= len(ca.KERNEL_PRESETS):
            return  # "Edited kernel": keep it
        kernel = ca.KERNEL_PRESETS[self.kernel_preset.itemText(index)]
        if self.mode == ca.CONV_1D and kernel.shape[0] != 1:
            kernel = kernel[kernel.shape[0] // 2: kernel.shape[0] // 2 + 1]  # the middle row of a 2-D preset
        self._set_kernel(kernel)
        self._sync_controls()
        self._recompute()

    def _on_window_size_changed(self) -> None:
        size = (self.window_rows.value(), self.window_cols.value())
        if self.mode in ca.POOLING:
            self.pool = size
        else:
            self.kernel = _resized(self.kernel, *size)
            _show_custom(self.kernel_preset, len(ca.KERNEL_PRESETS), "Edited kernel")
        self._recompute()

    def _on_stride_spin_changed(self, value: int) -> None:
        self.strides[self._family()] = value
        self._recompute()

    def _on_mode_combo_changed(self, mode: str) -> None:
        if mode == ca.CONV_1D:  # the 1-D convolution reads a row: bring the lecture's series
            if self.input.shape[0] != 1:
                self._set_input(ca.LECTURE_SERIES[None, :], LECTURE_SERIES)
            if self.kernel.shape[0] != 1:
                self._set_kernel(ca.LECTURE_SMOOTHING_WEIGHTS[None, :], "Lecture smoothing weights (1-D)")
        else:
            if self.input.shape[0] == 1:
                self._set_input(ca.LECTURE_IMAGE, LECTURE_IMAGE)
            if self.kernel.shape[0] == 1:
                self._set_kernel(ca.LECTURE_FILTER_1, "Lecture Filter 1")
            if self.padding_combo.currentText() == "causal":
                self.padding_combo.setCurrentText("valid")
        self._sync_controls()
        self._recompute()

    def _on_input_view_cell_edited(self, r: int, c: int, value: float) -> None:
        op = self.operation
        if op is None:  # shown as is: canvas cells are input cells
            self.input[r, c] = value
        else:
            i, rem_i = divmod(r - op.origin[0], op.spacing[0])
            j, rem_j = divmod(c - op.origin[1], op.spacing[1])
            if rem_i or rem_j:
                return
            self.input[i, j] = value
        _show_custom(self.input_preset, len(INPUT_PRESETS), "Edited grid")
        self._recompute()

    def _on_kernel_view_cell_edited(self, r: int, c: int, value: float) -> None:
        self.kernel[r, c] = value
        _show_custom(self.kernel_preset, len(ca.KERNEL_PRESETS), "Edited kernel")
        self._recompute()

    def _on_output_view_cell_clicked(self, r: int, c: int) -> None:
        if self.operation is not None:
            self.step_to(r * self.operation.output.shape[1] + c)

    def _on_play_button_toggled(self, on: bool) -> None:
        self.picture.play_button.setText("⏸ Pause" if on else "▶ Play")
        if on and self.operation is not None and self.current_step >= len(self.operation) - 1:
            self.step_to(0)
        if on:
            self.play_timer.start()
        else:
            self.play_timer.stop()

    def _on_play_timer_timeout(self) -> None:
        if self.operation is None or self.current_step >= len(self.operation) - 1:
            self.picture.play_button.setChecked(False)
            return
        self.step_to(self.current_step + 1)

    def _on_load_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load an image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif);;All files (*)")
        if path:
            self.load_image(path)

    def _on_export_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the picture", "convolution.png", "PNG image (*.png)")
        if path:
            self.export_png(path if path.lower().endswith(".png") else path + ".png")

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() in (Qt.Key_Left, Qt.Key_Right):
            self.step_to(self.current_step + (1 if event.key() == Qt.Key_Right else -1))
            return
        super().keyPressEvent(event)

    # -- public actions ---------------------------------------------------------------
    def load_image(self, path: str) -> bool:
        """Use a picture file as the input: grey levels 0-255, shrunk to fit ``IMAGE_MAX_SIDE``."""
        image = QImage(str(path))
        if image.isNull():
            self.picture.error_label.setText(f"Cannot read an image from {path}.")
            return False
        image = image.convertToFormat(QImage.Format_Grayscale8)
        if max(image.width(), image.height()) > IMAGE_MAX_SIDE:
            image = image.scaled(IMAGE_MAX_SIDE, IMAGE_MAX_SIDE, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        raw = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
        self._set_input(raw[:, :image.width()], scale="grey")
        _show_custom(self.input_preset, len(INPUT_PRESETS), f"Image: {Path(path).name}")
        if self.mode == ca.CONV_1D:
            self.mode_combo.setCurrentText(ca.CROSS_CORRELATION)
        self._sync_controls()
        self._recompute()
        return True

    def export_png(self, path: str) -> bool:
        """Save the picture (grids, products, formula) as a PNG; True on success."""
        ok = self.picture.grab().save(str(path), "PNG")
        self.picture.error_label.setText("" if ok else f"Could not write {path}.")
        return ok

    def step_to(self, index: int) -> None:
        """Move the window to output cell number ``index`` (row-major), clamped to the range."""
        if self.operation is None:
            return
        self.current_step = int(min(max(index, 0), len(self.operation) - 1))
        self.picture.show_step(self.operation, self.current_step, self.reveal_check.isChecked())

    # -- state -> picture -------------------------------------------------------------
    def _recompute(self, *_args) -> None:
        """Run the operation on the current grids and settings, and show it."""
        try:
            op = ca.compute(self.mode, self.input, self.kernel, pool_size=self.pool, stride=self.strides[self._family()],
                            padding=self._padding(), dilation=self.dilation_spin.value())
        except ShapeError as exc:
            self.operation = None
            self.picture.show_error(str(exc), self.input, self.kernel)
            return
        self.operation = op
        self.picture.show_operation(op, self.kernel)
        self.step_to(min(self.current_step, len(op) - 1))
        self.picture.fit()  # after the step has put the output in place

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.picture.play_button.setChecked(False)  # no stepping behind another tab
        super().hideEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.picture.room = (self.width(), self.height() - self.controls.sizeHint().height()
                             - self.hint_label.sizeHint().height() - 30)
        self.picture.fit()
