"""A crisp, painted number grid for the convolution explorer: values in cells over a colour scale.

:class:`GridView` draws a small matrix with its numbers, row / column labels, a colour bar,
padding cells hatched, not-yet-computed cells empty, the sliding window's taps and the current
output cell outlined. Editable grids open an inline editor on double-click.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDoubleValidator, QFont, QFontMetricsF, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QLineEdit, QSizePolicy, QWidget

from cnnstudio.core.convarith import fmt

#: Diverging scale (ColorBrewer RdBu): negative blue, zero near white, positive red.
DIVERGING = [(-1.0, "#2166ac"), (-0.5, "#92c5de"), (0.0, "#f7f7f7"), (0.5, "#f4a582"), (1.0, "#b2182b")]
GREY = [(0.0, "#111111"), (1.0, "#ffffff")]            # a picture: dark is dark
INK = [(0.0, "#f8fafb"), (0.5, "#9fb3c4"), (1.0, "#2c4a5e")]  # numbers: bigger is darker ink
WINDOW = QColor("#ef6c00")   # the window and the output cell it writes
CHOSEN = QColor("#1b873f")   # the cell a max pool picks
PAD_FILL, PAD_HATCH = QColor("#e9edf1"), QColor("#b9c3cc")
LINE, BORDER, LABEL = QColor("#9aa8b4"), QColor("#455a64"), QColor("#6b7a86")


def _lerp(stops: list[tuple[float, str]], t: float) -> QColor:
    t = min(max(t, stops[0][0]), stops[-1][0])
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            a, b, u = QColor(c0), QColor(c1), (t - t0) / (t1 - t0)
            return QColor.fromRgbF(a.redF() + u * (b.redF() - a.redF()), a.greenF() + u * (b.greenF() - a.greenF()),
                                   a.blueF() + u * (b.blueF() - a.blueF()))
    return QColor(stops[-1][1])


def display(text: str) -> str:
    """A number as typeset: a real minus sign."""
    return text.replace("-", "−")


class GridView(QWidget):
    """One matrix drawn cell by cell.

    ``scale``: ``'diverging'`` (signed, zero white), ``'ink'`` (low to high, light to dark) or
    ``'grey'`` (a picture's grey levels).
    """

    cell_edited = Signal(int, int, float)
    cell_clicked = Signal(int, int)

    def __init__(self, title: str = "", parent: QWidget | None = None, *, scale: str = "diverging",
                 editable: bool = False, show_scale: bool = True) -> None:
        super().__init__(parent)
        self.title, self.scale, self.editable, self.show_scale = title, scale, editable, show_scale
        self.values = np.zeros((0, 0))
        self.muted = self.faded = np.zeros((0, 0), bool)
        self.captions: np.ndarray | None = None
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.taps: list[tuple[int, int]] = []
        self.focus: tuple[int, int] | None = None
        self.marks: list[tuple[int, int]] = []
        self.cell = 40
        self.indent = 0  # empty cells before column 0, to line a row up under another grid
        self._editor: QLineEdit | None = None
        self.setSizePolicy(QSizePolicy.Maximum, QSizePolicy.Maximum)
        self.setFocusPolicy(Qt.ClickFocus)

    # -- data -----------------------------------------------------------------------
    def set_grid(self, values, *, muted=None, faded=None, captions=None, row_labels=(), col_labels=()) -> None:
        """Show ``values`` (2-D); ``muted`` cells are padding, ``faded`` cells are not computed yet."""
        self.values = np.atleast_2d(np.asarray(values, dtype=float)) if np.size(values) else np.zeros((0, 0))
        shape = self.values.shape
        self.muted = np.zeros(shape, bool) if muted is None else np.asarray(muted, bool)
        self.faded = np.zeros(shape, bool) if faded is None else np.asarray(faded, bool)
        self.captions = captions
        self.row_labels, self.col_labels = list(row_labels), list(col_labels)
        self.taps, self.focus, self.marks = [], None, []
        self._close_editor()
        self.updateGeometry()
        self.update()

    def set_highlight(self, taps=(), focus=None, marks=()) -> None:
        """Outline the window's ``taps``, the ``focus`` cell it writes, and ``marks`` (a max's pick)."""
        self.taps = [tuple(int(v) for v in t) for t in taps]
        self.focus = focus
        self.marks = [tuple(int(v) for v in m) for m in marks]
        self.update()

    def set_indent(self, cells: int) -> None:
        """Start the grid ``cells`` cells to the right (the 1-D weights follow the window this way)."""
        if cells != self.indent:
            self.indent = cells
            self.updateGeometry()
            self.update()

    def set_cell_size(self, px: int) -> None:
        """Cell edge in pixels (the explorer keeps grids side by side at one size)."""
        if px != self.cell:
            self.cell = px
            self._close_editor()
            self.updateGeometry()
            self.update()

    def text_at(self, r: int, c: int) -> str:
        """What cell (r, c) shows ('' while it is not computed yet)."""
        return "" if self.faded[r, c] else display(fmt(self.values[r, c]))

    # -- geometry -------------------------------------------------------------------
    def _bands(self, cell: int | None = None) -> tuple[float, float, float, float]:
        """Room left of, above and below the cells, and the title's height."""
        title = 24.0 if self.title else 0.0
        top = title + (16.0 if self.col_labels else 0.0)
        left = (30.0 if self.row_labels else 2.0) + self.indent * (self.cell if cell is None else cell)
        bottom = 30.0 if self.show_scale and self.values.size else 4.0
        return left, top, bottom, title

    def size_for(self, cell: int) -> QSize:
        """The size this grid takes with cells of ``cell`` pixels (labels, title and colour bar included)."""
        left, top, bottom, _ = self._bands(cell)
        rows, cols = self.values.shape
        fm = QFontMetricsF(self._font(13, bold=True))
        width = max(left + cols * cell + 6, fm.horizontalAdvance(self.title) + 8, 60)
        return QSize(int(width), int(top + rows * cell + bottom + 2))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return self.size_for(self.cell)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # Small on purpose: a grid that grows must not force its window bigger; the owner
        # picks a cell size that fits the room it has (see ConvolutionExplorer._fit_cells).
        return QSize(40, 30)

    def cell_rect(self, r: int, c: int) -> QRectF:
        """The rectangle of cell (r, c) in widget coordinates."""
        left, top, _, _ = self._bands()
        return QRectF(left + c * self.cell, top + r * self.cell, self.cell, self.cell)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """The cell under ``pos``, or ``None``."""
        left, top, _, _ = self._bands()
        c, r = int((pos.x() - left) // self.cell), int((pos.y() - top) // self.cell)
        rows, cols = self.values.shape
        return (r, c) if 0 <= r < rows and 0 <= c < cols and pos.x() >= left and pos.y() >= top else None

    # -- colour -------------------------------------------------------------------------
    def _range(self) -> tuple[float, float]:
        real = self.values[~self.muted] if self.values.size else np.zeros(1)
        if real.size == 0:
            real = np.zeros(1)
        if self.scale != "diverging":
            lo, hi = float(real.min()), float(real.max())
            return (lo, hi) if hi > lo else (lo - 1, lo + 1) if lo != 0 else (0.0, 1.0)
        m = float(np.abs(real).max()) or 1.0
        return -m, m

    def colour(self, v: float) -> QColor:
        """The fill of value ``v`` on this grid's scale."""
        lo, hi = self._range()
        if self.scale != "diverging":
            return _lerp(GREY if self.scale == "grey" else INK, (v - lo) / (hi - lo))
        return _lerp(DIVERGING, v / hi)

    @staticmethod
    def _font(px: float, bold: bool = False, italic: bool = False) -> QFont:
        f = QFont()
        f.setPixelSize(max(int(px), 6))
        f.setBold(bold)
        f.setItalic(italic)
        return f

    # -- painting -------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.setRenderHint(QPainter.TextAntialiasing)
        left, top, _, title_h = self._bands()
        if self.title:
            p.setFont(self._font(13, bold=True))
            p.setPen(QColor("#263238"))
            x = left - 2 if self.indent else 0
            p.drawText(QRectF(x, 0, self.width() - x, title_h), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        rows, cols = self.values.shape
        if not self.values.size:
            return
        self._paint_labels(p, left, top)
        self._paint_cells(p)
        p.setPen(QPen(BORDER, 1.5))
        p.setBrush(Qt.NoBrush)
        p.drawRect(QRectF(left, top, cols * self.cell, rows * self.cell))
        self._paint_highlights(p)
        if self.show_scale:
            self._paint_scale(p, left, top + rows * self.cell + 8)

    def _paint_labels(self, p: QPainter, left: float, top: float) -> None:
        font = self._font(min(11, max(self.cell * 0.32, 8)))
        p.setFont(font)
        p.setPen(LABEL)
        fm = QFontMetricsF(font)
        widest = max((fm.horizontalAdvance(display(t)) for t in self.col_labels), default=0)
        every = int(np.ceil((widest + 3) / self.cell))  # on small cells, label every n-th column only
        for c, text in enumerate(self.col_labels):
            if c % every == 0:
                p.drawText(QRectF(left + c * self.cell - 12, top - 16, self.cell + 24, 15), Qt.AlignCenter, display(text))
        every = int(np.ceil((fm.height() + 1) / self.cell))
        for r, text in enumerate(self.row_labels):
            if r % every == 0:
                p.drawText(QRectF(0, top + r * self.cell - 6, left - 5, self.cell + 12), Qt.AlignRight | Qt.AlignVCenter,
                           display(text))

    def _paint_cells(self, p: QPainter) -> None:
        rows, cols = self.values.shape
        size = self.cell
        show_numbers = size >= 13
        number_font = self._font(max(size * (0.36 if self.captions is None else 0.3), 7), bold=True)
        caption_font = self._font(size * 0.18)
        fm = QFontMetricsF(number_font)
        for r in range(rows):
            for c in range(cols):
                rect = self.cell_rect(r, c)
                if self.muted[r, c]:
                    p.fillRect(rect, PAD_FILL)
                    p.fillRect(rect, QBrush(PAD_HATCH, Qt.BDiagPattern))
                    fill = PAD_FILL
                elif self.faded[r, c]:
                    fill = QColor("#fbfcfd")
                    p.fillRect(rect, fill)
                else:
                    fill = self.colour(self.values[r, c])
                    p.fillRect(rect, fill)
                p.setPen(QPen(LINE, 0.8))
                p.drawRect(rect)
                if not show_numbers or self.faded[r, c]:
                    continue
                dark = fill.lightnessF() < 0.55
                p.setPen(QColor("#8a96a0") if self.muted[r, c] else QColor("#ffffff") if dark else QColor("#1d262c"))
                text = display(fmt(self.values[r, c]))
                font = number_font
                width = fm.horizontalAdvance(text)
                if width > size - 4:  # shrink long numbers to fit their cell
                    font = self._font(number_font.pixelSize() * (size - 4) / width, bold=True)
                p.setFont(font)
                body = rect.adjusted(0, size * 0.18, 0, 0) if self.captions is not None else rect
                p.drawText(body, Qt.AlignCenter, text)
                if self.captions is not None and size >= 40:
                    p.setFont(caption_font)
                    p.setPen(QColor("#e8eef2") if dark else QColor("#56636d"))
                    p.drawText(rect.adjusted(2, 2, -2, 0), Qt.AlignHCenter | Qt.AlignTop, display(str(self.captions[r, c])))

    def _paint_highlights(self, p: QPainter) -> None:
        if self.taps:  # outlines only: a tint would shift the cell colours off the scale
            p.setPen(QPen(WINDOW, 2.5))
            p.setBrush(Qt.NoBrush)
            for r, c in self.taps:
                p.drawRect(self.cell_rect(r, c).adjusted(1.5, 1.5, -1.5, -1.5))
            rs, cs = [t[0] for t in self.taps], [t[1] for t in self.taps]
            box = self.cell_rect(min(rs), min(cs)).united(self.cell_rect(max(rs), max(cs)))
            p.setPen(QPen(WINDOW, 3))
            p.drawRoundedRect(box.adjusted(-1.5, -1.5, 1.5, 1.5), 3, 3)
        for r, c in self.marks:
            p.setPen(QPen(CHOSEN, 3))
            p.drawRect(self.cell_rect(r, c).adjusted(4, 4, -4, -4))
        if self.focus is not None:
            p.setPen(QPen(WINDOW, 4))
            p.drawRoundedRect(self.cell_rect(*self.focus).adjusted(-1, -1, 1, 1), 3, 3)

    def _paint_scale(self, p: QPainter, left: float, y: float) -> None:
        cols = self.values.shape[1]
        width = max(min(cols * self.cell, 180.0), 60.0)
        bar = QRectF(left, y, width, 7)
        lo, hi = self._range()
        grad = QLinearGradient(bar.topLeft(), bar.topRight())
        for i in range(11):
            grad.setColorAt(i / 10, self.colour(lo + (hi - lo) * i / 10))
        p.setPen(QPen(LINE, 0.6))
        p.setBrush(QBrush(grad))
        p.drawRect(bar)
        p.setFont(self._font(10))
        p.setPen(LABEL)
        p.drawText(QRectF(left, y + 8, width / 2 - 12, 13), Qt.AlignLeft, display(fmt(lo)))
        p.drawText(QRectF(left + width / 2 + 12, y + 8, width / 2 - 12, 13), Qt.AlignRight, display(fmt(hi)))
        if self.scale == "diverging":
            p.drawText(QRectF(left + width / 2 - 20, y + 8, 40, 13), Qt.AlignCenter, "0")

    # -- interaction ----------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        cell = self.cell_at(event.position())
        if cell is not None and event.button() == Qt.LeftButton:
            self.cell_clicked.emit(*cell)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        cell = self.cell_at(event.position())
        if self.editable and cell is not None and not self.muted[cell]:
            self.open_editor(*cell)

    def open_editor(self, r: int, c: int) -> QLineEdit:
        """Edit cell (r, c) in place; Enter commits, Escape or focus loss cancels."""
        self._close_editor()
        editor = QLineEdit(fmt(self.values[r, c]), self)
        editor.setValidator(QDoubleValidator(editor))
        editor.setAlignment(Qt.AlignCenter)
        editor.setGeometry(self.cell_rect(r, c).toRect().adjusted(1, 1, -1, -1))
        editor.returnPressed.connect(lambda: self._commit(editor, r, c))
        editor.editingFinished.connect(self._close_editor)
        editor.selectAll()
        editor.show()
        editor.setFocus()
        self._editor = editor
        return editor

    def _commit(self, editor: QLineEdit, r: int, c: int) -> None:
        try:
            value = float(editor.text().replace("−", "-").replace(",", "."))
        except ValueError:
            return  # not a number: the cell keeps its value
        self._close_editor()
        self.cell_edited.emit(r, c, value)

    def _close_editor(self) -> None:
        editor, self._editor = self._editor, None
        if editor is not None:
            editor.hide()
            editor.deleteLater()
