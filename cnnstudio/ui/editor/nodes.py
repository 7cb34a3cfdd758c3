"""The canvas's node card: a layer's name, kind, key parameters, output shape, parameters,
receptive field and error, coloured by the layer's catalog group, with its ports.

Items only draw what they are given: :class:`NodeItem.set_node` and :meth:`NodeItem.set_info`
take the core :class:`~cnnstudio.core.graph.Node` and
:class:`~cnnstudio.core.inference.NodeInfo`; the scene decides when to call them.
Cards are cached in device coordinates, so a repaint of the canvas blits pixmaps and only
cards whose text changed are drawn again.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyle

from cnnstudio.core.catalog import MANY, spec

from cnnstudio.ui.editor import formatting as fmt

WIDTH, HEIGHT = 200.0, 80.0
HEADER = 24.0
PORT_RADIUS = 5.0
PORT_SPACING = 22.0  # between the input anchors of a merge

#: One colour per catalog group (layer kinds the catalog does not know are grey).
GROUP_COLORS = {
    "Input": "#546E7A", "Convolution": "#1E6FD9", "Pooling": "#00897B", "Core": "#7B3FB5",
    "Normalization": "#D98A00", "Regularization": "#6B7280", "Merge": "#2E9D48",
    "Reshape": "#8D5A3B", "Augmentation": "#C2185B",
}
GENERIC_COLOR = "#8A8F98"
ERROR_COLOR = QColor("#D32F2F")
DOWNSTREAM_COLOR = QColor("#E8A0A0")
SELECTED_COLOR = QColor("#1565C0")
TEXT_COLOR = QColor("#1F2430")
MUTED_TEXT = QColor("#667085")
#: A frozen layer (weights that do not train): this mark in its header, its group colour muted.
FROZEN_MARK = "\u2744"  # snowflake
FROZEN_BADGE_WIDTH = 18.0


def muted(color: QColor) -> QColor:
    """``color`` greyed and lightened: the header of a frozen layer."""
    h, s, v, a = color.getHsvF()
    return QColor.fromHsvF(h, s * 0.35, min(1.0, v * 0.85 + 0.12), a)


def group_color(kind: str) -> QColor:
    """The colour of ``kind``'s catalog group."""
    sp = spec(kind)
    return QColor(GROUP_COLORS.get(sp.group, GENERIC_COLOR) if sp else GENERIC_COLOR)


def _font(size: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


TITLE_FONT = _font(9.5, bold=True)
BODY_FONT = _font(8.5)
BODY_BOLD = _font(8.5, bold=True)
BADGE_FONT = _font(11.0, bold=True)


class PortItem(QGraphicsItem):
    """An input (top) or output (bottom) port of a node; wires are dragged from outputs."""

    def __init__(self, node_item: "NodeItem", is_input: bool) -> None:
        super().__init__(node_item)
        self.node_item, self.is_input = node_item, is_input
        self.width = 2 * PORT_RADIUS  # merges widen their input port to span their anchors
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor if not is_input else Qt.ArrowCursor)
        self.setToolTip("Drag to an input port to connect" if not is_input else "")
        self.setPos(0, -HEIGHT / 2 if is_input else HEIGHT / 2)

    def set_width(self, width: float) -> None:
        """Widen the port (merge inputs take several edges side by side)."""
        if width != self.width:
            self.prepareGeometryChange()
            self.width = width

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        r = PORT_RADIUS + 3  # room for the hover ring
        return QRectF(-self.width / 2 - 3, -r, self.width + 6, 2 * r)

    def paint(self, painter, option, widget=None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.3:
            return  # too small to aim at; the card's block is enough
        color = self.node_item.color
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(color.darker(120), 1.5))
        hover = bool(option.state & QStyle.State_MouseOver)  # Qt repaints on hover enter/leave
        painter.setBrush(QBrush(color if hover else QColor("white")))
        r = PORT_RADIUS + (1.5 if hover else 0)
        painter.drawRoundedRect(QRectF(-self.width / 2 - (r - PORT_RADIUS), -r, self.width + 2 * (r - PORT_RADIUS), 2 * r), r, r)


