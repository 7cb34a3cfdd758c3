"""The shared form engine: one editor per Param, shown silently, user edits reported once and coerced."""

import pytest

from cnnstudio.core.params import Param
from cnnstudio.core.settings import DATA, TRAINING
from cnnstudio.ml.data.generated_shapes import OPTIONS
from cnnstudio.ui.forms import (ChoiceField, FieldSet, IntsField, NamesField, PercentField, SliderField, TextField,
                                make_field)


@pytest.fixture
def owned(qtbot):
    """``owned(widget)``: the widget, closed by qtbot after the test."""
    def _own(widget):
        qtbot.addWidget(widget)
        return widget
    return _own


def test_the_editor_follows_the_params_description(owned):
    optimizer = owned(make_field(TRAINING.get("optimizer")))
    assert isinstance(optimizer, ChoiceField) and optimizer.toolTip() == TRAINING.get("optimizer").doc
    assert [optimizer.box.itemText(i) for i in range(optimizer.box.count())] == list(TRAINING.get("optimizer").titles)
    assert isinstance(owned(make_field(TRAINING.get("metrics"))), NamesField)
    assert isinstance(owned(make_field(DATA.get("path"))), TextField)
    size = owned(make_field(Param("size", "ints", (32, 32), min=1, max=64, length=2), suffix=" px", link=False))
    assert isinstance(size, IntsField) and not size.link.isVisibleTo(size)
    assert size.boxes[0].maximum() == 64 and size.boxes[0].suffix() == " px"
    early = owned(make_field(TRAINING.get("early_stopping"), special="off"))
    assert early.box.text() == "off"  # the minimum, 0, reads as the special value


def test_text_is_parsed_by_the_param_not_the_field(owned):
    param = Param("factor", "floats", 0.1, min=-1, max=1)
    field = owned(make_field(param))
    field.edit.setText(" -0.2, 0.3 ")
    assert param.coerce(field.value()) == (-0.2, 0.3)


def test_percent_and_slider_fields_show_fractions(owned):
    split = owned(make_field(DATA.get("validation_split"), kind=PercentField))
    split.set_value(0.15)
    assert split.box.text() == "15 %" and split.box.maximum() == 90 and split.value() == 0.15
    noise = owned(make_field(OPTIONS.get("noise"), kind=SliderField))
    noise.set_value(0.3)
    assert noise.label.text() == "0.30" and noise.value() == 0.3  # the value beside it follows a silent set


def test_a_field_set_reports_user_edits_by_section_coerced_and_never_a_load(qtbot, owned):
    fields = FieldSet()
    metrics = owned(fields.field("training", TRAINING.get("metrics")))
    epochs = owned(fields.field("training", TRAINING.get("epochs")))
    classes = owned(fields.field("shapes", OPTIONS.get("classes"), columns=3))
    edited = []
    fields.edited.connect(lambda: edited.append(1))
    fields.load("training", {"metrics": ("accuracy",), "epochs": 10})
    fields.load("shapes", {"classes": ["circle", "square"]})
    assert not edited and epochs.value() == 10 and classes.value() == ("circle", "square")
    metrics.checks["top5_accuracy"].setChecked(True)
    epochs.box.setValue(12)
    classes.checks["star"].setChecked(True)
    assert len(edited) == 3
    assert fields.take_edits() == {"training": {"metrics": ("accuracy", "top5_accuracy"), "epochs": 12},
                                   "shapes": {"classes": ("circle", "square", "star")}}
    assert fields.take_edits() == {}
