"""Attribution: which pixels the prediction depends on, overlaid on the image, with the top classes.

For a model that is no classifier the target is a class of a segmentation map (over all its
pixels, or at the output pixel clicked on the panel's output view), a channel or unit, or the
output's mean; where a method is not defined for the model, the tab says why in one line.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout

from cnnstudio.ml.probing.mosaic import signed_picture  # NumPy only: no TensorFlow on the GUI thread
from cnnstudio.ml.probing.outputs import Target, target_text
from cnnstudio.ui.shared.pictures import ImageView, TopKChart, heat_rgba

from cnnstudio.ui.probe.requests import AttributionOf
from cnnstudio.ui.probe.tab import ProbeTab, fill_combo

METHODS = [("Grad-CAM", "gradcam"), ("Saliency (gradient)", "saliency"), ("SmoothGrad", "smoothgrad"),
           ("Occlusion", "occlusion"), ("Guided backprop", "guided"), ("Guided Grad-CAM", "guided_gradcam"),
           ("Integrated gradients", "integrated")]
BASELINES = [("black image", "black"), ("grey image", "grey"), ("blurred image", "blur"), ("noise", "noise"),
             ("input 0 (preprocessing's zero)", "zero")]
SIGNED = ("guided", "guided_gradcam")  # drawn as the signed gradient picture, grey = 0
HELP = {
    "gradcam": "the last convolution's maps weighted by how much the score rises with each",
    "saliency": "how much the score changes with each pixel (|gradient|)",
    "smoothgrad": "the gradient averaged over noisy copies of the image: less speckle",
    "occlusion": "how much the score (a class's probability) drops when a patch of the image is covered",
    "guided": "the gradient passed back only through ReLUs that fired and only where it is positive: "
              "the image's edges and textures that raise the score (right: the signed gradient, grey is 0)",
    "guided_gradcam": "guided backprop kept where Grad-CAM finds the class: fine detail, only on the object",
    "integrated": "the gradient averaged on the way from the baseline to the image, times their difference",
}
PREDICTED = -1  # class chooser entry: the output's default target (the predicted class...)
DEFAULT_TEXT = {"classes": "predicted class", "map": "most common class", "image": "mean of the output",
                "values": "mean of the output"}
DEFAULT_STEPS = 48  # integrated gradients (attribution.DEFAULT_STEPS: that module imports TensorFlow)
MAX_UNITS = 64  # values with more units are explained by their mean only


class AttributionTab(ProbeTab):
    """Saliency, SmoothGrad, Grad-CAM, occlusion, guided backprop, guided Grad-CAM or integrated gradients
    for the predicted or a chosen class (or pixel, or mean)."""

    title = "Attribution"

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.method = QComboBox(self)
        fill_combo(self.method, METHODS)
        self.target = QComboBox(self)
        self.target.setToolTip("The class (channel, unit) to explain")
        self.at_pixel = QCheckBox("at output pixel", self)
        self.at_pixel.setToolTip("Explain the output at the pixel clicked on the Output picture, not all its pixels")
        self.pixel: tuple[int, int] | None = None
        self.cam_layer = QComboBox(self)
        self.cam_layer.setToolTip("The layer Grad-CAM weighs (the last convolution by default)")
        self.baseline = QComboBox(self)
        fill_combo(self.baseline, BASELINES)
        self.baseline.setToolTip("Where integrated gradients start from: the image the score is compared with")
        self.steps = QSpinBox(self, minimum=4, maximum=512, value=DEFAULT_STEPS, singleStep=16)
        self.steps.setToolTip("Steps along the path from the baseline (more: the attributions add up more exactly)")
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
        top.addWidget(QLabel("Explain"))
        top.addWidget(self.target, 1)
        top.addWidget(self.at_pixel)
        self.cam_label = QLabel("Grad-CAM layer")
        top.addWidget(self.cam_label)
        top.addWidget(self.cam_layer, 1)
        self.ig_options = [QLabel("Baseline"), self.baseline, QLabel("Steps"), self.steps]
        for w in self.ig_options:
            top.addWidget(w)
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
        self.at_pixel.toggled.connect(lambda _on: self.invalidate())
        self.cam_layer.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.baseline.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.steps.editingFinished.connect(self.invalidate)
        self.opacity.valueChanged.connect(lambda _v: self._draw_overlay())
        self._on_method_changed(0)

    def set_model(self, info) -> None:
        """Offer the output's classes (channels, units) and the model's 2-D layers for Grad-CAM."""
        out = info.output
        if out.kind in ("classes", "map"):
            choices = [(f"{i}: {c}", i) for i, c in enumerate(info.classes)]
        else:
            count = out.channels if out.kind == "image" else int(np.prod(out.shape))
            word = "channel" if out.kind == "image" else "unit"
            choices = [(f"{word} {i}", i) for i in range(count)] if 1 < count <= MAX_UNITS else []
        fill_combo(self.target, [(DEFAULT_TEXT[out.kind], PREDICTED)] + choices, PREDICTED)
        self.pixel = None
        self.at_pixel.setChecked(False)
        self.at_pixel.setEnabled(False)
        self.at_pixel.setVisible(out.kind in ("map", "image"))
        self.at_pixel.setText("at output pixel")
        self.top.setVisible(out.kind == "classes")
        maps = [n for n in info.layers if len(info.layer_shapes[n]) == 3]
        fill_combo(self.cam_layer, [(n, n) for n in maps], info.cam_layer)
        super().set_model(info)

    def image_changed(self, probe) -> None:
        """A new image: show its top classes and recompute the heatmap."""
        self.top.set_top(probe.predictions[:5])
        if probe.predictions:
            self.target.setItemText(0, f"predicted class ({probe.predictions[0].label})")
        self.invalidate()

    def choose_pixel(self, row: int, col: int) -> None:
        """Explain the output at pixel (row, col) (clicked on the panel's output picture)."""
        self.pixel = (row, col)
        self.at_pixel.setText(f"at output pixel ({row}, {col})")
        self.at_pixel.setEnabled(True)
        if self.at_pixel.isChecked():
            self.invalidate()
        else:
            self.at_pixel.setChecked(True)  # recomputes through toggled

    def current_target(self):
        """What the chosen entries ask to explain, as a :class:`cnnstudio.ml.probing.outputs.Target`."""
        index = self.target.currentData()
        pixel = self.pixel if self.at_pixel.isChecked() and self.at_pixel.isVisible() else None
        return Target(None if index in (None, PREDICTED) else int(index), pixel)

    def _on_method_changed(self, _index: int) -> None:
        method = self.method.currentData()
        gradcam = method in ("gradcam", "guided_gradcam")
        self.cam_label.setVisible(gradcam)
        self.cam_layer.setVisible(gradcam)
        for w in self.ig_options:
            w.setVisible(method == "integrated")
        self.invalidate()

    def refresh(self) -> None:
        """Compute the chosen attribution for the current image."""
        if not self.ready():
            return
        self.overlay_view.set_image(self.panel.image.picture)
        self.submit(f"Computing {self.method.currentText()}…",
                    AttributionOf(self.method.currentData(), self.current_target(), self.cam_layer.currentData(),
                                  self.baseline.currentData(), self.steps.value()),
                    on_done=self._on_attribution_ready)

    def _on_attribution_ready(self, result) -> None:
        if isinstance(result, str):  # not defined for this model: say why, draw nothing stale
            title = self.method.currentText()
            self.result = None
            self.overlay_view.set_overlay(None)
            self.heat_view.image.clear()
            self.heat_view.set_title(title)
            self.overlay_view.set_title(f"{title}: not defined")
            self.info.setText(f"{title} is not defined here: {result}.")
            return
        title = dict((v, t) for t, v in METHODS)[result.method]
        self.result = result
        if result.method in SIGNED:
            self.heat_view.set_image(signed_picture(result.raw))
        else:
            self.heat_view.set_image((np.clip(result.heat, 0, 1) * 255).astype(np.uint8))
        self._draw_overlay()
        what = target_text(self.panel.info.output, result.target, self.panel.info.classes)
        prob = next((f" ({p.probability:.1%})" for p in self.panel.image.predictions
                     if p.index == result.class_index), "")
        where = f" on {result.layer}" if result.layer else ""
        self.overlay_view.set_title(f"{title}{where} for {what}{prob}")
        self.heat_view.set_title(f"{title}: signed gradient, grey = 0" if result.method in SIGNED else title)
        if result.heat.max() <= 0:
            self.info.setText(f"{title}: no evidence for {what} anywhere in this image (the map is all zero).")
        else:
            note = f" {result.note[0].upper()}{result.note[1:]}." if result.note else ""
            self.info.setText(f"{title}: {HELP[result.method]}.{note}")

    def _draw_overlay(self) -> None:
        if self.result is None:
            return
        self.overlay_view.set_overlay(heat_rgba(self.result.heat, self.opacity.value() / 100.0))
