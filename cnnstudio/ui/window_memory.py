"""What the main window remembers between sessions (``QSettings``): its geometry, where the
docks are, and the page it showed last; and the "Reset layout" that forgets them.

The docks belong to the editor and hide on the other pages (see ``MainWindow``), so the dock
layout is always taken and put back on the editor page; the last page is shown after it.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QTabWidget

GEOMETRY, STATE, PAGE = "window/geometry", "window/state", "window/page"
EDITOR = "Editor"


class WindowMemory:
    """Saves and restores ``window``'s layout in ``settings``; :meth:`reset` goes back to how it was built."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget, settings: QSettings) -> None:
        self.window, self.tabs, self.settings = window, tabs, settings
        #: the layout as built, before any restore: what "Reset layout" returns to
        self._built_state = window.saveState()
        self._built_size = window.size()

    def _page_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def _show_page(self, title: str) -> None:
        if title in self._page_titles():
            self.tabs.setCurrentIndex(self._page_titles().index(title))

    def restore(self) -> bool:
        """Put back the saved geometry, docks and page; False when nothing was saved (or it is unusable)."""
        geometry, state = self.settings.value(GEOMETRY), self.settings.value(STATE)
        if not isinstance(geometry, QByteArray) or not isinstance(state, QByteArray):
            return False  # a first start, or settings another program wrote: keep the built layout
        self._show_page(EDITOR)
        restored = self.window.restoreState(state)
        self._show_page(str(self.settings.value(PAGE, EDITOR)))
        # last: with the docks of the editor shown, the window could not be smaller than they need
        return self.window.restoreGeometry(geometry) and restored

    def save(self) -> None:
        """Remember the geometry, the docks (as on the editor page) and the page shown now."""
        page = self.tabs.tabText(self.tabs.currentIndex())
        self.settings.setValue(GEOMETRY, self.window.saveGeometry())  # first: showing the docks may grow it
        self._show_page(EDITOR)  # the docks as the user left them, not hidden for another page
        self.settings.setValue(STATE, self.window.saveState())
        self.settings.setValue(PAGE, page)
        self._show_page(page)

    def reset(self) -> None:
        """The layout as built: default size, every dock where it started, the editor page; forgets the saved one."""
        self._show_page(EDITOR)
        self.window.restoreState(self._built_state)
        self.window.resize(self._built_size)
        for key in (GEOMETRY, STATE, PAGE):
            self.settings.remove(key)