class NodeItem(QGraphicsItem):
    """One layer on the canvas. ``edges`` are the :class:`EdgeItem` objects touching it."""

    def __init__(self, node, info=None) -> None:
        super().__init__()
        self.node = node
        self.node_id = node.id
        self.info = None
        self.edges: set = set()
        self.setFlags(QGraphicsItem.ItemIsSelectable | QGraphicsItem.ItemIsMovable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.in_port = PortItem(self, True) if node.n_inputs != 0 else None
        self.out_port = PortItem(self, False)
        self._lines: list[tuple[str, str, QColor, QFont]] = []
        self.set_node(node)
        self.set_info(info)
        self.setPos(QPointF(*node.pos))

    # -- content ------------------------------------------------------------------
    def set_node(self, node) -> None:
        """Show ``node``'s name, kind and key parameters (after a rename or parameter edit)."""
        self.node = node
        sp = spec(node.kind)
        self.frozen = node.frozen
        self.color = muted(group_color(node.kind)) if node.frozen else group_color(node.kind)
        self._title = node.name
        self._kind = node.kind
        if sp is not None:
            self._describe = sp.describe(node.params)
        else:
            self._describe = f"({fmt.call_text(node.extra['call'])})" if node.is_operation else "Keras layer"
        self._relayout()

    def set_info(self, info) -> bool:
        """Show inference results; returns False (and repaints nothing) if they did not change."""
        if info == self.info and self._lines:
            return False
        self.info = info
        self._relayout()
        return True

    @property
    def text_lines(self) -> list[tuple[str, str]]:
        """The card's body as drawn, ``(left, right)`` per line: the kind and its key parameters,
        then output shape and parameter count, receptive field and FLOPs (or the error)."""
        return [self._kind_line] + [(left, right) for left, right, _color, _font in self._lines]

    @property
    def at_fault(self) -> bool:
        """This node's own configuration fails."""
        return self.info is not None and self.info.root_error

    @property
    def downstream_of_error(self) -> bool:
        """A node upstream fails, so this one cannot be computed."""
        return self.info is not None and self.info.error is not None and not self.info.root_error

    def _relayout(self) -> None:
        """Turn name, parameters and info into elided text lines and a tooltip."""
        info = self.info
        fm = QFontMetricsF(BODY_FONT)
        room = WIDTH - 20
        kind_w = QFontMetricsF(BODY_BOLD).horizontalAdvance(self._kind + "  ")
        # first line: the kind in its group colour, then the key parameters
        self._kind_line = (self._kind, fm.elidedText(self._describe, Qt.ElideRight, max(0.0, room - kind_w)))
        lines: list[tuple[str, str, QColor, QFont]] = []
        if info is not None and info.error is not None:
            color = ERROR_COLOR if info.root_error else QColor("#A05050")
            message = info.error.removeprefix(f"{self._title}: ")  # the header already names the layer
            for text in _wrap(message, fm, room, 2):
                lines.append((text, "", color, BODY_FONT))
        elif info is not None:
            n = info.params
            count = (f"{fmt.count(n)} frozen" if self.frozen else f"{fmt.count(n)} params") if n else "no params"
            lines.append((f"→ {fmt.short_shape(info.output_shape)}", count, TEXT_COLOR, BODY_BOLD))
            rf = info.receptive_field
            lines.append((f"RF {'x'.join(map(str, rf.size))} px" if rf else "",
                          f"{fmt.flops(info.flops)} FLOPs" if info.flops else "", MUTED_TEXT, BODY_FONT))
        self._lines = lines
        badge = FROZEN_BADGE_WIDTH if self.frozen else 0.0
        self._title_text = QFontMetricsF(TITLE_FONT).elidedText(self._title, Qt.ElideMiddle, WIDTH - 18 - badge)
        self.setToolTip(self._tooltip())
        self.update_ports()
        self.update()

    def _tooltip(self) -> str:
        sp = spec(self._kind)
        rows = [f"<b>{self._title}</b> &nbsp;<i>{self._kind}</i>" + (f" &nbsp;{FROZEN_MARK} frozen" if self.frozen else "")]
        if sp:
            rows.append(sp.doc)
        info = self.info
        if info is not None and info.error is not None:
            rows.append(f"<span style='color:#c62828'><b>{'Error' if info.root_error else 'Not computed'}:</b> {info.error}</span>")
        elif info is not None:
            rows.append(f"Output {fmt.short_shape(info.output_shape)} · {info.params:,} parameters "
                        f"({info.trainable:,} trainable) · {info.flops:,} FLOPs")
            rf = info.receptive_field
            rows.append(f"Receptive field: {rf.text()}" if rf else f"Receptive field: none ({info.rf_note or 'not defined'})")
        return "<br>".join(rows)

    def update_ports(self) -> None:
        """A merge's input port spans the anchors of the edges it takes (at least two)."""
        if self.in_port is not None and self.node.n_inputs == MANY:
            n = max(2, sum(1 for e in self.edges if e.dst_item is self))
            self.in_port.set_width(PORT_SPACING * (n - 1) + 2 * PORT_RADIUS)

    # -- geometry -----------------------------------------------------------------
    def input_anchor(self, slot: int, n_slots: int) -> QPointF:
        """Scene point where the ``slot``-th (from the left) of ``n_slots`` incoming edges ends."""
        dx = (slot - (n_slots - 1) / 2) * PORT_SPACING if n_slots > 1 else 0.0
        return self.scenePos() + QPointF(dx, -HEIGHT / 2 - PORT_RADIUS)

    def output_anchor(self) -> QPointF:
        """Scene point where edges out of this node start."""
        return self.scenePos() + QPointF(0, HEIGHT / 2 + PORT_RADIUS)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return QRectF(-WIDTH / 2 - 4, -HEIGHT / 2 - 4, WIDTH + 10, HEIGHT + 10)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT), 7, 7)
        return path

    def itemChange(self, change, value):  # noqa: N802 (Qt name)
        if change == QGraphicsItem.ItemPositionHasChanged:
            touched = set(self.edges)
            for e in self.edges:  # a merge orders its anchors by where its sources sit
                if e.src_item is self and e.dst_item.node.n_inputs == MANY:
                    touched.update(x for x in e.dst_item.edges if x.dst_item is e.dst_item)
            for e in touched:
                e.update_path()
        return super().itemChange(change, value)

    # -- drawing ------------------------------------------------------------------
    def paint(self, painter, option, widget=None) -> None:
        rect = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT)
        selected = bool(option.state & QStyle.State_Selected)
        info = self.info
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        accent = ERROR_COLOR if self.at_fault else self.color
        if lod < 0.3:  # far out: a coloured block says more than unreadable text
            painter.setPen(QPen(SELECTED_COLOR, 6) if selected else Qt.NoPen)
            painter.setBrush(DOWNSTREAM_COLOR if self.downstream_of_error else accent)
            painter.drawRoundedRect(rect, 7, 7)
            return
        # soft shadow, card, header band
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(20, 30, 50, 28))
        painter.drawRoundedRect(rect.translated(1.5, 2.5), 7, 7)
        body = QColor("#FFF4F4") if info is not None and info.error is not None else QColor("white")
        painter.setBrush(body)
        painter.drawRoundedRect(rect, 7, 7)
        header = QPainterPath()
        header.addRoundedRect(QRectF(rect.left(), rect.top(), WIDTH, HEADER + 7), 7, 7)
        clip = QPainterPath()
        clip.addRect(QRectF(rect.left(), rect.top(), WIDTH, HEADER))
        painter.setBrush(DOWNSTREAM_COLOR.darker(115) if self.downstream_of_error else accent)
        painter.drawPath(header.intersected(clip))
        # outline: selection > error > downstream > plain
        if selected:
            pen = QPen(SELECTED_COLOR, 2.5)
        elif self.at_fault:
            pen = QPen(ERROR_COLOR, 2.2)
        elif self.downstream_of_error:
            pen = QPen(DOWNSTREAM_COLOR, 1.6)
        else:
            pen = QPen(QColor("#C5CBD5"), 1)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(rect, 7, 7)
        # header: the name; first body line: the kind, then its key parameters
        painter.setPen(QColor("white"))
        painter.setFont(TITLE_FONT)
        painter.drawText(QRectF(rect.left() + 9, rect.top(), WIDTH - 18, HEADER), Qt.AlignLeft | Qt.AlignVCenter,
                         self._title_text)
        if self.frozen:  # a snowflake at the header's right: its weights do not train
            painter.setFont(BADGE_FONT)
            painter.drawText(QRectF(rect.right() - FROZEN_BADGE_WIDTH - 4, rect.top(), FROZEN_BADGE_WIDTH, HEADER),
                             Qt.AlignCenter, FROZEN_MARK)
        y = rect.top() + HEADER + 3
        kind, describe = self._kind_line
        line = QRectF(rect.left() + 10, y, WIDTH - 20, 17)
        painter.setFont(BODY_BOLD)
        painter.setPen(accent.darker(115))
        painter.drawText(line, Qt.AlignLeft | Qt.AlignVCenter, kind)
        painter.setFont(BODY_FONT)
        painter.setPen(MUTED_TEXT)
        painter.drawText(line.adjusted(QFontMetricsF(BODY_BOLD).horizontalAdvance(kind + "  "), 0, 0, 0),
                         Qt.AlignLeft | Qt.AlignVCenter, describe)
        for left, right, color, font in self._lines:
            y += 17
            line = QRectF(rect.left() + 10, y, WIDTH - 20, 17)
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(line, Qt.AlignLeft | Qt.AlignVCenter, left)
            if right:
                painter.setFont(BODY_FONT)
                painter.setPen(MUTED_TEXT)
                painter.drawText(line, Qt.AlignRight | Qt.AlignVCenter, right)


def _wrap(text: str, fm: QFontMetricsF, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to ``max_lines`` lines; the rest goes on the last line, elided."""
    words, lines, cur = text.split(), [], ""
    for k, w in enumerate(words):
        cand = f"{cur} {w}".strip()
        if fm.horizontalAdvance(cand) <= width or not cur:
            cur = cand
            continue
        lines.append(cur)
        if len(lines) == max_lines - 1:
            cur = " ".join(words[k:])
            break
        cur = w
    lines.append(cur)
    lines[-1] = fm.elidedText(lines[-1], Qt.ElideRight, width)
    return lines
