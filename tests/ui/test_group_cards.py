"""Nested models on the canvas: a collapsed group is one card, expanded its layers in a frame."""

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnnstudio.core.commands import SetParams
from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.groups import Group, members, open_frames
from cnnstudio.core.layout import apply_layout
from cnnstudio.core.project import Project
from cnnstudio.ui.editor.canvas import CanvasView
from cnnstudio.ui.editor.groups import GroupItem
from cnnstudio.ui.studio import Studio


def backbone_project(blocks: int = 2) -> Project:
    """image -> [backbone: stem, then ``blocks`` residual blocks, one of them a group of its own] -> gap -> dense."""
    g = LayerGraph()
    g.add_group(Group("backbone", collapsed=False))
    g.add_group(Group("block0", parent="backbone", collapsed=False))

    def add(kind, params, name, group, *srcs):
        node = g.add_node(kind, params, name=name)
        g.set_group(node.id, group)
        for s in srcs:
            g.add_edge(s.id, node.id)
        return node
    x = g.add_node("InputLayer", {"shape": (32, 32, 3)}, name="image")
    x = add("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same"}, "stem", "backbone", x)
    for b in range(blocks):
        group = "block0" if b == 0 else "backbone"
        y = add("Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same"}, f"b{b}_conv", group, x)
        y = add("BatchNormalization", {}, f"b{b}_bn", group, y)
        x = add("Add", {}, f"b{b}_add", group, x, y)
    x = add("GlobalAveragePooling2D", {}, "gap", None, x)
    add("Dense", {"units": 3}, "dense", None, x)
    apply_layout(g)
    open_frames(g)
    return Project(graph=g, name="transfer")


@pytest.fixture
def canvas(qtbot, shown):
    studio = Studio(backbone_project())
    view = shown(CanvasView(studio), 1000, 800)
    qtbot.waitExposed(view)
    view.reset_zoom()
    return view


def scene_of(canvas):
    return canvas.graph_scene


def node_item(canvas, name):
    return canvas.graph_scene.nodes[canvas.studio.graph.by_name(name).id]


def double_click(canvas, item_or_point):
    point = item_or_point if isinstance(item_or_point, QPointF) else item_or_point.sceneBoundingRect().center()
    canvas.centerOn(point)
    QTest.mouseDClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, canvas.mapFromScene(point))


def shown_edges(canvas):
    return {(e.src_item.node.name, e.dst_item.node.name) for e in canvas.graph_scene.edges.values()}


def test_a_collapsed_group_is_one_card_with_the_edges_on_it(canvas):
    scene, studio = scene_of(canvas), canvas.studio
    scene.toggle_group("backbone")
    card = scene.cards["backbone"]
    assert card.isVisible() and not scene.frames["backbone"].isVisible()
    assert not any(node_item(canvas, n).isVisible() for n in ("stem", "b0_conv", "b1_add"))
    assert shown_edges(canvas) == {("image", "backbone"), ("backbone", "gap"), ("gap", "dense")}
    studio.reinfer()
    inference = studio.inference
    total = sum(inference[i].params for i in members(studio.graph, "backbone"))
    kind, describe = card.text_lines[0]
    assert (kind, describe) == ("Nested model", "7 layers")
    assert card.text_lines[1] == ("→ 32x32x8", f"{total:,} params" if total < 1000 else f"{total / 1000:.1f} K params")
    assert card.text_lines[2][0] == "RF 7x7 px"  # three 3x3 convolutions in a row
    assert scene.edges[next(e for e in studio.graph.edges if e.dst == studio.graph.by_name("gap").id)].label == "32x32x8"
    assert scene.shown_rect().height() < 5 * 110  # the picture shrank to four rows


def test_double_click_expands_in_place_and_undo_collapses_again(canvas):
    scene, studio = scene_of(canvas), canvas.studio
    scene.toggle_group("backbone")
    gap_y = node_item(canvas, "gap").pos().y()
    double_click(canvas, scene.cards["backbone"])
    assert not studio.graph.groups["backbone"].collapsed
    frame = scene.frames["backbone"]
    assert frame.isVisible() and not scene.cards["backbone"].isVisible()
    assert all(node_item(canvas, n).isVisible() for n in ("stem", "b0_conv", "b1_add"))
    assert ("stem", "b0_conv") in shown_edges(canvas) and ("b1_add", "gap") in shown_edges(canvas)
    assert node_item(canvas, "gap").pos().y() > gap_y  # pushed down to make room
    for name in ("stem", "b0_conv", "b1_add"):
        assert frame.sceneBoundingRect().contains(node_item(canvas, name).sceneBoundingRect())
    assert "backbone  ·  7 layers  ·  → 32x32x8" in frame.header_text
    studio.undo_stack.undo()
    assert studio.graph.groups["backbone"].collapsed and scene.cards["backbone"].isVisible()
    assert node_item(canvas, "gap").pos().y() == gap_y


