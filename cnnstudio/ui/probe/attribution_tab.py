"""Attribution: which pixels the prediction depends on, overlaid on the image, with the top classes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout

from cnnstudio.ui.live.views import ImageView, TopKChart, heat_rgba

from .requests import AttributionOf
from .tab import ProbeTab, fill_combo

METHODS = [("Grad-CAM", "gradcam"), ("Saliency (gradient)", "saliency"), ("SmoothGrad", "smoothgrad"),
           ("Occlusion", "occlusion")]
HELP = {
    "gradcam": "the last convolution's maps weighted by how much the class score rises with each",
    "saliency": "how much the class score changes with each pixel (|gradient|)",
    "smoothgrad": "the gradient averaged over noisy copies of the image: less speckle",
    "occlusion": "how much the class's probability drops when a patch of the image is covered",
}
PREDICTED = -1  # class chooser entry: explain the predicted class


class AttributionTab(ProbeTab):
    """Saliency, SmoothGrad, Grad-CAM or occlusion for the predicted or a chosen class."""

    title = "Attribution"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.method = QComboBox(self)
        fill_combo(self.method, METHODS)
        self.target = QComboBox(self)
        self.target.setToolTip("The class to explain")
        self.cam_layer = QComboBox(self)
        self.cam_layer.setToolTip("The layer Grad-CAM weighs (the last convolution by default)")
        self.opacity = QSlider(Qt.Horizontal, self, minimum=0, maximum=100, value=60)
        self.opacity.setToolTip("Opacity of the heatmap over the image")
        self.overlay_view = ImageView("Image and heatmap")
        self.heat_view = ImageView("Heatmap", colormap="turbo")
        self.top = TopKChart(5)
        self.top.setXRange(0, 1.3, padding=0)  # room for "99.9%" beside a full bar
        self.info = QLabel("", self)
        self.result = None

        top = QHBoxLayout()
        top.addWidget(QLabel("Method"))
        top.addWidget(self.method, 1)
        top.addWidget(QLabel("Class"))
        top.addWidget(self.target, 1)
        self.cam_label = QLabel("Grad-CAM layer")
        top.addWidget(self.cam_label)
        top.addWidget(self.cam_layer, 1)
        top.addWidget(QLabel("Opacity"))
        top.addWidget(self.opacity, 1)
        views = QHBoxLayout()
        views.addWidget(self.overlay_view, 3)
        views.addWidget(self.heat_view, 2)
        views.addWidget(self.top, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(views, 1)
        lay.addWidget(self.info)
        self.method.currentIndexChanged.connect(self._on_method_changed)
        self.target.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.cam_layer.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.opacity.valueChanged.connect(lambda _v: self._draw_overlay())
        self._on_method_changed(0)

    def set_model(self, info) -> None:
        """Offer the model's classes and its 2-D layers for Grad-CAM."""
        fill_combo(self.target, [("predicted class", PREDICTED)] + [(f"{i}: {c}", i) for i, c in enumerate(info.classes)],
                   PREDICTED)
        maps = [n for n in info.layers if len(info.layer_shapes[n]) == 3]
        fill_combo(self.cam_layer, [(n, n) for n in maps], info.cam_layer)
        super().set_model(info)

    def image_changed(self, probe) -> None:
        """A new image: show its top classes and recompute the heatmap."""
        self.top.set_top(probe.predictions[:5])
        self.target.setItemText(0, f"predicted class ({probe.predictions[0].label})")
        self.invalidate()

    def _on_method_changed(self, _index: int) -> None:
        gradcam = self.method.currentData() == "gradcam"
        self.cam_label.setVisible(gradcam)
        self.cam_layer.setVisible(gradcam)
        self.invalidate()

    def refresh(self) -> None:
        """Compute the chosen attribution for the current image."""
        if not self.ready():
            return
        self.overlay_view.set_image(self.panel.image.picture)
        method, target = self.method.currentData(), self.target.currentData()
        target = None if target in (None, PREDICTED) else target
        self.submit(f"Computing {self.method.currentText()}…", AttributionOf(method, target, self.cam_layer.currentData()),
                    on_done=self._on_attribution_ready)

    def _on_attribution_ready(self, result) -> None:
        self.result = result
        self.heat_view.set_image((np.clip(result.heat, 0, 1) * 255).astype(np.uint8))
        self._draw_overlay()
        names = self.panel.info.classes
        label = names[result.class_index] if result.class_index < len(names) else str(result.class_index)
        prob = next((p.probability for p in self.panel.image.predictions if p.index == result.class_index), 0.0)
        where = f" on {result.layer}" if result.layer else ""
        title = dict((v, t) for t, v in METHODS)[result.method]
        self.overlay_view.set_title(f"{title}{where} for '{label}' ({prob:.1%})")
        self.heat_view.set_title(title)
        if result.heat.max() <= 0:
            self.info.setText(f"{title}: no evidence for '{label}' anywhere in this image (the map is all zero).")
        else:
            self.info.setText(f"{title}: {HELP[result.method]}.")

    def _draw_overlay(self) -> None:
        if self.result is None:
            return
        self.overlay_view.set_overlay(heat_rgba(self.result.heat, self.opacity.value() / 100.0))
