"""The base of the probe panel's views: redraw only when shown and out of date, export as PNG."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QWidget

from cnnstudio.ui.probe.views import save_png


class ProbeTab(QWidget):
    """One view of the probe panel (Filters, Feature maps, Receptive field, Attribution).

    A tab asks the panel's worker for its picture in :meth:`refresh`, which runs when the
    tab is shown while out of date (:meth:`invalidate`), so hidden tabs cost nothing.
    """

    title = ""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.stale = True

    def set_model(self, info) -> None:
        """Fill the choosers for a newly loaded model (a :class:`~cnnstudio.ml.probing.session.ModelInfo`)."""
        self.invalidate()

    def invalidate(self) -> None:
        """The picture is out of date: redraw now if visible, else when next shown."""
        self.stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self.stale:
            self.refresh()

    def ready(self, needs_image: bool = True) -> bool:
        """The panel has a model (and an image, if ``needs_image``) to probe."""
        return self.panel.info is not None and (self.panel.image is not None or not needs_image)

    def refresh(self) -> None:
        """Ask the worker for this view's picture (subclasses)."""
        raise NotImplementedError

    def submit(self, text: str, request, on_done, key: str = "") -> None:
        """Send ``request`` (a :class:`.requests.ProbeRequest`) to the panel's worker under this tab's name (and ``key``)."""
        self.stale = False
        self.panel.jobs.submit(f"{type(self).__name__}:{key}", text, request, on_done=on_done)

    def export_png(self, path: str | Path) -> bool:
        """Save this view's picture as PNG."""
        return save_png(self, path)


def fill_combo(combo: QComboBox, items: list[tuple[str, object]], keep: object = None) -> None:
    """Replace a chooser's items ``(text, data)``, keeping ``keep`` (or the current data) selected if present."""
    keep = combo.currentData() if keep is None else keep
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    i = combo.findData(keep) if keep is not None else -1
    combo.setCurrentIndex(i if i >= 0 else (0 if items else -1))
    combo.blockSignals(False)
