"""The Editor page: a zoomable, pannable view of the :class:`GraphScene`.

The view owns the gestures that are not about single items: dropping palette layers,
zoom (wheel, Ctrl+=/Ctrl+-), pan (middle drag, or Space + drag), the keyboard and context
menu actions (delete, copy, paste, duplicate, select all, layout, fit, collapse/expand a
nested model's group) and image export.
Its actions are also put in the main window's Edit and View menus.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QApplication, QGraphicsView, QMenu

from cnnstudio.core.commands import AddNode, MoveNodes, Paste, SetFrozen, copy_subgraph
from cnnstudio.core.layout import layered_positions

from cnnstudio.ui.editor.nodes import NodeItem
from cnnstudio.ui.editor.palette import LAYER_MIME
from cnnstudio.ui.editor.scene import GraphScene

#: Clipboard mime type of copied layers (JSON from :func:`copy_subgraph`).
#: Tag of copied layers on the clipboard. The clipboard holds plain JSON text: PySide6 6.11
#: crashes at exit when a QMimeData object was put on the clipboard, and JSON text is
#: readable wherever it is pasted.
CLIP_TAG = "cnnstudio-layers"
MIN_ZOOM, MAX_ZOOM = 0.04, 3.0
READABLE_ZOOM = 0.9  # below this a freshly opened graph is shown from its top instead of whole
GRID = 20


class CanvasView(QGraphicsView):
    """The network editor canvas (the Editor page)."""

    def __init__(self, studio, parent=None) -> None:
        super().__init__(parent)
        self.studio = studio
        self.graph_scene = GraphScene(studio, self)
        self.setScene(self.graph_scene)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheBackground)  # the grid is drawn once per zoom, then scrolled
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space = False
        self._paste_count = 0
        self._auto_frame = True  # reframe on resize until the user zooms or pans
        self._build_actions()
        self.graph_scene.rebuilt.connect(self._on_scene_rebuilt)
        self.show_graph()

    def _on_scene_rebuilt(self) -> None:
        self._auto_frame = True
        self.show_graph()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self._auto_frame:  # the first layout pass resizes the page after the graph was framed
            self.show_graph()

    # -- actions ------------------------------------------------------------------
    def _act(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        act = QAction(text, self)
        keys: list[QKeySequence] = []
        for s in shortcuts:  # the same key twice would make the shortcut ambiguous (and dead)
            key = QKeySequence(s)
            if not key.isEmpty() and key not in keys:
                keys.append(key)
        act.setShortcuts(keys)
        act.setShortcutContext(Qt.WidgetWithChildrenShortcut)  # never steal keys from the inspector
        act.setToolTip(tip or text)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        s = self.graph_scene
        self.delete_action = self._act("&Delete", s.delete_selected, (QKeySequence.Delete, "Backspace"))
        self.copy_action = self._act("&Copy", self.copy, (QKeySequence.Copy,))
        self.paste_action = self._act("&Paste", self.paste, (QKeySequence.Paste,))
        self.duplicate_action = self._act("D&uplicate", self.duplicate, ("Ctrl+D",))
        self.select_all_action = self._act("Select &All", s.select_all, (QKeySequence.SelectAll,))
        self.layout_action = self._act("Arrange &Layers", self.auto_layout, ("Ctrl+L",),
                                       "Lay the network out in rows, inputs at the top")
        self.group_action = self._act("Collapse/Expand &Group", s.toggle_selected_group, ("Ctrl+G",),
                                      "Expand the selected nested model's card, or collapse the group of the selected layer")
        self.fit_action = self._act("&Fit to View", self.fit, ("F",))
        self.zoom_in_action = self._act("Zoom &In", lambda: self.zoom(1.25), ("Ctrl+=", QKeySequence.ZoomIn))
        self.zoom_out_action = self._act("Zoom &Out", lambda: self.zoom(0.8), ("Ctrl+-", QKeySequence.ZoomOut))
        self.actual_size_action = self._act("Actual &Size", self.reset_zoom, ("Ctrl+0",))
        self.freeze_action = self._act("&Freeze / Unfreeze Selection", self.toggle_frozen, ("Ctrl+F",),
                                       "Freeze the selected layers' weights (unfreeze them when all are frozen)")
        window = self.window()
        if getattr(window, "edit_menu", None) is not None:
            window.edit_menu.addActions(self.edit_actions())
            window.view_menu.addSeparator()
            window.view_menu.addActions(self.view_actions())

    def edit_actions(self) -> list[QAction]:
        """Actions for an Edit menu."""
        return [self.delete_action, self.copy_action, self.paste_action, self.duplicate_action,
                self.select_all_action, self.layout_action, self.group_action,
                self.freeze_action]

    def toggle_frozen(self) -> None:
        """Freeze the selected layers, or unfreeze them when every one is frozen already (one undo step)."""
        graph = self.studio.graph
        ids = [i for i in self.graph_scene.selected_node_ids() if graph.nodes[i].kind != "InputLayer"]
        if not ids:
            self.studio.status_message.emit("Select the layers to freeze first")
            return
        freeze = not all(graph.nodes[i].frozen for i in ids)
        self.studio.push(SetFrozen(graph, ids, freeze))

    def view_actions(self) -> list[QAction]:
        """Actions for a View menu."""
        return [self.fit_action, self.zoom_in_action, self.zoom_out_action, self.actual_size_action]

    # -- zoom and pan -------------------------------------------------------------
    def zoom_level(self) -> float:
        """Current scale (1.0: one scene unit per pixel)."""
        return self.transform().m11()

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` around the cursor, within sensible limits."""
        self._auto_frame = False
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom_level() * factor))
        f = target / self.zoom_level()
        self.scale(f, f)

    def reset_zoom(self) -> None:
        """Back to one scene unit per pixel."""
        self.zoom(1.0 / self.zoom_level())

    def fit(self) -> None:
        """Show the whole network (never magnified past 1.5x)."""
        rect = self.graph_scene.shown_rect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
        if self.zoom_level() > 1.5:
            self.zoom(1.5 / self.zoom_level())
        self.centerOn(rect.center())
        self._auto_frame = False

    def show_graph(self) -> None:
        """Frame a freshly loaded network: all of it, or its top at a readable size if it is tall."""
        rect = self.graph_scene.shown_rect()
        if rect.isEmpty():
            return
        self.fit()
        if self.zoom_level() < READABLE_ZOOM:
            self.zoom(READABLE_ZOOM / self.zoom_level())
            view_h = self.viewport().height() / self.zoom_level()
            self.centerOn(QPointF(rect.center().x(), rect.top() + view_h / 2 - 20))
        self._auto_frame = True

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.modifiers() & Qt.ShiftModifier:
            super().wheelEvent(event)  # Shift+wheel scrolls
            return
        delta = event.angleDelta().y()
        if delta:
            self.zoom(1.0015 ** delta)
        event.accept()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.button() == Qt.MiddleButton or (self._space and event.button() == Qt.LeftButton):
            self._pan_from = event.position()
            self._auto_frame = False
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.OpenHandCursor if self._space else Qt.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.NoDrag)
            self.viewport().setCursor(Qt.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.RubberBandDrag)
            self.viewport().setCursor(Qt.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- background ---------------------------------------------------------------
    def drawBackground(self, painter, rect: QRectF) -> None:  # noqa: N802 (Qt name)
        painter.fillRect(rect, QColor("#F5F7FA"))
        step = GRID
        while step * self.zoom_level() < 12:  # lines at least 12 px apart on screen
            step *= 5
        major_step = step * 5
        minor, major = [], []
        x = math.floor(rect.left() / step) * step
        while x < rect.right():
            (major if x % major_step == 0 else minor).append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = math.floor(rect.top() / step) * step
        while y < rect.bottom():
            (major if y % major_step == 0 else minor).append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, False)  # hairlines on pixel rows: crisp and fast
        painter.setPen(QPen(QColor("#E9EDF2"), 0))
        painter.drawLines(minor)
        painter.setPen(QPen(QColor("#DCE1E8"), 0))
        painter.drawLines(major)
        painter.restore()

    # -- drops from the palette ---------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        mime = event.mimeData()
        if not mime.hasFormat(LAYER_MIME):
            event.ignore()
            return
        kind = bytes(mime.data(LAYER_MIME)).decode("utf-8")
        self.add_layer_at(kind, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()

    def add_layer_at(self, kind: str, scene_pos: QPointF) -> str | None:
        """Add a ``kind`` layer centred at ``scene_pos`` and select it; returns its id."""
        pos = (round(scene_pos.x() / GRID) * GRID, round(scene_pos.y() / GRID) * GRID)
        cmd = AddNode(self.studio.graph, kind, pos=pos)
        if self.studio.push(cmd) is not None:
            return None
        self.studio.select([cmd.node.id])
        self.setFocus()
        return cmd.node.id

    # -- clipboard ----------------------------------------------------------------
    def copy(self) -> None:
        """Copy the selected layers (and the edges among them) to the clipboard as JSON."""
        ids = self.graph_scene.selected_node_ids()
        if not ids:
            return
        QApplication.clipboard().setText(json.dumps({"format": CLIP_TAG, **copy_subgraph(self.studio.graph, ids)}))
        self._paste_count = 0
        self.studio.status_message.emit(f"Copied {len(ids)} layer{'s' if len(ids) != 1 else ''}")

    def paste(self) -> None:
        """Paste layers from the clipboard, offset so repeated pastes do not stack."""
        try:
            clip = json.loads(QApplication.clipboard().text())
        except ValueError:
            clip = None
        if not isinstance(clip, dict) or clip.get("format") != CLIP_TAG:
            self.studio.status_message.emit("The clipboard does not hold layers")
            return
        self._paste_count += 1
        self._paste(clip, 40.0 * self._paste_count)

    def duplicate(self) -> None:
        """Copy and paste the selection in one step, beside the original."""
        ids = self.graph_scene.selected_node_ids()
        if ids:
            self._paste(copy_subgraph(self.studio.graph, ids), 40.0)

    def _paste(self, clip: dict, offset: float) -> None:
        cmd = Paste(self.studio.graph, clip, (offset, offset))
        if self.studio.push(cmd) is None:
            self.studio.select(cmd.new_ids)

    # -- layout -------------------------------------------------------------------
    def auto_layout(self) -> None:
        """Arrange every layer in rows (one undoable move), then fit the view."""
        graph = self.studio.graph
        moves = {nid: pos for nid, pos in layered_positions(graph).items() if tuple(graph.nodes[nid].pos) != pos}
        if moves:
            self.studio.push(MoveNodes(graph, moves))
            self.graph_scene.fit_scene_rect()
        self.fit()

    # -- context menu -------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.context_menu(event.pos()).exec(event.globalPos())

    def context_menu(self, view_pos) -> QMenu:
        """The right-click menu at ``view_pos``; an unselected item there gets selected first."""
        item = self.itemAt(view_pos)
        while item is not None and item.parentItem() is not None:
            item = item.parentItem()  # a port: act on its node
        if item is not None and not item.isSelected():
            self.graph_scene.clearSelection()
            item.setSelected(True)
        selected = self.graph_scene.selectedItems()
        has_nodes = any(isinstance(i, NodeItem) for i in selected)
        menu = QMenu(self)
        menu.setAttribute(Qt.WA_DeleteOnClose)
        if selected:
            menu.addAction(self.delete_action)
        if has_nodes:
            menu.addActions([self.copy_action, self.duplicate_action, self.freeze_action])
            if any(self.studio.graph.nodes[i].group is not None for i in self.graph_scene.selected_node_ids()):
                menu.addAction(self.group_action)
        menu.addAction(self.paste_action)
        menu.addSeparator()
        menu.addActions([self.select_all_action, self.layout_action, self.fit_action])
        return menu

    # -- image export -------------------------------------------------------------
    def export_image(self, path: str | Path) -> Path:
        """Write the whole graph as ``.png`` (2x, white background) or ``.svg``; returns the path.

        Raises ValueError for another suffix or an empty graph, OSError if writing fails.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".svg"):
            raise ValueError(f"cannot export {path.name}: choose a .png or .svg file name")
        scene = self.graph_scene
        rect = scene.shown_rect()
        if rect.isEmpty():
            raise ValueError("the graph is empty: nothing to export")
        rect = rect.adjusted(-30, -30, 30, 30)
        with scene.selection_hidden():  # a picture without selection outlines
            if suffix == ".png":
                self._write_png(path, rect)
            else:
                self._write_svg(path, rect)
        return path

    def _write_png(self, path: Path, rect: QRectF) -> None:
        # 2x for sharp text, but keep huge graphs (ResNet50) within a sane image size
        scale = min(2.0, (80e6 / (rect.width() * rect.height())) ** 0.5, 30000 / max(rect.width(), rect.height()))
        image = QImage(QSize(int(rect.width() * scale), int(rect.height() * scale)), QImage.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.graph_scene.render(painter, QRectF(image.rect()), rect)
        painter.end()
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")

    def _write_svg(self, path: Path, rect: QRectF) -> None:
        from PySide6.QtSvg import QSvgGenerator  # only needed here; keeps start-up lean

        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(rect.size().toSize())
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle(self.studio.project.name)
        gen.setDescription("Network graph exported by cnnstudio")
        painter = QPainter()
        if not painter.begin(gen):
            raise OSError(f"could not write {path}")
        painter.fillRect(QRectF(0, 0, rect.width(), rect.height()), QColor("white"))
        self.graph_scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        painter.end()
