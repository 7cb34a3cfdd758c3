"""The live pipeline: one frame -> the project's preprocessing -> one compiled model call ->
top-k probabilities (smoothed), the feature maps of a chosen layer as one mosaic, and
optionally Grad-CAM, with the time each stage took.

The model call is :class:`cnnstudio.ml.probing.prober.Prober`'s: ONE multi-output sub-model (the
prediction plus the probed layer's activations), built once and called directly inside a
``tf.function``, never ``model.predict`` per frame. Preprocessing is
:func:`cnnstudio.ml.data.preprocess.preprocess` with the project's settings, fitted to the
model's input where the two disagree (:func:`fit_to_model`), and the model's input is kept
as a picture for display. The geometry helpers map model-input pixels (a unit's receptive
field, the Grad-CAM map) back onto the frame through the same crop, pad or stretch.
A :class:`LivePipeline` belongs to one thread (the live worker); only :meth:`LivePipeline.prepare`
is handed to the capture thread. Its results are plain data: :meth:`LiveResult.finish` (done
by whoever draws, for the results drawn) needs nothing from the pipeline.

A :class:`LivePipeline` is used by one thread at a time (the live worker).

A model whose output is not classes (a segmentation map, an autoencoder's picture, a
regression) runs too: it has no top-k to rank (:attr:`LivePipeline.classifier` is False),
and Grad-CAM explains the output's default target (:meth:`Prober.resolve_target`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.settings import Preprocessing

from cnnstudio.ml.probing.attribution import attribute
from cnnstudio.ml.probing.outputs import AttributionUndefined
from cnnstudio.ml.live.grabber import Frame, RateMeter
from cnnstudio.ml.probing.mosaic import SCALINGS, Mosaic, grid_shape, tile_mosaic, to_uint8
from cnnstudio.ml.probing.outputs import resolve
from cnnstudio.ml.data.preprocess import display_image, fit_geometry, preprocess
from cnnstudio.ml.probing.prober import Prediction, Prober, UnitField, top_k

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels (edges, not centres)
GAP_LEVEL = 0.22  # the level of the gaps between tiles in a 0..1 mosaic


class LiveError(ValueError):
    """A model the live view cannot run; the message says why, for a person."""


def fit_to_model(settings: Preprocessing, input_shape: Sequence[int | None]) -> tuple[Preprocessing, str]:
    """The project's preprocessing with the size and colour the model takes, and a note if they changed.

    Crop/pad/stretch and the scaling stay the project's. Raises :class:`LiveError` for a
    model whose input is not an image with 1 or 3 channels.
    """
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise LiveError(f"the model's input has shape {shape}: the live view needs an image input "
                        "(height, width, channels)")
    h, w, c = shape
    if c not in (1, 3):
        raise LiveError(f"the model's input has {c} channels; frames give 1 (grey) or 3 (RGB)")
    fitted = settings.replace(size=(int(h or settings.size[0]), int(w or settings.size[1])),
                              color="grey" if c == 1 else "rgb")
    if fitted == settings:
        return fitted, ""
    return fitted, (f"the project preprocesses to {settings.size[0]}x{settings.size[1]} {settings.color} but the "
                    f"model takes {fitted.size[0]}x{fitted.size[1]} {fitted.color}: frames are fitted to the model")


def _fit_geometry(frame_size: tuple[int, int], settings: Preprocessing) -> tuple[float, float, float, float]:
    """(scale_x, scale_y, offset_x, offset_y) with ``frame = (input + offset) * scale``, by
    :func:`~cnnstudio.ml.data.preprocess.fit_geometry`, the rule the preprocessing fits by."""
    iw, ih = frame_size
    nh, nw, top, left = fit_geometry((ih, iw), settings.size, settings.fit)
    return iw / nw, ih / nh, -left, -top


def frame_rect(box: tuple[tuple[int, int], tuple[int, int]], frame_size: tuple[int, int],
               settings: Preprocessing) -> Rect:
    """An inclusive model-input pixel box ((top, bottom), (left, right)) -> its rectangle on the frame.

    The result may reach past the frame: that part lay in the crop's cut-off, the pad's
    border or the network's zero padding.
    """
    sx, sy, ox, oy = _fit_geometry(frame_size, settings)
    (top, bottom), (left, right) = box
    return (left + ox) * sx, (top + oy) * sy, (right + 1 + ox) * sx, (bottom + 1 + oy) * sy


def input_rect(frame_size: tuple[int, int], settings: Preprocessing) -> Rect:
    """Where the whole model input lies on the frame (the frame itself when stretched)."""
    h, w = settings.size
    return frame_rect(((0, h - 1), (0, w - 1)), frame_size, settings)


def as_probabilities(output: np.ndarray) -> np.ndarray:
    """A model's class output -> probabilities: softmax outputs as they are, logits through a softmax,
    one sigmoid unit as [1 - p, p]."""
    p = np.asarray(output, np.float64).ravel()
    if p.size == 1 and 0.0 <= p[0] <= 1.0:
        return np.array([1.0 - p[0], p[0]], np.float32)
    if np.all(p >= 0) and abs(p.sum() - 1.0) < 1e-3:
        return p.astype(np.float32)
    e = np.exp(p - p.max())
    return (e / e.sum()).astype(np.float32)


def shrink_maps(maps: np.ndarray, pixels: int) -> np.ndarray:
    """(H, W, C) maps averaged over f x f blocks (f a whole number) until all C of them hold at
    most about ``pixels`` pixels: a screen cannot show more, and tiling and drawing cost grows
    with them. Rows and columns that do not fill a last block are left out."""
    if maps.ndim != 3 or pixels <= 0:
        return maps
    h, w, c = maps.shape
    f = int(np.ceil((h * w * c / float(pixels)) ** 0.5))
    if f <= 1 or h < f or w < f:
        return maps
    h2, w2 = h // f, w // f
    return maps[:h2 * f, :w2 * f].reshape(h2, f, w2, f, c).mean(axis=(1, 3))


def _blank_empty_cells(picture: np.ndarray, mosaic: Mosaic) -> np.ndarray:
    """Black out the grid cells after the last map (and the gaps beside them): no grid where no map is."""
    h, w = mosaic.tile
    for k in range(mosaic.count, mosaic.rows * mosaic.cols):
        y, x = mosaic.origin(k)
        picture[max(0, y - mosaic.gap):y + h, max(0, x - mosaic.gap):x + w] = 0
    return picture


class ProbabilitySmoother:
    """Exponential moving average of probability vectors: ``alpha`` is the weight of the past (0 = off)."""

    def __init__(self, alpha: float = 0.0) -> None:
        self.alpha = alpha
        self.state: np.ndarray | None = None

    def update(self, p: np.ndarray) -> np.ndarray:
        """Fold in a new vector; returns the smoothed one."""
        if self.state is None or self.state.shape != p.shape or self.alpha <= 0:
            self.state = np.array(p, np.float32)
        else:
            self.state = self.alpha * self.state + (1.0 - self.alpha) * p
        return self.state

    def reset(self) -> None:
        """Forget the past (a new source or model)."""
        self.state = None


@dataclass(frozen=True)
class DrawSettings:
    """How the pipeline was set for one frame: what :meth:`LiveResult.finish` draws by."""

    preprocessing: Preprocessing       # fitted to the model
    class_names: tuple[str, ...] = ()
    k: int = 5                         # top-k predictions
    scaling: str = "per_map"           # mosaic scaling (:data:`~cnnstudio.ml.probing.mosaic.SCALINGS`)
    aspect: float = 1.0                # width:height of the mosaic, to fill the view it is drawn in
    pixels: int = 0                    # the view's size in pixels: larger maps are shrunk to it (0: never)


@dataclass
class LiveResult:
    """One frame through the model (:meth:`LivePipeline.infer`), then made ready to draw
    (:meth:`finish`, which fills the fields marked "finish")."""

    frame: Frame
    x: np.ndarray                      # the preprocessed model input (H, W, C) float32
    probabilities: np.ndarray          # this frame's (empty for a model that is no classifier)
    smoothed: np.ndarray               # after the moving average
    draw: DrawSettings
    layer: str = ""
    activations: np.ndarray | None = None  # the probed layer's output for this frame
    cam: np.ndarray | None = None      # the overlay's heat 0..1 at the model input size (see LIVE_METHODS)
    cam_class: int = -1
    cam_note: str = ""                 # why the overlay's method is not defined for this model
    timings: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds
    fps: float = 0.0                   # frames per second through the model
    unit_field: UnitField | None = None  # the selected unit's receptive field (model-input pixels)
    field_rect: Rect | None = None     # ... and on the frame
    field_note: str = ""               # why a selected unit has no field to draw
    finished: bool = False
    model_input: np.ndarray | None = None   # finish: uint8 RGB picture of what the model saw
    top: list[Prediction] = field(default_factory=list)  # finish: from the smoothed probabilities
    mosaic: Mosaic | None = None       # finish: layout of the feature maps (for clicks)
    mosaic_image: np.ndarray | None = None  # finish: the mosaic as uint8 (rows, cols)
    map_shape: tuple[int, int] | None = None  # finish: (h, w) of one map; tiles may be smaller
    input_rect: Rect = (0.0, 0.0, 0.0, 0.0)  # finish: the model input's place on the frame

    def finish(self) -> "LiveResult":
        """Make the result ready to draw: the input picture, top-k, the mosaic, the input's place.

        Only results that will be drawn need this (the GUI thread calls it for the newest), so
        frames the screen skips cost no tiling. Pure NumPy on the result's own data.
        """
        if self.finished:
            return self
        t0 = time.perf_counter()
        d = self.draw
        self.model_input = display_image(self.x, d.preprocessing)
        self.top = top_k(self.smoothed, d.k, list(d.class_names))
        self.input_rect = input_rect(_frame_size(self.frame), d.preprocessing)
        maps = self.activations
        if maps is not None:
            self.map_shape = tuple(maps.shape[:2]) if maps.ndim == 3 else (1, maps.shape[0])
            maps = shrink_maps(maps, d.pixels)
            cols = grid_shape(maps.shape[-1], maps.shape[:2], d.aspect)[1] if maps.ndim == 3 else None
            # gaps a little above black, so the grid shows and a dead (all-zero) map stays tellable from it
            gap = GAP_LEVEL if d.scaling != "none" else 0.0
            self.mosaic = tile_mosaic(maps, d.scaling, cols, gap=1, gap_value=gap)
            self.mosaic_image = _blank_empty_cells(to_uint8(self.mosaic.image), self.mosaic)
        self.timings["maps"] = 1e3 * (time.perf_counter() - t0)
        self.finished = True
        return self


def _frame_size(frame: Frame) -> tuple[int, int]:
    return frame.image.shape[1], frame.image.shape[0]


#: The attributions the Live page can draw over each frame: each costs about one backward pass (about the
#: forward call's time again; see benchmarks/bench_probe.py). Integrated gradients take one backward
#: pass per step (16 steps: 24 ms a frame on LeNet-5, 0.9 s on the ResNet-style net, 2 busy CPU cores), too
#: slow for a live view: they are on the Probe page only.
LIVE_METHODS = ("gradcam", "guided_gradcam", "guided")


class LivePipeline:
    """Runs frames through one model: preprocessing, one compiled call, mosaic, optional Grad-CAM."""

    def __init__(self, model, preprocessing: Preprocessing, graph: LayerGraph | None = None,
                 class_names: Sequence[str] = (), layer: str | None = None, gradcam: bool = False,
                 smoothing: float = 0.0, k: int = 5, scaling: str = "per_map") -> None:
        # an input size the model leaves open is the project's
        self.settings, self.note = fit_to_model(preprocessing, tuple(model.inputs[0].shape[1:]))
        try:
            self.prober = Prober(model, graph, class_names, size=self.settings.size)
        except (ValueError, TypeError) as exc:  # several inputs, or a model that cannot be rebuilt at that size
            raise LiveError(f"the live view cannot run {model.name}: {exc}") from None
        self.class_names = list(class_names)
        self.classifier = self.prober.output.kind == "classes"  # else no classes to rank
        self.layers = self.prober.layer_names
        self.cam_layer = self.prober.last_conv_layer
        self.layer = ""
        self.unit: tuple[int, int] | None = None
        self.set_layer(layer)
        self.gradcam, self.k, self.scaling = gradcam, k, scaling
        self.cam_method = "gradcam"  # one of LIVE_METHODS, drawn when gradcam is on
        self.mosaic_aspect = 1.0  # width:height of the mosaic, to fill the view it is drawn in
        self.mosaic_pixels = 0    # the view's size in pixels: larger maps are shrunk to it (0: never)
        self.smoother = ProbabilitySmoother(smoothing)
        self.rate = RateMeter()

    @property
    def default_layer(self) -> str:
        """The first convolution's maps (edges and blobs: the liveliest), else the first map layer."""
        convs = self.prober.conv_layer_names
        return convs[0] if convs else (self.layers[0] if self.layers else "")

    def set_layer(self, name: str | None) -> None:
        """Probe layer ``name`` (None: the default); an unknown name probes nothing."""
        name = self.default_layer if name is None else name
        self.layer = name if name in self.layers else ""
        self.unit = None

    def set_scaling(self, scaling: str) -> None:
        """Per-map or shared mosaic scaling (see :func:`cnnstudio.ml.probing.mosaic.tile_mosaic`)."""
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}")
        self.scaling = scaling

    def select_unit(self, unit: tuple[int, int] | None) -> None:
        """Show the receptive field of unit (row, col) of the probed layer (None: none)."""
        self.unit = None if unit is None else (int(unit[0]), int(unit[1]))

    def warm_up(self) -> None:
        """Trace the compiled calls now, so the first frame is not slow, and compile the model
        with XLA where that makes its call faster (small models: :meth:`Prober.tune_forward`)."""
        x = np.zeros(self.prober.input_shape, np.float32)
        self.prober.tune_forward(x, (self.layer,) if self.layer else ())
        if self.gradcam and self.cam_layer:
            try:
                self._overlay(x, 0)
            except AttributionUndefined:
                pass  # said on every frame (LiveResult.cam_note)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """A frame's picture -> the model input, with the project's preprocessing (fitted to the model).

        The capture thread calls this (see ``FrameGrabber.transform``), so preprocessing
        overlaps the model's work on the previous frame.
        """
        return preprocess(image, self.settings)

    def infer(self, frame: Frame) -> LiveResult:
        """The per-frame work: preprocessing (unless the capture thread did it), ONE compiled call
        for the prediction and the layer's maps, the moving average, and Grad-CAM when on."""
        t0 = time.perf_counter()
        x = frame.model_input
        if x is None or x.shape != self.prober.input_shape:
            x = self.prepare(frame.image)
        t1 = time.perf_counter()
        layer = self.layer
        probe = self.prober.run(x, (layer,) if layer else ())
        t2 = time.perf_counter()
        probs = as_probabilities(probe.output) if self.classifier else np.zeros(0, np.float32)
        draw = DrawSettings(self.settings, tuple(self.class_names), self.k, self.scaling,
                            self.mosaic_aspect, self.mosaic_pixels)
        result = LiveResult(frame, x, probs, self.smoother.update(probs).copy(), draw, layer,
                            probe.activations.get(layer))
        if self.unit is not None and result.activations is not None:
            self._place_field(result, self.unit)
        t3 = time.perf_counter()
        if self.gradcam and self.cam_layer and (not self.classifier or probs.size == probe.output.size):
            # a classifier's top class; otherwise the output's default target, from this call's output
            target = int(np.argmax(probs)) if self.classifier else resolve(self.prober.output, probe.output, None)
            try:
                cam = self._overlay(x, target)
                result.cam, result.cam_class = cam.heat, cam.class_index
            except AttributionUndefined as exc:  # guided backprop on a model without ReLU
                result.cam_note = str(exc)
        t4 = time.perf_counter()
        self.rate.tick(t4)
        result.timings = {"preprocess": 1e3 * (t1 - t0), "model": 1e3 * (t2 - t1), "gradcam": 1e3 * (t4 - t3)}
        result.fps = self.rate.rate
        return result

    def _overlay(self, x: np.ndarray, target):
        """The chosen overlay (:attr:`cam_method`) of ``target`` for one frame's input."""
        options = {} if self.cam_method == "guided" else {"layer": self.cam_layer}
        return attribute(self.prober, x, self.cam_method, target, **options)

    def _place_field(self, result: LiveResult, unit: tuple[int, int]) -> None:
        """The selected unit's receptive field, on the model input and on the frame (or why none)."""
        result.unit_field = self.prober.unit_field(result.layer, unit)
        if result.unit_field is not None:
            result.field_rect = frame_rect(result.unit_field.box, _frame_size(result.frame), self.settings)
        else:
            result.field_note = self.prober.field_note(result.layer)

    def process(self, frame: Frame) -> LiveResult:
        """:meth:`infer` then :meth:`LiveResult.finish`: one frame all the way to what the view draws."""
        return self.infer(frame).finish()
