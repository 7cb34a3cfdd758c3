"""The inspector: a form generated from the catalog, live undoable edits, refused values, errors."""

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit

from cnnstudio.core.catalog import spec
from cnnstudio.core.commands import SetParams
from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.params import PADDINGS
from cnnstudio.core.project import Project
from cnnstudio.ui.editor.inspector import InspectorView
from cnnstudio.ui.forms import BoolField, ChoiceField, IntField, IntsField, OptionalField, TextField
from cnnstudio.ui.studio import Studio


@pytest.fixture
def inspector(studio, shown):
    return shown(InspectorView(studio), 420, 800)


def node_id(studio, name):
    return studio.graph.by_name(name).id


def settle(qtbot, studio):
    """Let the coalesced re-inference run (it follows every edit on a zero-delay timer)."""
    with qtbot.waitSignal(studio.inference_updated, timeout=2000):
        pass


def test_the_form_is_generated_from_the_catalog_entry(inspector, studio):
    studio.select([node_id(studio, "C1")])
    fields = inspector.fields
    assert set(fields) == set(spec("Conv2D").params.names())
    assert isinstance(fields["filters"], IntField)
    assert (fields["filters"].box.minimum(), fields["filters"].box.maximum()) == (1, 8192)
    assert fields["filters"].box.value() == 6
    assert isinstance(fields["kernel_size"], IntsField) and fields["kernel_size"].value() == (5, 5)
    assert isinstance(fields["padding"], ChoiceField)
    assert [fields["padding"].box.itemText(i) for i in range(fields["padding"].box.count())] == list(PADDINGS)
    assert isinstance(fields["use_bias"], BoolField) and fields["use_bias"].value() is True
    assert fields["filters"].toolTip() == spec("Conv2D").params.get("filters").doc
    # 'groups' is advanced: folded away until the section is opened
    assert not fields["groups"].isVisibleTo(inspector)
    inspector.advanced_toggle.click()
    assert fields["groups"].isVisibleTo(inspector)
    assert inspector.name_edit.text() == "C1"


def test_each_edit_is_one_undoable_command_and_undo_updates_the_form(qtbot, inspector, studio):
    c1 = node_id(studio, "C1")
    studio.select([c1])
    box = inspector.fields["filters"].box
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "12")  # typing two digits must not make two commands
    qtbot.keyClick(box.lineEdit(), Qt.Key_Return)
    assert studio.undo_stack.count() == 1
    assert studio.graph.nodes[c1].params["filters"] == 12
    settle(qtbot, studio)
    assert studio.inference[c1].output_shape == (28, 28, 12)
    assert "28x28x12" in inspector.stats.text()
    studio.undo_stack.undo()
    settle(qtbot, studio)
    assert studio.graph.nodes[c1].params["filters"] == 6
    assert box.value() == 6
    studio.undo_stack.redo()
    settle(qtbot, studio)
    assert box.value() == 12


def test_a_square_kernel_changes_both_axes_in_one_command(qtbot, inspector, studio):
    c1 = node_id(studio, "C1")
    studio.select([c1])
    field = inspector.fields["kernel_size"]
    assert field.link.isChecked()
    field.boxes[0].setValue(3)
    assert studio.graph.nodes[c1].params["kernel_size"] == (3, 3)
    assert studio.undo_stack.count() == 1
    field.link.setChecked(False)
    field.boxes[1].setValue(7)
    assert studio.graph.nodes[c1].params["kernel_size"] == (3, 7)


def test_an_invalid_value_is_refused_with_the_catalogs_message(qtbot, inspector, studio):
    inp = node_id(studio, "input")
    studio.select([inp])
    field = inspector.fields["shape"]
    assert isinstance(field, TextField) and field.edit.text() == "32x32x1"
    field.edit.setText("32x0x1")
    field.edit.editingFinished.emit()
    error = inspector.field_errors["shape"]
    assert error.isVisibleTo(inspector) and "at least 1" in error.text()
    assert studio.graph.nodes[inp].params["shape"] == (32, 32, 1)
    assert studio.undo_stack.count() == 0
    field.edit.setText("28x28x1")  # a good value clears the message
    field.edit.editingFinished.emit()
    assert not error.isVisibleTo(inspector)
    assert studio.graph.nodes[inp].params["shape"] == (28, 28, 1)


