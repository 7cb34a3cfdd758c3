"""Fixtures shared by the editor's GUI tests."""

import pytest

from cnnstudio.core.templates import lenet5
from cnnstudio.ui.studio import Studio


@pytest.fixture
def studio():
    """A studio on LeNet-5 as the lecture draws it."""
    return Studio(lenet5())


@pytest.fixture
def shown(qtbot):
    """``shown(widget, width, height)``: the widget, owned by qtbot, resized and shown."""
    def _show(widget, width, height):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        return widget
    return _show
