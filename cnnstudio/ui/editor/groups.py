"""Groups (nested models) on the canvas: a collapsed group is one card, an expanded one a frame.

The card (:class:`GroupItem`) is a node card standing for all the group's layers: its name,
the number of layers, the output shape, total parameters and receptive field of its output
(:func:`cnnstudio.core.inference.group_info`); edges into and out of the group end on it. The
frame (:class:`GroupFrame`) lies behind an expanded group's layers with a header that names the
group, shows the same totals and collapses it again. Double-click either (or Ctrl+G) to toggle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyle

from cnnstudio.core.catalog import MANY

from cnnstudio.ui.editor import formatting as fmt
from cnnstudio.ui.editor.nodes import HEIGHT, WIDTH, NodeItem, muted

GROUP_COLOR = "#37474F"
FRAME_PAD = 14.0
FRAME_HEADER = 26.0
HEADER_FONT = QFont()
HEADER_FONT.setPointSizeF(9.0)
HEADER_FONT.setBold(True)
TOGGLE = 18.0  # the header's collapse button


@dataclass
class CardNode:
    """What a card shows of its group, in the shape of a layer node (the card is drawn as one)."""

    name: str
    layers: int
    kind: str = "Nested model"
    n_inputs: int = 1
    extra: dict = field(default_factory=dict)
    is_operation: bool = False
    pos: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False  # every layer in it is frozen (a frozen backbone)

    @property
    def id(self) -> str:
        return f"group:{self.name}"


class GroupItem(NodeItem):
    """A collapsed group: one card for all its layers (edges into and out of it end here)."""

    def __init__(self, name: str, layers: int, n_inputs: int = 1, info=None) -> None:
        super().__init__(CardNode(name, layers, n_inputs=MANY if n_inputs > 1 else 1), info)
        self.group = name
        for port in (self.in_port, self.out_port):  # wires go to the layers inside, once expanded
            port.setParentItem(None)
        self.in_port = self.out_port = None
        self.setZValue(1.5)

    def set_node(self, node) -> None:
        self.node = node
        self.frozen = node.frozen
        self.color = muted(QColor(GROUP_COLOR)) if node.frozen else QColor(GROUP_COLOR)
        self._title = f"▸ {node.name}"
        self._kind = node.kind
        self._describe = f"{node.layers} layers"
        self._relayout()

    def _relayout(self) -> None:
        super()._relayout()
        if self._lines and self.info is not None and self.info.error is None:  # totals run to millions: short
            left, _right, color, font = self._lines[0]
            what = "frozen" if self.frozen else "params"
            self._lines[0] = (left, f"{fmt.compact(self.info.params)} {what}", color, font)

    def set_layers(self, layers: int, n_inputs: int, frozen: bool = False) -> None:
        """The group now holds ``layers`` layers fed by ``n_inputs`` outside ones (``frozen``: all of them)."""
        node = CardNode(self.group, layers, n_inputs=MANY if n_inputs > 1 else 1, frozen=frozen)
        if node != self.node:
            self.set_node(node)

    def _tooltip(self) -> str:
        text = super()._tooltip().replace(f"<i>{self._kind}</i>", f"<i>{self._kind}, {self.node.layers} layers</i>")
        return text + "<br>Double-click (or Ctrl+G) to expand it and edit its layers"

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return super().boundingRect().adjusted(0, 0, 8, 8)

    def paint(self, painter, option, widget=None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) >= 0.3:  # a stack of cards: several layers
            painter.setRenderHint(painter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor("#9AA5B1"), 1))
            painter.setBrush(QColor("#E4E8EE"))
            for k in (2, 1):
                painter.drawRoundedRect(QRectF(-WIDTH / 2 + 4 * k, -HEIGHT / 2 + 4 * k, WIDTH, HEIGHT), 7, 7)
        super().paint(painter, option, widget)


class GroupFrame(QGraphicsItem):
    """An expanded group: a tinted frame behind its layers, its header naming it with its totals."""

    def __init__(self, name: str, depth: int, toggle) -> None:
        super().__init__()
        self.group, self.depth, self._toggle = name, depth, toggle
        self.setZValue(-5 + 0.1 * depth)  # behind edges and cards; an inner frame over its outer one
        self.setAcceptHoverEvents(True)
        self._rect = QRectF()
        self._area = QRectF()
        self._header = ""
        self.setToolTip(f"Nested model {name}: click ▾ or double-click the header (Ctrl+G) to collapse it to one card")

    def set_area(self, rect: QRectF) -> None:
        """Surround ``rect`` (the cards inside, in scene coordinates) with the frame and its header,
        wide enough for the header's text."""
        self._area = QRectF(rect)
        rect = rect.adjusted(-FRAME_PAD, -8 - FRAME_HEADER, FRAME_PAD, FRAME_PAD)  # within HEADROOM, FOOTROOM
        wide = QFontMetricsF(HEADER_FONT).horizontalAdvance(self._header) + TOGGLE + 30
        rect.setWidth(max(rect.width(), wide))
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
            self.update()

    def set_info(self, layers: int, info) -> None:
        """Header text: name, layer count, output shape, parameters, receptive field."""
        parts = [self.group, f"{layers} layers"]
        if info is not None and info.error is None:
            parts.append(f"→ {fmt.short_shape(info.output_shape)}")
            parts.append(f"{fmt.compact(info.params)} params ({fmt.compact(info.trainable)} trainable)")
            if info.receptive_field is not None:
                parts.append(f"RF {'x'.join(map(str, info.receptive_field.size))} px")
        elif info is not None:
            parts.append("error inside")
        text = "  ·  ".join(parts)
        if text != self._header:
            self._header = text
            self.set_area(self._area)
            self.update()

    @property
    def header_text(self) -> str:
        """The header as drawn (after the collapse button)."""
        return self._header

    def header_rect(self) -> QRectF:
        """The header band, in scene coordinates."""
        return QRectF(self._rect.left(), self._rect.top(), self._rect.width(), FRAME_HEADER)

    def toggle_rect(self) -> QRectF:
        """The collapse button in the header."""
        r = self.header_rect()
        return QRectF(r.left() + 5, r.center().y() - TOGGLE / 2, TOGGLE, TOGGLE)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return self._rect.adjusted(-2, -2, 2, 2)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.LeftButton and self.toggle_rect().adjusted(-3, -3, 3, 3).contains(event.scenePos()):
            self._toggle(self.group)
            event.accept()
            return
        event.ignore()  # the frame is a backdrop: a drag on it selects with the rubber band

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.header_rect().contains(event.scenePos()):
            self._toggle(self.group)
            event.accept()
            return
        event.ignore()

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        tint = QColor(GROUP_COLOR)
        painter.setPen(QPen(tint.lighter(180), 1.4, Qt.DashLine))
        painter.setBrush(QColor(55, 71, 79, 14 + 8 * min(self.depth, 3)))
        painter.drawRoundedRect(self._rect, 10, 10)
        header = self.header_rect()
        painter.setPen(Qt.NoPen)
        painter.setBrush(tint.lighter(150) if option.state & QStyle.State_MouseOver else tint)
        painter.drawRoundedRect(header, 10, 10)
        painter.drawRect(header.adjusted(0, FRAME_HEADER / 2, 0, 0))
        button = self.toggle_rect()
        painter.setBrush(QBrush(QColor(255, 255, 255, 60)))
        painter.drawRoundedRect(button, 4, 4)
        painter.setPen(QColor("white"))
        painter.setFont(HEADER_FONT)
        painter.drawText(button, Qt.AlignCenter, "▾")
        room = header.adjusted(button.width() + 12, 0, -10, 0)
        text = QFontMetricsF(HEADER_FONT).elidedText(self._header, Qt.ElideRight, room.width())
        painter.drawText(room, Qt.AlignLeft | Qt.AlignVCenter, text)
