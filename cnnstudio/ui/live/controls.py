"""The Live page's control boxes: where frames come from, and which model and layer look at them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout)

from cnnstudio.ml.live.frame_sources import FRAME_RATES, RESOLUTIONS, CameraInfo, FrameSource, list_cameras

from cnnstudio.ui.shared.model_choice import TRAINED_LABEL
from cnnstudio.ui.live.requests import CAM_METHODS, ModelReady, SetProbe, ShowLayer

FILE_KINDS = [("video", "Video file…"), ("image", "Image file…"), ("folder", "Folder of images…")]
FILE_TITLES = {"video": "Video", "image": "Image", "folder": "Folder"}


def _key(kind: str, target) -> str:
    """The chooser's item data: a string (Qt keeps strings as they are, not Python tuples)."""
    return f"{kind}:{'' if target is None else target}"


class SourceControls(QGroupBox):
    """Source chooser (demo, cameras found, files), resolution and frame rate, mirror, pause, freeze."""

    source_chosen = Signal(str, object)     # kind, target (camera index, or None: ask for a path)
    format_chosen = Signal(int, int, float)  # width, height, frames per second

    def __init__(self, parent=None) -> None:
        super().__init__("Source", parent)
        self.combo = QComboBox(self)
        self.combo.activated.connect(self._on_combo_activated)
        refresh = QPushButton("Find cameras", self)
        refresh.setToolTip("Look for cameras again (after plugging one in)")
        refresh.clicked.connect(lambda: self.set_cameras(list_cameras()))
        self.info = QLabel("", self)
        self.info.setWordWrap(True)
        self.resolution = QComboBox(self)
        self.fps = QComboBox(self)
        for f in FRAME_RATES:
            self.fps.addItem(f"{f} fps", float(f))
        self.resolution.activated.connect(self._on_format_activated)
        self.fps.activated.connect(self._on_format_activated)
        self.mirror = QCheckBox("Mirror", self)
        self.pause = QPushButton("Pause", self, checkable=True)
        self.pause.setToolTip("Stop reading frames (a video stops where it is)")
        self.freeze = QPushButton("Freeze frame", self, checkable=True)
        self.freeze.setToolTip("Hold the picture in view while the model keeps looking at it")
        self.demo_button = QPushButton("Use the demo source", self)
        self.demo_button.hide()

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(refresh)
        lay.addLayout(row)
        lay.addWidget(self.info)
        row = QHBoxLayout()
        row.addWidget(self.resolution, 1)
        row.addWidget(self.fps)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.mirror)
        row.addWidget(self.pause)
        row.addWidget(self.freeze)
        lay.addLayout(row)
        lay.addWidget(self.demo_button)
        self.set_cameras([])

    def set_cameras(self, cameras: list[CameraInfo]) -> None:
        """List the demo, the cameras found and the file choices."""
        current = self.combo.currentData()
        self.combo.clear()
        self.combo.addItem("Demo: moving shapes", _key("demo", None))
        for cam in cameras:
            self.combo.addItem(cam.label, _key("camera", cam.index))
        if not cameras:
            self.combo.addItem("No camera found", _key("none", None))
            self.combo.model().item(self.combo.count() - 1).setEnabled(False)
        for kind, text in FILE_KINDS:
            self.combo.addItem(text, _key(kind, None))
        index = self.combo.findData(current)
        self.combo.setCurrentIndex(max(index, 0))

    def _on_combo_activated(self, index: int) -> None:
        kind, _, target = self.combo.itemData(index).partition(":")
        self.source_chosen.emit(kind, int(target) if kind == "camera" else None)

    def _on_format_activated(self, _index: int) -> None:
        w, _, h = (self.resolution.currentData() or "0x0").partition("x")
        self.format_chosen.emit(int(w), int(h), float(self.fps.currentData() or 0))

    def show_source(self, source: FrameSource | None, note: str = "") -> None:
        """Reflect the source in use: chooser entry, size and rate, whether they can be chosen."""
        if source is None:
            return
        target = getattr(source, "index", None) if source.kind == "camera" else None
        for kind, text in FILE_KINDS:  # a file in use is named in its entry; choosing it again asks for another
            i = self.combo.findData(_key(kind, None))
            self.combo.setItemText(i, f"{FILE_TITLES[kind]}: {source.name}" if kind == source.kind else text)
        index = self.combo.findData(_key(source.kind, target))
        if index >= 0:
            self.combo.setCurrentIndex(index)
        w, h = source.frame_size
        self.info.setText(note or f"{source.name} · {w}x{h} · {source.fps:g} fps")
        self.resolution.clear()
        for rw, rh in getattr(source, "RESOLUTIONS", RESOLUTIONS):
            self.resolution.addItem(f"{rw}x{rh}", f"{rw}x{rh}")
        i = self.resolution.findData(f"{w}x{h}")
        if i < 0:  # a camera may give a size of its own
            self.resolution.addItem(f"{w}x{h}", f"{w}x{h}")
            i = self.resolution.count() - 1
        self.resolution.setCurrentIndex(i)
        self.fps.setCurrentIndex(max(0, self.fps.findData(float(round(source.fps)))))
        for w_ in (self.resolution, self.fps):
            w_.setEnabled(source.settable)
            w_.setToolTip("" if source.settable else "This source has its own size and rate")


