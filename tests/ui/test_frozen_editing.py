"""Freezing layers in the editor: the inspector's toggle, Ctrl+F on a selection, the card, live totals, undo."""

import os

import pytest
from PySide6.QtCore import Qt

from cnnstudio.ui.editor.canvas import CanvasView
from cnnstudio.ui.editor.inspector import InspectorView
from cnnstudio.ui.editor.nodes import FROZEN_MARK
from cnnstudio.ui.editor.summary import SummaryView

SHOTS = os.environ.get("CNNSTUDIO_SHOTS")  # a folder: the views are saved there to be looked at


def settle(qtbot, studio):
    with qtbot.waitSignal(studio.inference_updated, timeout=2000):
        pass


@pytest.fixture
def views(qtbot, studio, shown):
    """The canvas shown (it takes the keys), the inspector and summary beside it, unshown."""
    canvas = shown(CanvasView(studio), 900, 700)
    qtbot.waitExposed(canvas)
    inspector, summary = InspectorView(studio), SummaryView(studio)
    for view, size in ((inspector, (420, 700)), (summary, (1100, 380))):
        qtbot.addWidget(view)
        view.resize(*size)
    return canvas, inspector, summary


def test_the_inspector_toggle_freezes_one_layer_and_the_totals_follow_at_once(qtbot, studio, views):
    canvas, inspector, summary = views
    c5 = studio.graph.by_name("C5")
    studio.select([c5.id])
    assert not inspector.frozen_box.isChecked()
    inspector.frozen_box.click()
    settle(qtbot, studio)
    assert c5.frozen
    assert "Non-trainable: 48,120" in summary.totals.text()
    assert "0 trainable, 48,120 non-trainable" in inspector.stats.text()
    item = canvas.graph_scene.nodes[c5.id]
    assert item.frozen and "48,120 frozen" in item.text_lines[1][1] and FROZEN_MARK in item.toolTip()
    studio.undo_stack.undo()
    settle(qtbot, studio)
    assert not c5.frozen and not inspector.frozen_box.isChecked()
    assert "Non-trainable: 0" in summary.totals.text()


def test_ctrl_f_freezes_a_selection_in_one_undo_step_and_again_unfreezes_it(qtbot, studio, views):
    canvas, _inspector, summary = views
    ids = [studio.graph.by_name(n).id for n in ("input", "C1", "S2", "C3")]
    studio.select(ids)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_F, Qt.ControlModifier)
    assert [n.name for n in studio.graph.nodes.values() if n.frozen] == ["C1", "S2", "C3"]
    qtbot.waitUntil(lambda: "Non-trainable: 2,572" in summary.totals.text(), timeout=2000)
    if SHOTS:
        studio.select([])
        canvas.show_graph()
        canvas.grab().save(os.path.join(SHOTS, "frozen-cards.png"))
        summary.grab().save(os.path.join(SHOTS, "frozen-summary.png"))
        studio.select(ids)
    assert studio.undo_stack.undoText() == "freeze 3 layers"
    qtbot.keyClick(canvas, Qt.Key_F, Qt.ControlModifier)  # all frozen: the same keys unfreeze them
    assert not any(n.frozen for n in studio.graph.nodes.values())
    studio.undo_stack.undo()
    studio.undo_stack.undo()
    assert not any(n.frozen for n in studio.graph.nodes.values())
    at_c1 = canvas.mapFromScene(canvas.graph_scene.nodes[ids[1]].scenePos())
    assert canvas.freeze_action in canvas.context_menu(at_c1).actions()
