"""The canvas's edge: a curve from an output port to an input port, labelled with the
tensor shape that flows along it. Skip connections that would run through the cards in
between (a ResNet's identity shortcuts) swing out to the side instead.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyle

from cnnstudio.ui.editor import formatting as fmt
from cnnstudio.ui.editor.nodes import HEIGHT, SELECTED_COLOR, NodeItem

EDGE_COLOR = QColor("#8C96A8")
BROKEN_COLOR = QColor("#D99A9A")
LABEL_FONT = QFont()
LABEL_FONT.setPointSizeF(7.5)
SIDE_MARGIN = 28.0  # how far a detour passes beside the cards it avoids
ARROW = 6.0


class EdgeItem(QGraphicsItem):
    """The edge ``edge`` (a core :class:`~cnnstudio.core.graph.Edge`) between two node items."""

    def __init__(self, edge, src_item: NodeItem, dst_item: NodeItem) -> None:
        super().__init__()
        self.edge, self.src_item, self.dst_item = edge, src_item, dst_item
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self._path = QPainterPath()
        self._arrow = QPolygonF()
        self._shape = QPainterPath()
        self._label = ""
        self._label_rect = QRectF()
        self._label_at = QPointF()
        self._label_side = 0  # -1 / 1: the label sits left / right of the wire instead of on it
        self._bounds = QRectF()
        src_item.edges.add(self)
        dst_item.edges.add(self)
        self.update_label()
        self.update_path()

    def detach(self) -> None:
        """Forget the node items (before the edge item leaves the scene)."""
        self.src_item.edges.discard(self)
        self.dst_item.edges.discard(self)

    # -- content ------------------------------------------------------------------
    def update_label(self) -> None:
        """Show the source's current output shape (and both names in the tooltip)."""
        info = self.src_item.info
        text = "" if info is None or info.error is not None else fmt.short_shape(info.output_shape)
        self.setToolTip(f"{self.src_item.node.name} → {self.dst_item.node.name}: {text or 'not computed'}")
        if text == self._label:
            return
        self._label = text
        self._place_label()
        self.update()

    @property
    def label(self) -> str:
        """The shape written on the edge (``""`` while the source has no valid output)."""
        return self._label

    @property
    def broken(self) -> bool:
        """The source has no valid output (an error at or above it)."""
        info = self.src_item.info
        return info is not None and info.error is not None

    # -- geometry -----------------------------------------------------------------
    def _slot(self) -> tuple[int, int]:
        """``(index, count)`` of this edge among the edges into its target.

        A merge's anchors are ordered by where the sources sit, left to right, so wires
        into one merge do not cross (the port order itself is shown in the tooltips).
        """
        siblings = [e for e in self.dst_item.edges if e.dst_item is self.dst_item]
        siblings.sort(key=lambda e: (e.src_item.scenePos().x(), e.edge.port))
        return siblings.index(self), len(siblings)

    def update_path(self) -> None:
        """Re-route the curve after either end moved (or the scene around it changed)."""
        index, count = self._slot()
        p0 = self.src_item.output_anchor()
        p3 = self.dst_item.input_anchor(index, count)
        path = QPainterPath(p0)
        lane = self._detour_lane(p0, p3)
        if lane is None:
            dy = max(30.0, abs(p3.y() - p0.y()) / 2)
            path.cubicTo(p0 + QPointF(0, dy), p3 - QPointF(0, dy), p3)
            # edges fanning out of one port would stack their labels at the middle: nearer the target
            fan = sum(1 for e in self.src_item.edges if e.src_item is self.src_item) > 1
            self._label_at = path.pointAtPercent(0.7 if fan else 0.5)
            # into a merge, other wires arrive beside this one: keep the label on the outer side
            self._label_side = 0 if count == 1 else (-1 if index < (count - 1) / 2 else 1)
        else:
            # leave downward, run down a lane beside the cards in the way, come back in from above
            path.cubicTo(p0 + QPointF(0, 16), QPointF(lane, p0.y() + 6), QPointF(lane, p0.y() + 22))
            path.lineTo(lane, p3.y() - 22)
            path.cubicTo(QPointF(lane, p3.y() - 6), p3 - QPointF(0, 16), p3)
            self._label_at = QPointF(lane, (p0.y() + p3.y()) / 2)
            self._label_side = 0
        self.prepareGeometryChange()
        self._path = path
        self._arrow = _arrow_head(path)
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        self._shape = stroker.createStroke(path)
        self._place_label()

    @property
    def route(self) -> QPainterPath:
        """The curve as drawn, in scene coordinates (a copy)."""
        return QPainterPath(self._path)

    @property
    def label_anchor(self) -> QPointF:
        """Where the shape label is centred (a detour's label sits on its side lane)."""
        return QPointF(self._label_at)

    def _detour_lane(self, p0: QPointF, p3: QPointF) -> float | None:
        """The x of a free vertical lane if the straight route crosses other cards, else None."""
        scene = self.scene()
        if scene is None or abs(p3.y() - p0.y()) <= HEIGHT + 40:
            return None
        line = QPainterPath(p0)
        line.lineTo(p3)
        blockers = self._cards_on(scene, line)
        if not blockers:
            return None
        right = max(b.sceneBoundingRect().right() for b in blockers) + SIDE_MARGIN
        left = min(b.sceneBoundingRect().left() for b in blockers) - SIDE_MARGIN
        # the side the wire comes from (or, from straight above, the side of the port it enters)
        dst_x = self.dst_item.scenePos().x()
        if abs(p0.x() - dst_x) > 1:
            go_right = p0.x() > dst_x
        elif abs(p3.x() - dst_x) > 1:
            go_right = p3.x() > dst_x
        else:
            mid = (p0.x() + p3.x()) / 2
            go_right = right - mid <= mid - left
        beyond = p0.x() >= right if go_right else p0.x() <= left
        lanes = ([p0.x()] if beyond else []) + [right if go_right else left]
        for x in lanes:  # straight down from the source if nothing is there, else just past the cards
            lane = QPainterPath(QPointF(x, p0.y() + 22))
            lane.lineTo(x, p3.y() - 22)
            if not self._cards_on(scene, lane):
                return x
        return lanes[-1]

    def _cards_on(self, scene, path: QPainterPath) -> list[NodeItem]:
        return [it for it in scene.items(path, Qt.IntersectsItemBoundingRect)
                if isinstance(it, NodeItem) and it is not self.src_item and it is not self.dst_item]

    def _place_label(self) -> None:
        self.prepareGeometryChange()
        if self._label:
            fm = QFontMetricsF(LABEL_FONT)
            w, h = fm.horizontalAdvance(self._label) + 10, fm.height() + 2
            x = self._label_at.x() - w / 2 + self._label_side * (w / 2 + 4)
            self._label_rect = QRectF(x, self._label_at.y() - h / 2, w, h)
        else:
            self._label_rect = QRectF()
        self._bounds = self._path.boundingRect().adjusted(-ARROW - 2, -ARROW - 2, ARROW + 2, ARROW + 2)
        if self._label:
            self._bounds = self._bounds.united(self._label_rect.adjusted(-1, -1, 1, 1))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return self._bounds

    def shape(self) -> QPainterPath:
        shape = QPainterPath(self._shape)
        if self._label:
            shape.addRect(self._label_rect)
        return shape

    # -- drawing ------------------------------------------------------------------
    def paint(self, painter, option, widget=None) -> None:
        selected = bool(option.state & QStyle.State_Selected)
        color = SELECTED_COLOR if selected else (BROKEN_COLOR if self.broken else EDGE_COLOR)
        if option.state & QStyle.State_MouseOver and not selected:
            color = color.darker(130)
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        pen = QPen(color, 2.6 if selected else 1.6)
        if lod < 0.3:
            pen.setCosmetic(True)  # zoomed far out: one pixel wide, still visible
            pen.setWidthF(1.0)
        if self.broken:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(self._arrow)
        if not self._label or lod < 0.45:
            return
        painter.setPen(QPen(color if selected else QColor("#D3D8E0"), 1))
        painter.setBrush(QColor("#F7F9FC"))
        painter.drawRoundedRect(self._label_rect, 4, 4)
        painter.setFont(LABEL_FONT)
        painter.setPen(QColor("#3A4352"))
        painter.drawText(self._label_rect, Qt.AlignCenter, self._label)


def _arrow_head(path: QPainterPath) -> QPolygonF:
    """A small triangle at the end of ``path``, pointing along its last direction."""
    end = path.pointAtPercent(1.0)
    angle = math.radians(path.angleAtPercent(1.0))
    back = QPointF(math.cos(angle), -math.sin(angle))
    normal = QPointF(-back.y(), back.x())
    return QPolygonF([end, end - back * ARROW * 1.6 + normal * ARROW * 0.8, end - back * ARROW * 1.6 - normal * ARROW * 0.8])
