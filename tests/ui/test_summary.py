"""The summary table: model.summary() figures, totals, errors in red, row clicks select."""

import time

import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.commands import SetParams
from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.project import Project
from cnnstudio.ui.editor.inspector import InspectorView
from cnnstudio.ui.editor.summary import COLUMNS, SummaryView
from cnnstudio.ui.studio import Studio


@pytest.fixture
def summary(studio, shown):
    return shown(SummaryView(studio), 1100, 400)


def cell(view, row, column):
    return view.model.data(view.model.index(row, COLUMNS.index(column)))


def test_rows_and_totals_match_the_inference(summary, studio):
    model = summary.model
    assert model.rowCount() == len(studio.graph.nodes)
    assert [cell(summary, r, "Layer") for r in range(model.rowCount())][:3] == ["input", "C1", "S2"]
    c1 = model.ids.index(studio.graph.by_name("C1").id)
    assert cell(summary, c1, "Class") == "Conv2D"
    assert cell(summary, c1, "Output shape") == "(None, 28, 28, 6)"
    assert cell(summary, c1, "Params") == "156"
    assert cell(summary, c1, "Receptive field") == "5x5 px, stride 1, padding 0"
    total = sum(int(cell(summary, r, "Params").replace(",", "")) for r in range(model.rowCount()))
    assert total == studio.inference.total_params == 61_706
    assert "Total params: <b>61,706</b>" in summary.totals.text()
    assert "Non-trainable: 0" in summary.totals.text()


def test_clicking_a_row_selects_the_layer_and_the_inspector_follows(qtbot, summary, studio):
    inspector = InspectorView(studio)
    qtbot.addWidget(inspector)
    c3 = studio.graph.by_name("C3").id
    row = summary.model.ids.index(c3)
    rect = summary.table.visualRect(summary.model.index(row, 0))
    qtbot.mouseClick(summary.table.viewport(), Qt.LeftButton, pos=rect.center())
    assert studio.selection == [c3]
    assert inspector.name_edit.text() == "C3"
    studio.select([studio.graph.by_name("F6").id])  # selection made elsewhere shows in the table
    rows = [i.row() for i in summary.table.selectionModel().selectedRows()]
    assert rows == [summary.model.ids.index(studio.graph.by_name("F6").id)]


def test_error_rows_are_red_with_the_message_and_undo_clears_them(qtbot, summary, studio):
    c3 = studio.graph.by_name("C3").id
    studio.push(SetParams(studio.graph, c3, {"kernel_size": (15, 15)}))
    with qtbot.waitSignal(studio.inference_updated, timeout=2000):
        pass
    model = summary.model
    row = model.ids.index(c3)
    assert "does not fit input 14x14" in model.data(model.index(row, 0), Qt.ToolTipRole)
    assert model.data(model.index(row, 0), Qt.ForegroundRole) is not None
    downstream = model.ids.index(studio.graph.by_name("output").id)
    assert "C3" in model.data(model.index(downstream, 2))
    assert "1 error" in summary.totals.text()
    studio.undo_stack.undo()
    studio.reinfer()
    assert model.data(model.index(row, 0), Qt.ForegroundRole) is None
    assert "error" not in summary.totals.text()


def test_a_175_layer_graph_refreshes_fast(qtbot):
    g = LayerGraph()
    last = g.add_node("InputLayer", {"shape": (64, 64, 3)}).id
    for i in range(58):
        for kind, params in (("Conv2D", {"filters": 16, "padding": "same"}), ("BatchNormalization", {}), ("ReLU", {})):
            node = g.add_node(kind, params)
            g.add_edge(last, node.id)
            last = node.id
    studio = Studio(Project(graph=g))
    view = SummaryView(studio)
    qtbot.addWidget(view)
    assert view.model.rowCount() == 175
    start = time.perf_counter()
    for _ in range(10):
        studio.reinfer()  # inference plus the table refresh it triggers
    per_edit = (time.perf_counter() - start) / 10
    assert per_edit < 0.1, f"{per_edit * 1000:.1f} ms per refresh"
