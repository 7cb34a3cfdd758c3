"""What the Live page and its inference worker say to each other: typed requests one way,
plain data the other.

The worker owns the live pipeline (DESIGN.md, "Views and threads own what they show"); the
page never touches it. The page sends the requests below (:meth:`.worker.LiveWorker.send`),
which the worker folds into its :class:`ProbeOptions` and applies between frames, so a model
loaded later starts with them. A request with a field of the wrong type raises ``TypeError``
where it is made, on the GUI thread, instead of failing (or being ignored) on the worker.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from cnnstudio.ml.probing.mosaic import SCALINGS  # NumPy and OpenCV only

#: The overlays Live offers (as ml.live.pipeline.LIVE_METHODS, which imports TensorFlow) and their names.
CAM_METHODS = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM", "guided": "Guided backprop"}

from cnnstudio.ui.requests import TypedRequest
from cnnstudio.ui.shared.model_choice import ModelSpec


@dataclass(frozen=True)
class ProbeOptions:
    """The worker's probe settings, applied to every pipeline it builds."""

    layer: str | None = None          # whose maps show (None: the pipeline's default layer)
    unit: tuple[int, int] | None = None  # (row, col) of the unit whose field is drawn
    gradcam: bool = False
    smoothing: float = 0.0            # weight of the past in the moving average of the probabilities
    k: int = 5
    scaling: str = "per_map"
    aspect: float = 1.0               # the mosaic's width:height, to fill its view
    pixels: int = 0                   # the view's size in pixels (0: maps are never shrunk)
    cam_method: str = "gradcam"       # the overlay drawn when gradcam is on (pipeline.LIVE_METHODS)


class Request(TypedRequest):
    """A change for the worker; :meth:`apply` folds it into the options."""

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        """The options after this request (unchanged by default)."""
        return options


@dataclass(frozen=True)
class LoadModel(Request):
    """Build and run ``spec``'s model; the unit chosen is forgotten."""

    spec: ModelSpec

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        return replace(options, unit=None)


@dataclass(frozen=True)
class ShowLayer(Request):
    """Show ``layer``'s maps (the unit chosen is forgotten: it was a unit of another layer)."""

    layer: str

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        return replace(options, layer=self.layer, unit=None)


@dataclass(frozen=True)
class SelectUnit(Request):
    """Draw the receptive field of unit (row, col) of the layer shown (None: none)."""

    unit: tuple[int, int] | None

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        return replace(options, unit=self.unit)


@dataclass(frozen=True)
class SetProbe(Request):
    """Grad-CAM on or off, the smoothing weight, top-k and the mosaic's scaling; None leaves one as it is."""

    gradcam: bool | None = None
    smoothing: float | None = None
    k: int | None = None
    scaling: str | None = None
    cam_method: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.smoothing is not None and not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"SetProbe.smoothing must be in [0, 1), not {self.smoothing}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"SetProbe.k must be at least 1, not {self.k}")
        if self.cam_method is not None and self.cam_method not in CAM_METHODS:
            raise ValueError(f"SetProbe.cam_method must be one of {', '.join(CAM_METHODS)}, not {self.cam_method!r}")
        if self.scaling is not None and self.scaling not in SCALINGS:
            raise ValueError(f"SetProbe.scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        changes = {k: v for k, v in vars(self).items() if v is not None}
        return replace(options, **changes)


@dataclass(frozen=True)
class SetMosaic(Request):
    """The feature-map view's shape and size, so the mosaic fills it and holds no more pixels than it shows."""

    aspect: float
    pixels: int

    def apply(self, options: ProbeOptions) -> ProbeOptions:
        return replace(options, aspect=float(self.aspect), pixels=self.pixels)


@dataclass(frozen=True)
class ForgetPast(Request):
    """Restart the moving average of the probabilities (a new source)."""


@dataclass(frozen=True)
class ModelReady:
    """A model the worker has ready, as the page's choosers show it (sent with ``model_ready``)."""

    title: str                        # the spec's title
    model: str                        # the Keras model's name
    layers: tuple[str, ...]           # layers with feature maps
    layer: str                        # the one shown
    cam_layer: str                    # Grad-CAM's layer ("" when the model has none)
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    note: str                         # preprocessing fitted to the model, if it was
    classifier: bool = True           # its output is classes (else no top-k: a map, a picture, values)
    output: str = ""                  # the probed output, in words
