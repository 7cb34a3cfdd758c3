"""Dragging a wire from a port: a rubber curve that turns green over a node that can take
it and red, with the reason next to the cursor, over one that cannot.

The rule is the graph model's (:meth:`~cnnstudio.core.graph.LayerGraph.can_connect`,
asked with the current inferred shapes); this module only shows its answer.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from cnnstudio.ui.editor.nodes import NodeItem, PortItem

ACCEPT_COLOR = QColor("#2E9D48")
REFUSE_COLOR = QColor("#D32F2F")
IDLE_COLOR = QColor("#7A8599")


class HintItem(QGraphicsItem):
    """A small text bubble that keeps its size at any zoom (the wire's verdict)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.ItemIgnoresTransformations)
        self.setZValue(10)
        self._text, self._color = "", IDLE_COLOR
        self._font = QFont()
        self._font.setPointSizeF(9)
        self._rect = QRectF()

    def text(self) -> str:
        """The message shown."""
        return self._text

    def set_message(self, text: str, color: QColor) -> None:
        """Show ``text`` framed in ``color`` (wrapped to a readable width)."""
        self.prepareGeometryChange()
        self._text, self._color = text, color
        fm = QFontMetricsF(self._font)
        bound = fm.boundingRect(QRectF(0, 0, 340, 1000), Qt.TextWordWrap, text)
        self._rect = QRectF(0, 0, bound.width() + 16, bound.height() + 10)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(self._color, 1.2))
        painter.setBrush(QColor(255, 255, 255, 240))
        painter.drawRoundedRect(self._rect, 5, 5)
        painter.setPen(self._color.darker(130))
        painter.setFont(self._font)
        painter.drawText(self._rect.adjusted(8, 5, -8, -5), Qt.TextWordWrap, self._text)


class WireDrag:
    """One wire being dragged from ``port`` (an output, or an input dragged backwards)."""

    def __init__(self, scene, port: PortItem) -> None:
        self.scene, self.port = scene, port
        self.target: NodeItem | None = None
        self.ok, self.reason = False, ""
        self.line = QGraphicsPathItem()
        self.line.setZValue(9)
        self.hint = HintItem()
        self.hint.hide()
        scene.addItem(self.line)
        scene.addItem(self.hint)

    def _ends(self, other: NodeItem) -> tuple[str, str]:
        me = self.port.node_item.node_id
        return (other.node_id, me) if self.port.is_input else (me, other.node_id)

    def _node_at(self, pos: QPointF) -> NodeItem | None:
        for it in self.scene.items(pos):
            if isinstance(it, PortItem):
                return it.node_item
            if isinstance(it, NodeItem) and it.node_id in self.scene.nodes:  # not a group's card
                return it
        return None

    def move_to(self, pos: QPointF) -> None:
        """Follow the cursor and judge the node under it."""
        target = self._node_at(pos)
        if target is self.port.node_item:
            target = None
        self.target = target
        if target is None:
            self.ok, self.reason = False, ""
            color = IDLE_COLOR
            self.hint.hide()
        else:
            src, dst = self._ends(target)
            studio = self.scene.studio
            self.ok, self.reason = studio.graph.can_connect(src, dst, shape_of=self.scene.shape_of)
            color = ACCEPT_COLOR if self.ok else REFUSE_COLOR
            names = f"{studio.graph.node(src).name} → {studio.graph.node(dst).name}"
            self.hint.set_message(f"Connect {names}" if self.ok else f"Cannot connect: {self.reason}", color)
            self.hint.setPos(pos + QPointF(14, 16))
            self.hint.show()
        start = self.port.scenePos()
        bend = 40.0 if not self.port.is_input else -40.0
        path = QPainterPath(start)
        path.cubicTo(start + QPointF(0, bend), pos - QPointF(0, bend), pos)
        pen = QPen(color, 2.2, Qt.SolidLine if self.ok else Qt.DashLine)
        self.line.setPen(pen)
        self.line.setPath(path)

    def finish(self) -> tuple[str, str] | None:
        """Remove the rubber wire; returns ``(src, dst)`` to connect, or None."""
        self.cancel()
        if self.target is None or not self.ok:
            return None
        return self._ends(self.target)

    def cancel(self) -> None:
        """Remove the rubber wire and the hint from the scene."""
        for it in (self.line, self.hint):
            if it.scene() is not None:
                self.scene.removeItem(it)