MODEL_CHOICES = [("trained", TRAINED_LABEL), ("graph", "Editor graph (untrained)"), ("file", "Model file…")]


class ModelControls(QGroupBox):
    """Which model runs, which layer's maps show, Grad-CAM, smoothing and top-k."""

    model_chosen = Signal(str)             # trained | graph | file
    request_made = Signal(object)          # a ShowLayer or SetProbe request for the worker

    def __init__(self, parent=None) -> None:
        super().__init__("Model", parent)
        self.combo = QComboBox(self)
        for key, text in MODEL_CHOICES:
            self.combo.addItem(text, key)
        self.combo.activated.connect(lambda i: self.model_chosen.emit(self.combo.itemData(i)))
        reload = QPushButton("Reload", self)
        reload.setToolTip("Load the model again (after training or editing)")
        reload.clicked.connect(lambda: self.model_chosen.emit(self.combo.currentData()))
        self.info = QLabel("", self)
        self.info.setWordWrap(True)
        self.layer = QComboBox(self)
        self.layer.activated.connect(lambda i: self.request_made.emit(ShowLayer(self.layer.itemData(i))))
        self.scaling = QComboBox(self)
        self.scaling.addItem("each map on its own range", "per_map")
        self.scaling.addItem("one range for all maps", "shared")
        self.scaling.activated.connect(lambda i: self.request_made.emit(SetProbe(scaling=self.scaling.itemData(i))))
        self.gradcam = QCheckBox("Overlay", self)
        self.gradcam.setToolTip("Draw an attribution over each frame: which pixels the top class depends on")
        self.gradcam.toggled.connect(lambda on: self.request_made.emit(SetProbe(gradcam=on)))
        self.cam_method = QComboBox(self)
        for method, title in CAM_METHODS.items():
            self.cam_method.addItem(title, method)
        self.cam_method.setToolTip("Grad-CAM: coarse, where; guided backprop: fine edges; guided Grad-CAM: both. "
                                   "Each costs about one more model call a frame (integrated gradients: Probe page)")
        self.cam_method.activated.connect(
            lambda i: self.request_made.emit(SetProbe(cam_method=self.cam_method.itemData(i))))
        self.opacity = QSlider(Qt.Horizontal, self, minimum=10, maximum=100, value=65)
        self.smoothing = QSlider(Qt.Horizontal, self, minimum=0, maximum=95, value=60)
        self.smoothing.setToolTip("Weight of the past in the moving average of the probabilities (0 = off)")
        self.smoothing.valueChanged.connect(lambda v: self.request_made.emit(SetProbe(smoothing=v / 100.0)))
        self.k = QSpinBox(self, minimum=1, maximum=10, value=5)
        self.k.valueChanged.connect(lambda v: self.request_made.emit(SetProbe(k=v)))

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(reload)
        lay.addLayout(row)
        lay.addWidget(self.info)
        form = QFormLayout()
        form.addRow("Feature maps of", self.layer)
        form.addRow("Scaling", self.scaling)
        overlay = QHBoxLayout()
        overlay.addWidget(self.cam_method)
        overlay.addWidget(self.opacity, 1)
        form.addRow(self.gradcam, overlay)
        form.addRow("Smoothing", self.smoothing)
        form.addRow("Top", self.k)
        lay.addLayout(form)

    def default_choice(self, has_trained: bool) -> str:
        """The trained model when there is one, else the editor's graph; selected in the chooser."""
        choice = "trained" if has_trained else "graph"
        self.combo.setCurrentIndex(self.combo.findData(choice))
        return choice

    def set_trained_label(self, text: str) -> None:
        """Name the trained choice (the latest trained model, or the project's shipped run)."""
        self.combo.setItemText(self.combo.findData("trained"), text)

    def settings(self) -> SetProbe:
        """The probe settings shown, as one request for the worker."""
        return SetProbe(gradcam=self.gradcam.isChecked(), cam_method=self.cam_method.currentData(),
                        smoothing=self.smoothing.value() / 100.0,
                        k=self.k.value(), scaling=self.scaling.currentData())

    def cam_opacity(self) -> float:
        """Grad-CAM overlay opacity, 0..1."""
        return self.opacity.value() / 100.0

    def show_loading(self, choice: str, title: str) -> None:
        """Say which model is being built."""
        self.combo.setCurrentIndex(self.combo.findData(choice))
        self.info.setText(f"Loading {title}…")

    def show_model(self, info: ModelReady) -> None:
        """Fill the layer chooser from a ready model."""
        h, w, c = info.input_shape
        self.info.setText(f"{info.title}\n{info.model}: input {h}x{w}x{c}, "
                          f"{len(info.classes) or 'unnamed'} classes"
                          + (f"; Grad-CAM on {info.cam_layer}" if info.cam_layer else ""))
        self.layer.clear()
        for name in info.layers:
            self.layer.addItem(name, name)
        if not info.layers:
            self.layer.addItem("(no layer with feature maps)", "")
        self.layer.setCurrentIndex(max(0, self.layer.findData(info.layer)))
        self.gradcam.setEnabled(bool(info.cam_layer))
        self.cam_method.setEnabled(bool(info.cam_layer))

    def show_failed(self, message: str) -> None:
        """Say the model could not run."""
        self.info.setText(f"Not running: {message}")
        self.layer.clear()