def test_the_header_button_collapses_and_the_state_is_saved(canvas, tmp_path):
    scene, studio = scene_of(canvas), canvas.studio
    frame = scene.frames["backbone"]
    canvas.centerOn(frame.toggle_rect().center())
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, canvas.mapFromScene(frame.toggle_rect().center()))
    assert studio.graph.groups["backbone"].collapsed
    doc = studio.project.to_dict()
    again = Studio(Project.from_dict(doc))
    view = CanvasView(again)
    assert view.graph_scene.cards["backbone"].isVisible()
    assert not view.graph_scene.nodes[again.graph.by_name("stem").id].isVisible()
    view.deleteLater()


def test_ctrl_g_collapses_the_group_of_the_selected_layer_inner_first(canvas):
    scene, studio = scene_of(canvas), canvas.studio
    studio.select([studio.graph.by_name("b0_bn").id])
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key_G, Qt.ControlModifier)
    assert studio.graph.groups["block0"].collapsed and not studio.graph.groups["backbone"].collapsed
    inner = scene.cards["block0"]
    assert inner.isVisible() and scene.frames["backbone"].isVisible()  # a card inside the open frame
    assert scene.frames["backbone"].sceneBoundingRect().contains(inner.sceneBoundingRect())
    assert ("stem", "block0") in shown_edges(canvas) and ("block0", "b1_conv") in shown_edges(canvas)
    scene.clearSelection()
    inner.setSelected(True)
    QTest.keyClick(canvas, Qt.Key_G, Qt.ControlModifier)  # the selected card expands again
    assert not studio.graph.groups["block0"].collapsed


def test_editing_a_layer_inside_an_expanded_group_updates_the_totals(canvas):
    scene, studio = scene_of(canvas), canvas.studio
    studio.reinfer()
    before = scene.frames["backbone"].header_text
    studio.push(SetParams(studio.graph, studio.graph.by_name("b1_conv").id, {"kernel_size": 5}))
    studio.reinfer()
    assert node_item(canvas, "b1_conv").text_lines[0][1].startswith("8, 5x5")
    assert scene.frames["backbone"].header_text != before
    assert "RF 9x9 px" in scene.frames["backbone"].header_text  # 3x3, 3x3, then 5x5


def test_a_card_drags_its_layers_along_and_delete_removes_them_all(canvas, qtbot):
    scene, studio = scene_of(canvas), canvas.studio
    scene.toggle_group("backbone")
    card = scene.cards["backbone"]
    stem = studio.graph.by_name("stem")
    x0 = stem.pos[0]
    card.setPos(card.pos() + QPointF(200, 0))  # what a drag does to the item, then the release commits
    scene._commit_moves()
    assert stem.pos[0] == x0 + 200 and studio.graph.by_name("b1_add").pos[0] > 100
    scene.clearSelection()
    card.setSelected(True)
    assert len(scene.selected_node_ids()) == 7
    scene.delete_selected()
    assert "backbone" not in {n.group for n in studio.graph.nodes.values()}
    assert not card.isVisible() or not members(studio.graph, "backbone")
    studio.undo_stack.undo()
    qtbot.waitUntil(lambda: scene.cards["backbone"].isVisible())
    assert len(members(studio.graph, "backbone")) == 7


def test_a_backbone_of_a_hundred_and_fifty_layers_expands_and_collapses(qtbot, shown):
    studio = Studio(backbone_project(blocks=50))
    view = shown(CanvasView(studio), 1000, 800)
    scene = view.graph_scene
    scene.toggle_group("backbone")
    assert scene.cards["backbone"].isVisible() and len(scene.edges) == 3
    scene.toggle_group("backbone")
    assert len(members(studio.graph, "backbone")) == 151
    assert all(it.isVisible() for it in scene.nodes.values()) and len(scene.edges) == len(studio.graph.edges)
    assert scene.last_toggle_ms > 0 and not scene.cards["block0"].isVisible()
    studio.select([studio.graph.by_name("b0_bn").id])
    scene.toggle_selected_group()  # the inner group of the selected layer
    assert isinstance(scene.shown_item(studio.graph.by_name("b0_bn").id), GroupItem)


def test_a_frozen_backbone_s_card_says_so_and_unfreezing_one_layer_clears_it(canvas):
    from cnnstudio.core.commands import SetFrozen

    studio, scene = canvas.studio, scene_of(canvas)
    scene.toggle_group("backbone")
    card = scene.cards["backbone"]
    assert not card.frozen
    inside = members(studio.graph, "backbone")
    studio.push(SetFrozen(studio.graph, inside, True))  # what Ctrl+F does on the card's layers
    studio.reinfer()
    assert card.frozen and card._lines[0][1].endswith(" frozen")
    studio.push(SetFrozen(studio.graph, inside[:1], False))  # fine-tuning thaws the first layer
    studio.reinfer()
    assert not card.frozen and card._lines[0][1].endswith(" params")
    studio.undo_stack.undo()
    studio.reinfer()
    assert card.frozen
