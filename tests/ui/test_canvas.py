"""The editor canvas: a mirror of the graph that turns mouse and keyboard gestures into commands."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from cnnstudio.core.commands import AddNode, Connect, MoveNodes, SetParams
from cnnstudio.core.graph import CALL_INPUT, LayerGraph
from cnnstudio.core.layout import layered_positions
from cnnstudio.core.project import Project
from cnnstudio.core.templates import lenet5
from cnnstudio.ui.editor.canvas import CanvasView
from cnnstudio.ui.editor.edges import EdgeItem
from cnnstudio.ui.editor.nodes import NodeItem
from cnnstudio.ui.studio import Studio


@pytest.fixture
def canvas(qtbot, studio, shown):
    view = shown(CanvasView(studio), 1000, 800)
    qtbot.waitExposed(view)
    view.reset_zoom()
    return view


def nid(studio, name):
    return studio.graph.by_name(name).id


def item(canvas, studio, name) -> NodeItem:
    return canvas.graph_scene.nodes[nid(studio, name)]


def settle(studio):
    studio.reinfer()  # what the zero-delay timer after every edit does


def at(canvas, scene_point: QPointF) -> QPoint:
    """Viewport pixel of a scene point (after making sure it is on screen)."""
    canvas.centerOn(scene_point)
    return canvas.mapFromScene(scene_point)


def drag(canvas, start: QPointF, end: QPointF, hover=None):
    """Press at ``start``, move in steps to ``end`` (calling ``hover`` there), release."""
    vp = canvas.viewport()
    p0 = at(canvas, start)
    p1 = canvas.mapFromScene(end)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, p0)
    for k in range(1, 6):
        QTest.mouseMove(vp, p0 + (p1 - p0) * k / 5)
    if hover is not None:
        hover()
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, p1)


def add_free(studio, kind, pos, **params):
    cmd = AddNode(studio.graph, kind, params or None, pos=pos)
    assert studio.push(cmd) is None
    settle(studio)
    return cmd.node.id


def test_scene_mirrors_the_graph_with_shapes_on_edges(canvas, studio):
    scene = canvas.graph_scene
    assert set(scene.nodes) == set(studio.graph.nodes)
    assert len(scene.edges) == len(studio.graph.edges)
    c1 = item(canvas, studio, "C1")
    assert c1.node.name == "C1" and "6, 5x5" in c1.text_lines[0][1]
    assert c1.text_lines[1] == ("→ 28x28x6", "156 params")
    assert c1.text_lines[2][0] == "RF 5x5 px"
    edge = next(e for e in scene.edges.values() if e.src_item is c1)
    assert edge.label == "28x28x6"
    assert c1.cacheMode() == NodeItem.DeviceCoordinateCache


def test_dragging_output_port_to_input_port_connects(canvas, studio):
    drop = add_free(studio, "Dropout", (500, 600))
    s4 = item(canvas, studio, "S4")
    target = canvas.graph_scene.nodes[drop]
    undo_before = studio.undo_stack.count()
    drag(canvas, s4.out_port.scenePos(), target.in_port.scenePos())
    assert (nid(studio, "S4"), drop) in {(e.src, e.dst) for e in studio.graph.edges}
    assert studio.undo_stack.count() == undo_before + 1
    assert canvas.graph_scene.wire is None and len(canvas.graph_scene.edges) == len(studio.graph.edges)
    studio.undo_stack.undo()
    assert drop not in {e.dst for e in studio.graph.edges}


def _refused(canvas, studio, qtbot, src_port, dst_item):
    edges = studio.graph.edges
    seen = {}

    def hover():
        wire = canvas.graph_scene.wire
        seen.update(ok=wire.ok, hint=wire.hint.text(), visible=wire.hint.isVisible(),
                    color=wire.line.pen().color().name())

    with qtbot.waitSignal(studio.status_message, timeout=1000) as status:
        drag(canvas, src_port.scenePos(), dst_item.scenePos(), hover)
    assert studio.graph.edges == edges  # nothing created
    assert not seen["ok"] and seen["visible"] and seen["color"] == "#d32f2f"
    assert seen["hint"].startswith("Cannot connect: ")
    assert status.args[0] == seen["hint"]
    return seen["hint"]


def test_dense_into_conv_is_refused_with_the_shape_reason(canvas, studio, qtbot):
    conv = add_free(studio, "Conv2D", (600, 900))
    reason = _refused(canvas, studio, qtbot, item(canvas, studio, "F6").out_port, canvas.graph_scene.nodes[conv])
    assert "F6 gives (84)" in reason


def test_taken_port_and_cycle_are_refused(canvas, studio, qtbot):
    reason = _refused(canvas, studio, qtbot, item(canvas, studio, "S4").out_port, item(canvas, studio, "C1"))
    assert "already fed by input" in reason
    m1 = AddNode(studio.graph, "Add", pos=(600, 300), after=nid(studio, "C1"))
    studio.push(m1)
    m2 = AddNode(studio.graph, "Add", pos=(600, 450), after=m1.node.id)
    studio.push(m2)
    settle(studio)
    scene = canvas.graph_scene
    reason = _refused(canvas, studio, qtbot, scene.nodes[m2.node.id].out_port, scene.nodes[m1.node.id])
    assert "cycle" in reason


def test_accepting_target_shows_green(canvas, studio):
    drop = add_free(studio, "Dropout", (500, 600))
    seen = {}

    def hover():
        wire = canvas.graph_scene.wire
        seen.update(ok=wire.ok, hint=wire.hint.text(), color=wire.line.pen().color().name())

    drag(canvas, item(canvas, studio, "F6").out_port.scenePos(), canvas.graph_scene.nodes[drop].scenePos(), hover)
    assert seen == {"ok": True, "hint": "Connect F6 → dropout", "color": "#2e9d48"}


def test_delete_undo_redo_restores_nodes_and_edges(canvas, studio):
    graph = studio.graph
    before_nodes, before_edges = dict(graph.nodes), set(graph.edges)
    studio.select([nid(studio, "C3")])
    assert item(canvas, studio, "C3").isSelected()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_Delete)
    assert graph.by_name("C3") is None and len(graph.edges) == len(before_edges) - 2
    assert len(canvas.graph_scene.nodes) == len(graph.nodes) and len(canvas.graph_scene.edges) == len(graph.edges)
    studio.undo_stack.undo()
    assert set(graph.nodes) == set(before_nodes) and set(graph.edges) == before_edges
    assert set(canvas.graph_scene.nodes) == set(graph.nodes) and set(canvas.graph_scene.edges) == before_edges
    studio.undo_stack.redo()
    assert graph.by_name("C3") is None and len(canvas.graph_scene.nodes) == len(before_nodes) - 1
    studio.undo_stack.undo()
    # an edge on its own: select it and delete it (a Disconnect)
    edge_item = next(e for e in canvas.graph_scene.edges.values() if e.dst_item.node.name == "F6")
    canvas.graph_scene.clearSelection()
    edge_item.setSelected(True)
    QTest.keyClick(canvas, Qt.Key_Delete)
    assert edge_item.edge not in graph.edges and graph.by_name("F6") is not None
    studio.undo_stack.undo()
    assert edge_item.edge in graph.edges


def test_copy_paste_and_duplicate(canvas, studio):
    graph = studio.graph
    n = len(graph.nodes)
    studio.select([nid(studio, "C1"), nid(studio, "S2")])
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_C, Qt.ControlModifier)
    QTest.keyClick(canvas, Qt.Key_V, Qt.ControlModifier)
    assert len(graph.nodes) == n + 2
    new = studio.selection
    assert len(new) == 2 and {graph.node(i).name for i in new} == {"C1_1", "S2_1"}
    assert [(e.src, e.dst) for e in graph.edges if e.dst in new] == [(new[0], new[1])]
    assert all(canvas.graph_scene.nodes[i].isSelected() for i in new)
    QTest.keyClick(canvas, Qt.Key_D, Qt.ControlModifier)  # duplicate the pasted pair
    assert len(graph.nodes) == n + 4
    studio.undo_stack.undo()
    studio.undo_stack.undo()
    assert len(graph.nodes) == n and len(canvas.graph_scene.nodes) == n


def test_mouse_move_is_one_undoable_command(canvas, studio):
    c1 = item(canvas, studio, "C1")
    start = tuple(studio.graph.node(c1.node_id).pos)
    count = studio.undo_stack.count()
    grab = c1.scenePos() + QPointF(0, 10)  # the card's body, not a port
    drag(canvas, grab, grab + QPointF(150, 40))
    moved = studio.graph.node(c1.node_id).pos
    assert studio.undo_stack.count() == count + 1
    assert abs(moved[0] - start[0] - 150) < 3 and abs(moved[1] - start[1] - 40) < 3
    edge = next(e for e in c1.edges if e.src_item is c1)
    assert edge.route.pointAtPercent(0) == c1.output_anchor()
    studio.undo_stack.undo()
    assert tuple(studio.graph.node(c1.node_id).pos) == start and (c1.pos().x(), c1.pos().y()) == start


def test_rubber_band_selects_and_selection_syncs_both_ways(canvas, studio):
    c1, s2 = item(canvas, studio, "C1"), item(canvas, studio, "S2")
    top_left = c1.sceneBoundingRect().topLeft() - QPointF(40, 20)
    bottom_right = s2.sceneBoundingRect().bottomRight() + QPointF(40, -10)
    drag(canvas, top_left, bottom_right)
    assert set(studio.selection) == {c1.node_id, s2.node_id}
    studio.select([nid(studio, "F6")])
    assert [i for i in canvas.graph_scene.selected_node_ids()] == [nid(studio, "F6")]
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_A, Qt.ControlModifier)
    assert studio.selection == list(studio.graph.nodes)


def test_layout_is_one_command_and_fit_shows_everything(canvas, studio):
    graph = studio.graph
    scatter = {i: (k * 37.0 % 500, k * 71.0 % 400) for k, i in enumerate(graph.nodes)}
    studio.push(MoveNodes(graph, scatter))
    count = studio.undo_stack.count()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_L, Qt.ControlModifier)
    assert studio.undo_stack.count() == count + 1
    assert {i: tuple(n.pos) for i, n in graph.nodes.items()} == layered_positions(graph)
    assert all((it.pos().x(), it.pos().y()) == layered_positions(graph)[i] for i, it in canvas.graph_scene.nodes.items())
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(canvas.graph_scene.itemsBoundingRect())
    studio.undo_stack.undo()
    assert {i: tuple(n.pos) for i, n in graph.nodes.items()} == scatter


def test_zoom_keys_and_wheel(canvas):
    canvas.setFocus()
    z = canvas.zoom_level()
    QTest.keyClick(canvas, Qt.Key_Equal, Qt.ControlModifier)
    assert canvas.zoom_level() == pytest.approx(z * 1.25)
    QTest.keyClick(canvas, Qt.Key_Minus, Qt.ControlModifier)
    assert canvas.zoom_level() == pytest.approx(z)
    QTest.keyClick(canvas, Qt.Key_F)
    assert canvas.zoom_level() < z  # LeNet-5 is taller than the view


def test_error_marks_the_node_at_fault_and_clears_when_fixed(canvas, studio):
    c3, c5 = nid(studio, "C3"), nid(studio, "C5")
    studio.push(SetParams(studio.graph, c3, {"kernel_size": (7, 7)}))  # S4 becomes 4x4: C5's 5x5 no longer fits
    settle(studio)
    at_fault = item(canvas, studio, "C5")
    assert at_fault.at_fault and not at_fault.downstream_of_error
    assert "does not fit" in " ".join(left for left, _ in at_fault.text_lines)
    assert "does not fit" in at_fault.toolTip()
    for name in ("flatten", "F6", "output"):
        assert item(canvas, studio, name).downstream_of_error
    assert not item(canvas, studio, "C3").info.error
    out_edge = next(e for e in at_fault.edges if e.src_item is at_fault)
    assert out_edge.broken and out_edge.label == ""
    studio.undo_stack.undo()
    settle(studio)
    assert not any(it.at_fault or it.downstream_of_error for it in canvas.graph_scene.nodes.values())
    assert out_edge.label == "1x1x120"
    assert studio.inference[c5].error is None


def test_an_edit_repaints_only_the_items_whose_info_changed(canvas, studio, monkeypatch):
    repainted = []
    monkeypatch.setattr(NodeItem, "update", lambda self, *a: repainted.append(self.node.name))
    studio.push(SetParams(studio.graph, nid(studio, "C5"), {"filters": 100}))
    settle(studio)
    assert sorted(set(repainted)) == ["C5", "F6", "flatten"]


def test_connect_command_from_elsewhere_appears_and_undo_removes_it(canvas, studio):
    drop = add_free(studio, "Dropout", (500, 600))
    studio.push(Connect(studio.graph, nid(studio, "F6"), drop))
    settle(studio)
    edge = next(e for e in canvas.graph_scene.edges.values() if e.dst_item.node_id == drop)
    assert isinstance(edge, EdgeItem) and edge.label == "84"
    studio.undo_stack.undo()
    assert not any(e.dst_item.node_id == drop for e in canvas.graph_scene.edges.values())


def test_new_project_rebuilds_the_scene(canvas, studio):
    from cnnstudio.core.templates import resnet_style
    studio.set_project(resnet_style())
    assert set(canvas.graph_scene.nodes) == set(studio.graph.nodes)
    assert len(canvas.graph_scene.edges) == len(studio.graph.edges)
    # the identity shortcut of block 1 swings aside instead of running through the block's cards
    skip = next(e for e in canvas.graph_scene.edges.values()
                if e.src_item.node.name == "stem_relu" and e.dst_item.node.name == "block1_add")
    assert skip.label_anchor.x() > skip.src_item.sceneBoundingRect().right()


def test_export_png_and_svg(canvas, studio, tmp_path):
    png, svg = canvas.export_image(tmp_path / "g.png"), canvas.export_image(tmp_path / "g.svg")
    assert png.stat().st_size > 1000 and svg.stat().st_size > 1000
    image = QImage(str(png))
    rect = canvas.graph_scene.itemsBoundingRect()
    assert image.width() == int((rect.width() + 60) * 2)
    assert image.pixelColor(2, 2).name() == "#ffffff"
    assert "<svg" in svg.read_text()
    with pytest.raises(ValueError):
        canvas.export_image(tmp_path / "g.gif")


def test_in_the_main_window_the_canvas_actions_are_in_the_menus_and_keys_work(qtbot):
    from cnnstudio.ui.mainwindow import MainWindow
    studio = Studio(lenet5())
    win = MainWindow(studio)
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)
    canvas = win.show_page("Editor")
    assert isinstance(canvas, CanvasView)
    edit = [a.text() for a in win.edit_menu.actions()]
    view = [a.text() for a in win.view_menu.actions()]
    assert {"&Delete", "&Copy", "&Paste", "Select &All", "Arrange &Layers"} <= set(edit)
    assert {"&Fit to View", "Zoom &In", "Zoom &Out"} <= set(view)
    studio.select([nid(studio, "C3")])
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus)
    QTest.keyClick(canvas, Qt.Key_Delete)
    assert studio.graph.by_name("C3") is None
    QTest.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)  # the window's Undo
    assert studio.graph.by_name("C3") is not None
    assert len(canvas.graph_scene.edges) == len(studio.graph.edges)


def test_middle_drag_and_space_drag_pan(canvas, studio):
    canvas.zoom(2.0)
    vp = canvas.viewport()
    bars = lambda: (canvas.horizontalScrollBar().value(), canvas.verticalScrollBar().value())  # noqa: E731
    before = bars()
    QTest.mousePress(vp, Qt.MiddleButton, Qt.NoModifier, QPoint(400, 400))
    QTest.mouseMove(vp, QPoint(350, 300))
    QTest.mouseRelease(vp, Qt.MiddleButton, Qt.NoModifier, QPoint(350, 300))
    assert bars() == (before[0] + 50, before[1] + 100)
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key_Space)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, QPoint(300, 300))
    QTest.mouseMove(vp, QPoint(330, 330))
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, QPoint(330, 330))
    QTest.keyRelease(canvas, Qt.Key_Space)
    assert bars() == (before[0] + 20, before[1] + 70)
    assert studio.selection == []  # panning is not a rubber band


def test_context_menu_acts_on_the_node_under_the_cursor(canvas, studio):
    c1 = item(canvas, studio, "C1")
    menu = canvas.context_menu(at(canvas, c1.scenePos() + QPointF(0, 10)))
    assert studio.selection == [c1.node_id]
    texts = [a.text() for a in menu.actions()]
    assert {"&Delete", "&Copy", "D&uplicate", "&Paste", "Arrange &Layers", "&Fit to View"} <= set(texts)
    canvas.graph_scene.clearSelection()
    empty = canvas.context_menu(at(canvas, QPointF(-2000, -2000)))
    assert "&Delete" not in [a.text() for a in empty.actions()]


def test_an_operation_node_shows_its_kind_and_call(qtbot):
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (8, 8, 3)}, name="image")
    call = {"args": [1.0, {CALL_INPUT: 0}], "kwargs": {}}  # 1.0 - x, as an imported model records it
    op = g.add_node("Subtract (op)", name="subtract", extra={"layer": {"class_name": "Subtract"}, "call": call})
    op.known_shape, op.known_params = (8, 8, 3), (0, 0)
    g.add_edge(inp.id, op.id)
    studio = Studio(Project(graph=g))
    view = CanvasView(studio)
    qtbot.addWidget(view)
    card = view.graph_scene.nodes[op.id]
    assert card._kind_line == ("Subtract (op)", "(1.0, x)")
    assert card._lines[0][0] == "→ 8x8x3" and card._lines[1][0] == "RF 1x1 px"  # element-wise: the field passes through