def test_rename_is_a_command_and_a_bad_name_is_refused(qtbot, inspector, studio):
    c1 = node_id(studio, "C1")
    studio.select([c1])
    inspector.name_edit.setText("S2")
    inspector.name_edit.editingFinished.emit()
    assert "already exists" in inspector.name_error.text()
    assert studio.graph.nodes[c1].name == "C1"
    inspector.name_edit.setText("conv_first")
    inspector.name_edit.editingFinished.emit()
    assert studio.graph.nodes[c1].name == "conv_first"
    studio.undo_stack.undo()
    settle(qtbot, studio)
    assert inspector.name_edit.text() == "C1"


def plain(rich: str) -> str:
    """Rich text as one line of words: formulas are drawn one equality step per line."""
    text = re.sub(r"<[^>]+>", " ", rich.replace("&nbsp;", " "))
    return " ".join(text.split())


def test_the_formula_shows_this_layers_numbers(inspector, studio):
    studio.select([node_id(studio, "C1")])
    text = plain(inspector.stats.text())
    assert "out = floor((n + 2p - f)/s) + 1 = floor((32 + 2*0 - 5)/1) + 1 = 28" in text
    assert "params = C_in*f*f*C_out + C_out = 1*5*5*6 + 6 = 156" in text
    assert "5x5 px, stride 1, padding 0" in text
    assert "235,200" in text  # FLOPs
    studio.select([node_id(studio, "flatten")])
    assert "undefined: no spatial axes after Flatten" in plain(inspector.stats.text())


def test_a_kernel_too_big_marks_the_layer_and_downstream_and_undo_clears_it(qtbot, inspector, studio):
    c3 = node_id(studio, "C3")
    studio.select([c3])
    inspector.fields["kernel_size"].boxes[0].setValue(15)
    settle(qtbot, studio)
    message = "kernel 15x15 does not fit input 14x14 with padding='valid'"
    assert inspector.error_label.isVisibleTo(inspector) and message in inspector.error_label.text()
    for name in ("S4", "C5", "flatten", "F6", "output"):
        assert studio.inference[node_id(studio, name)].culprit == "C3"
    studio.select([node_id(studio, "S4")])
    text = inspector.error_label.text()
    assert "upstream" in text and "C3" in text and message in text
    inspector.error_label.linkActivated.emit(f"node:{c3}")  # the link takes the user to the culprit
    assert studio.selection == [c3]
    studio.undo_stack.undo()
    settle(qtbot, studio)
    assert not studio.inference.errors
    assert not inspector.error_label.isVisibleTo(inspector)


def test_an_optional_parameter_has_an_auto_box(qtbot, inspector, studio):
    s2 = node_id(studio, "S2")
    studio.select([s2])
    field = inspector.fields["strides"]
    assert isinstance(field, OptionalField) and field.auto.isChecked() and not field.inner.isEnabled()
    field.auto.setChecked(False)
    assert studio.graph.nodes[s2].params["strides"] == field.inner.value()
    field.auto.setChecked(True)
    assert studio.graph.nodes[s2].params["strides"] is None
    assert studio.undo_stack.count() == 2


def test_several_selected_layers_show_totals(inspector, studio):
    studio.select([node_id(studio, "C1"), node_id(studio, "C3")])
    text = inspector.stats.text()
    assert "2 layers selected" in text and "2,572" in text  # 156 + 2,416 parameters
    studio.select([])
    assert "No layer selected" in inspector.stats.text()


def test_a_generic_layer_shows_its_keras_config_read_only(qtbot):
    g = LayerGraph()
    inp = g.add_node("InputLayer", {"shape": (8, 8, 3)})
    odd = g.add_node("MyLayer", {}, extra={"config": {"name": "my_layer", "alpha": 0.5}})
    odd.known_shape = (8, 8, 3)
    g.add_edge(inp.id, odd.id)
    studio = Studio(Project(graph=g))
    view = InspectorView(studio)
    qtbot.addWidget(view)
    studio.select([odd.id])
    config = view.findChild(QPlainTextEdit)
    assert config.isReadOnly() and '"alpha": 0.5' in config.toPlainText()
    assert not view.fields


def test_an_update_from_elsewhere_does_not_clobber_typing(qtbot, inspector, studio):
    c1 = node_id(studio, "C1")
    studio.select([c1])
    inspector.name_edit.setFocus()
    inspector.name_edit.setText("half_typ")
    studio.push(SetParams(studio.graph, node_id(studio, "F6"), {"units": 90}))
    settle(qtbot, studio)
    assert inspector.name_edit.text() == "half_typ"
    assert inspector.fields["filters"] is not None and inspector.node is studio.graph.nodes[c1]
