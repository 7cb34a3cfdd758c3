"""The layer palette: every catalog kind, search, tooltips, drag onto the canvas, double-click to append."""

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnnstudio.core.catalog import CATALOG, GROUPS
from cnnstudio.core.layout import ROW
from cnnstudio.ui.editor.canvas import CanvasView
from cnnstudio.ui.editor.palette import LAYER_MIME, PaletteView


@pytest.fixture
def palette(studio, shown):
    return shown(PaletteView(studio), 260, 700)


def leaf(palette, kind):
    return next(it for it in palette.tree.findItems(kind, Qt.MatchExactly | Qt.MatchRecursive) if it.parent())


def test_every_catalog_kind_is_listed_in_its_group(palette):
    tree = palette.tree
    assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())] == list(GROUPS)
    assert sorted(palette.visible_kinds()) == sorted(CATALOG)
    assert leaf(palette, "Conv2D").parent().text(0) == "Convolution"
    assert CATALOG["Conv2D"].doc in leaf(palette, "Conv2D").toolTip(0)


def test_search_filters_by_name_and_description(palette):
    palette.search.setText("pool")
    kinds = palette.visible_kinds()
    assert "MaxPooling2D" in kinds and "GlobalAveragePooling2D" in kinds and "Dense" not in kinds
    assert palette.tree.topLevelItem(GROUPS.index("Core")).isHidden()
    palette.search.setText("skip connections")  # words from the description
    assert palette.visible_kinds() == ["Add"]
    palette.search.setText("no such layer")
    assert palette.visible_kinds() == []
    palette.search.clear()
    assert len(palette.visible_kinds()) == len(CATALOG)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # QDragEnterEvent's only constructor takes a QPoint
def test_drag_carries_the_kind_and_dropping_on_the_canvas_adds_it_there(palette, studio, qtbot):
    canvas = CanvasView(studio)
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    qtbot.waitExposed(canvas)
    mime = palette.tree.mimeData([leaf(palette, "BatchNormalization")])
    assert bytes(mime.data(LAYER_MIME)).decode() == "BatchNormalization"
    point = QPointF(300, 200)
    n = len(studio.graph.nodes)
    enter = QDragEnterEvent(point.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(canvas.viewport(), enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(canvas.viewport(), drop)
    assert len(studio.graph.nodes) == n + 1
    node = studio.graph.node(studio.selection[0])
    assert node.kind == "BatchNormalization"
    where = canvas.mapToScene(point.toPoint())
    assert abs(node.pos[0] - where.x()) <= 10 and abs(node.pos[1] - where.y()) <= 10
    assert node.id in canvas.graph_scene.nodes
    studio.undo_stack.undo()
    assert len(studio.graph.nodes) == n


def test_double_click_appends_after_the_selection_and_wires_it(palette, studio):
    graph = studio.graph
    c3 = graph.by_name("C3").id
    studio.select([c3])
    item = leaf(palette, "Dropout")
    palette.tree.scrollToItem(item)
    center = palette.tree.visualItemRect(item).center()
    QTest.mouseClick(palette.tree.viewport(), Qt.LeftButton, Qt.NoModifier, center)  # as a person double-clicks
    QTest.mouseDClick(palette.tree.viewport(), Qt.LeftButton, Qt.NoModifier, center)
    new = studio.selection[0]
    assert graph.node(new).kind == "Dropout"
    assert any(e.src == c3 and e.dst == new for e in graph.edges)
    cx, cy = graph.node(c3).pos
    assert graph.node(new).pos[1] == cy + ROW and graph.node(new).pos[0] != cx  # below, beside S4
    studio.reinfer()
    assert studio.inference[new].output_shape == (10, 10, 16)


def test_without_selection_enter_in_search_appends_after_the_last_output(palette, studio):
    graph = studio.graph
    out = graph.by_name("output").id
    studio.select([])
    palette.search.setText("dropout")
    QTest.keyClick(palette.search, Qt.Key_Return)
    new = studio.selection[0]
    assert graph.node(new).kind == "Dropout" and graph.inputs_of(new) == [out]
    assert graph.node(new).pos == (graph.node(out).pos[0], graph.node(out).pos[1] + ROW)


def test_an_input_layer_is_added_unwired(palette, studio):
    new = palette.append("InputLayer")
    assert studio.graph.inputs_of(new) == [] and studio.graph.out_edges(new) == []
