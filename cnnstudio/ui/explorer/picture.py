"""What the convolution explorer shows (and exports): the grids, the step bar and the arithmetic.

:class:`ExplorerPicture` draws one :class:`~cnnstudio.core.convarith.Operation` and one of its
steps: the input (with padding or spread out), the kernel (and its 180° rotation), the output
filling in, the window's products, the sum written out and the output-size formula. It sizes its
cells to the room its owner gives it, never to what the grids already take.
"""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from cnnstudio.core import convarith as ca

from cnnstudio.ui.explorer.grid import GridView, display

MIN_CELL, MAX_CELL = 4, 72  # cell edge in pixels; numbers show from 13 up
KERNEL_MIN_CELL = 24  # a kernel stays readable next to a large picture
ROOMY_CELL = 26       # below this the grids give up their colour bars for bigger cells
GRID_SPACING = 10
CHROME = 70           # margins, spacing and the step bar, with a little slack
SYMBOL_HTML = ("<div align='center' style='color:#455a64'><span style='font-size:{size}px; font-weight:bold'>{glyph}"
               "</span><br><span style='font-size:11px; color:#6b7a86'>{word}</span></div>")
#: What stands between the input and the kernel: a glyph and a word under it.
SYMBOLS = {ca.CROSS_CORRELATION: ("⋆", "cross-<br>correlate"), ca.CONVOLUTION: ("∗", "convolve"),
           ca.TRANSPOSED: ("⋆", "rotated<br>kernel"), ca.CONV_1D: ("⋆", "slide"),
           ca.MAX_POOL: ("max", "of each<br>window"), ca.AVERAGE_POOL: ("mean", "of each<br>window")}


def _symbol(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignCenter)
    label.setMinimumWidth(34)
    label.setTextFormat(Qt.RichText)
    return label


def _text(style: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.RichText)
    label.setStyleSheet(style)
    return label


def canvas_labels(op: ca.Operation, axis: int) -> list[str]:
    """Input coordinates along ``axis`` of the canvas (negative or past the end in the padding, blank between spread-out inputs)."""
    labels = []
    for k in range(op.canvas.shape[axis]):
        i, rem = divmod(k - op.origin[axis], op.spacing[axis])
        text = "" if rem else (f"x{i}" if op.mode == ca.CONV_1D else str(i))
        if op.mode == ca.TRANSPOSED and not 0 <= i < op.input.shape[axis]:
            text = ""
        labels.append(text)
    return labels


def window_words(op: ca.Operation, step: ca.Step) -> str:
    """Where the window is, in words."""
    zeros = int(step.in_padding.sum())
    if op.mode == ca.TRANSPOSED:
        return f"under the window: {step.in_padding.size - zeros} input value(s), {zeros} inserted zero(s)"
    rs, cs = step.coords[..., 0], step.coords[..., 1]
    where = f"samples {cs.min()}…{cs.max()}" if op.mode == ca.CONV_1D else \
        f"rows {rs.min()}…{rs.max()}, columns {cs.min()}…{cs.max()}"
    return f"window on {where}" + (f" ({zeros} cell(s) in the padding)" if zeros else "")


