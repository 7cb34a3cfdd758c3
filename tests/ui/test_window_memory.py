"""The window remembers its geometry, dock layout and last page between sessions, and "Reset layout" forgets them."""

import pytest
from PySide6.QtCore import QSettings, Qt

from cnnstudio.core.templates import lenet5
from cnnstudio.ui.mainwindow import MainWindow
from cnnstudio.ui.studio import Studio


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def open_window(qtbot, settings):
    win = MainWindow(Studio(lenet5()), settings)
    qtbot.addWidget(win)
    win.show()  # dock visibility is what a shown window shows
    qtbot.waitExposed(win)
    return win


def test_geometry_docks_and_page_come_back_after_a_restart(qtbot, settings):
    win = open_window(qtbot, settings)
    win.resize(700, 500)  # within the offscreen screen: a restored geometry is kept on screen
    win.addDockWidget(Qt.RightDockWidgetArea, win.docks["Summary"])  # moved from the bottom
    win.docks["Palette"].hide()
    win.tabs.setCurrentWidget(win.pages["Convolution explorer"])  # docks hide off the editor...
    assert win.close()
    settings.sync()

    again = open_window(qtbot, settings)
    assert again.tabs.tabText(again.tabs.currentIndex()) == "Convolution explorer"
    assert (again.width(), again.height()) == (700, 500)
    again.show_page("Editor")  # ...and come back as they were left
    assert again.dockWidgetArea(again.docks["Summary"]) == Qt.RightDockWidgetArea
    assert again.docks["Palette"].isHidden() and not again.docks["Inspector"].isHidden()
    again.studio.undo_stack.setClean()
    again.close()


def test_reset_layout_puts_the_docks_back_and_forgets_the_saved_layout(qtbot, settings):
    win = open_window(qtbot, settings)
    win.addDockWidget(Qt.LeftDockWidgetArea, win.docks["Inspector"])
    win.docks["Summary"].hide()
    win.resize(900, 600)
    reset = next(a for a in win.view_menu.actions() if a.text() == "Reset &layout")
    reset.trigger()
    assert win.dockWidgetArea(win.docks["Inspector"]) == Qt.RightDockWidgetArea
    assert not win.docks["Summary"].isHidden() and (win.width(), win.height()) == (1500, 920)
    assert settings.value("window/state") is None
    win.close()


def test_settings_another_program_wrote_are_ignored(qtbot, settings):
    settings.setValue("window/geometry", "not bytes")
    settings.setValue("window/state", 5)
    settings.setValue("window/page", "No such page")
    win = open_window(qtbot, settings)
    assert win.tabs.tabText(win.tabs.currentIndex()) == "Editor" and (win.width(), win.height()) == (1500, 920)
    win.close()