class ExplorerPicture(QWidget):
    """Input ⋆ kernel = output, the step bar, and the window's arithmetic, on white."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explorerPicture")
        self.setAttribute(Qt.WA_StyledBackground, True)  # a QWidget subclass paints its style-sheet background only so
        self.setStyleSheet("#explorerPicture { background: white; }")
        self.room = (900, 600)  # width and height the owner lets the picture take
        col = QVBoxLayout(self)
        col.setContentsMargins(14, 10, 14, 10)
        col.addStretch(1)
        self.grid_row = row = QBoxLayout(QBoxLayout.LeftToRight)  # top to bottom for 1-D rows, as the lecture draws them
        row.setSpacing(GRID_SPACING)
        self.input_view = GridView("Input", scale="ink", editable=True)
        self.symbol_label = _symbol("")
        self.kernel_view = GridView("Kernel", editable=True)
        self.flipped_view = GridView("rotated 180°", show_scale=False)
        self.equals_label = _symbol(SYMBOL_HTML.format(size=34, glyph="=", word="&nbsp;"))
        self.output_view = GridView("Output")
        row.addStretch(1)
        for w in (self.input_view, self.symbol_label, self.kernel_view, self.flipped_view, self.equals_label,
                  self.output_view):
            row.addWidget(w, 0, Qt.AlignCenter)
        row.addStretch(1)
        col.addLayout(row)
        col.addSpacing(8)
        bar = QHBoxLayout()
        self.prev_button = QPushButton("‹ Back")
        self.prev_button.setToolTip("previous window position (←)")
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.next_button = QPushButton("Next ›")
        self.next_button.setToolTip("next window position (→)")
        for w in (self.prev_button, self.play_button, self.next_button):
            w.setFocusPolicy(Qt.NoFocus)  # keep ← / → for stepping
            w.setFixedWidth(84)
            bar.addWidget(w)
        self.step_slider = QSlider(Qt.Horizontal)
        bar.addWidget(self.step_slider, 1)
        col.addLayout(bar)
        bottom = QHBoxLayout()
        self.products_view = GridView("Window × weights = products", show_scale=False)
        bottom.addWidget(self.products_view, 0, Qt.AlignTop)
        text = QVBoxLayout()
        self.step_label = _text("color: #4a5862;")
        self.expression_label = _text("font-size: 14px; color: #1d262c;")
        self.formula_label = _text("font-size: 13px; color: #263238; background: #f3f6f8; "
                                   "border: 1px solid #dde3e8; border-radius: 4px; padding: 6px;")
        self.error_label = _text("color: #b3261e; font-weight: bold;")
        for w in (self.step_label, self.expression_label, self.formula_label, self.error_label):
            text.addWidget(w)
        text.addStretch(1)
        bottom.addLayout(text, 1)
        col.addLayout(bottom)
        col.addStretch(1)

    # -- showing ----------------------------------------------------------------------
    def show_operation(self, op: ca.Operation, kernel: np.ndarray) -> None:
        """Lay out ``op``: the canvas, the kernel as entered (and rotated), titles and the formula."""
        mode, one_d = op.mode, op.mode == ca.CONV_1D
        self.error_label.setText("")
        self.input_view.set_grid(op.canvas, muted=~op.is_input, row_labels=[] if one_d else canvas_labels(op, 0),
                                 col_labels=canvas_labels(op, 1))
        rows, cols = op.input.shape
        extra = {ca.TRANSPOSED: " spread out, with its border"}.get(mode, " with padding" if not op.is_input.all() else "")
        self.input_view.title = f"Series x ({cols} samples){extra}" if one_d else f"Input {rows}×{cols}{extra}"
        self.grid_row.setDirection(QBoxLayout.TopToBottom if one_d else QBoxLayout.LeftToRight)
        for w in (self.input_view, self.kernel_view, self.flipped_view, self.output_view):
            self.grid_row.setAlignment(w, Qt.AlignLeft | Qt.AlignVCenter if one_d else Qt.AlignCenter)
        for w in (self.symbol_label, self.equals_label):
            w.setVisible(not one_d)  # the 1-D rows stand one under the other, as in the lecture's table
        glyph, word = SYMBOLS[mode]
        self.symbol_label.setText(SYMBOL_HTML.format(size=20 if mode in ca.POOLING else 48, glyph=glyph, word=word))
        lined_up = one_d and op.stride == (1, 1)  # then s_t sits right under x_t
        self.output_view.set_indent((op.window[1] - 1) * op.dilation[1] if lined_up else 0)
        self.output_view.title = "Smoothed s" if one_d else f"Output {op.output.shape[0]}×{op.output.shape[1]}"
        self.kernel_view.setVisible(mode not in ca.POOLING)
        self.kernel_view.set_grid(kernel, col_labels=[w.replace("_", "") for w in op.weight_labels()])
        self.kernel_view.title = "Weights w" if one_d else f"Kernel {kernel.shape[0]}×{kernel.shape[1]}"
        self.flipped_view.setVisible(mode in (ca.CONVOLUTION, ca.TRANSPOSED))
        self.flipped_view.set_grid(kernel[::-1, ::-1])
        self.products_view.title = {ca.MAX_POOL: "Window: the largest wins", ca.AVERAGE_POOL: "Window: the mean"}.get(
            mode, "Window × weights = products")
        self.formula_label.setText("<b>Output size</b><br>" + "<br>".join(display(line) for line in op.formula))
        self.step_slider.setRange(0, len(op) - 1)
        self._enable_stepping(True)

    def show_step(self, op: ca.Operation, index: int, reveal: bool) -> None:
        """Put the window on step ``index``; with ``reveal`` the output cells not reached yet stay empty."""
        step = op.step(index)
        self.step_slider.blockSignals(True)
        self.step_slider.setValue(index)
        self.step_slider.blockSignals(False)
        chosen = []
        if op.mode == ca.MAX_POOL:  # the cell the max picks, on the window and on the input
            chosen = np.argwhere((step.values == step.result) & ~step.in_padding)[:1]
        self.input_view.set_highlight(taps=step.canvas_cells.reshape(-1, 2),
                                      marks=[tuple(step.canvas_cells[tuple(c)]) for c in chosen])
        one_d = op.mode == ca.CONV_1D
        cols = [f"s{op.time_index(o)}" if one_d else str(o) for o in range(op.output.shape[1])]
        rows = [] if one_d else [str(r) for r in range(op.output.shape[0])]
        faded = (np.arange(op.output.size) > index).reshape(op.output.shape) & reveal
        self.output_view.set_grid(op.output, faded=faded, col_labels=cols, row_labels=rows)
        self.output_view.set_highlight(focus=step.out)
        follows = one_d and op.dilation == (1, 1)  # the weights slide along under the series
        self.kernel_view.set_indent(int(step.canvas_cells[0, 0, 1]) if follows else 0)
        if op.mode in ca.POOLING:
            self.products_view.set_grid(step.values, muted=step.in_padding)
            self.products_view.set_highlight(marks=chosen)
        else:
            captions = np.vectorize(lambda v, w: f"{ca.fmt(v)}×{ca.fmt(w)}")(step.values, step.weights)
            self.products_view.set_grid(step.products, muted=step.in_padding, captions=captions,
                                        col_labels=[w.replace("_", "") for w in op.weight_labels()])
        text = re.sub(r"([xws])_(−?\d+)", r"\1<sub>\2</sub>", display(op.expression(step)))
        lhs, _, rest = text.partition(" = ")
        body, _, result = rest.rpartition(" = ")
        self.expression_label.setText(f"<b>{lhs}</b> = {body} = <b style='color:#ef6c00; font-size:18px'>{result}</b>")
        self.step_label.setText(display(f"Step {index + 1} of {len(op)} · {window_words(op, step)}"))
        self.fit(products_only=True)

    def show_error(self, message: str, x: np.ndarray, kernel: np.ndarray) -> None:
        """No operation: show the input and kernel as they are, and what is wrong."""
        self.error_label.setText(message)
        self.input_view.set_grid(x)
        self.input_view.title = f"Input {x.shape[0]}×{x.shape[1]}"
        self.kernel_view.set_grid(kernel)
        self.kernel_view.set_indent(0)
        for view in (self.output_view, self.products_view):
            view.set_grid([])
        for label in (self.expression_label, self.formula_label, self.step_label):
            label.setText("")
        self._enable_stepping(False)
        self.fit()

    def _enable_stepping(self, on: bool) -> None:
        for w in (self.step_slider, self.prev_button, self.next_button, self.play_button):
            w.setEnabled(on)
        if not on:
            self.play_button.setChecked(False)

    # -- sizing -----------------------------------------------------------------------
    def fit(self, products_only: bool = False) -> None:
        """The largest cell that fits :attr:`room`, shared by input, kernel and output so the window lines up."""
        room_w, room_h = self.room
        kh, kw = self.products_view.values.shape if self.products_view.values.size else (1, 1)
        self.products_view.set_cell_size(int(min(64, max(26, min(380 / kw, (room_h * 0.3 - 40) / kh)))))
        if products_only:
            return
        views = [v for v in (self.input_view, self.kernel_view, self.flipped_view, self.output_view)
                 if not v.isHidden() and v.values.size]
        symbols = [w.sizeHint() for w in (self.symbol_label, self.equals_label) if not w.isHidden()]
        gaps = GRID_SPACING * (len(views) + len(symbols) + 1)
        across = self.grid_row.direction() == QBoxLayout.LeftToRight
        room_w -= CHROME + (sum(h.width() for h in symbols) + gaps if across else 0)
        room_h -= self._bottom_height(room_w) + CHROME + (0 if across else sum(h.height() for h in symbols) + gaps)

        def sized(v: GridView, size: int) -> int:
            return max(size, KERNEL_MIN_CELL) if v in (self.kernel_view, self.flipped_view) else size

        def largest_fit() -> int:
            for size in range(MAX_CELL, MIN_CELL, -1):
                widths, heights = zip(*((h.width(), h.height()) for h in (v.size_for(sized(v, size)) for v in views)))
                need_w, need_h = (sum(widths), max(heights)) if across else (max(widths), sum(heights))
                if need_w <= room_w and need_h <= room_h:
                    return size
            return MIN_CELL

        for show_scale in (True, False):  # short of room, the numbers matter more than the colour bars
            for v in (self.input_view, self.kernel_view, self.output_view):
                v.show_scale = show_scale
            cell = largest_fit()
            if cell >= ROOMY_CELL:
                break
        for v in (self.input_view, self.kernel_view, self.flipped_view, self.output_view):
            v.set_cell_size(sized(v, cell))
            v.updateGeometry()

    def _bottom_height(self, width: int) -> int:
        """Height of the products grid and the text beside it."""
        text_w = max(width - self.products_view.sizeHint().width() - 60, 160)
        labels = [w for w in (self.step_label, self.expression_label, self.formula_label, self.error_label) if w.text()]
        text_h = sum(w.heightForWidth(text_w) + 8 for w in labels)
        return max(self.products_view.sizeHint().height(), text_h)
