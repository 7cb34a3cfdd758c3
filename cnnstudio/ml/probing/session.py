"""One probing session: a model, its preprocessing, the current image, and the pictures asked of them.

:class:`ProbeSession` is what the probe panel's worker holds: every method that touches the
model runs there, never on the GUI thread, and returns plain NumPy results (dataclasses
below) for the views to draw. Headless code can use it the same way::

    session = ProbeSession(model, project.preprocessing, project.classes, project.graph)
    session.set_image(rgb)
    maps = session.feature_maps("conv2")
    cam = session.attribution("gradcam")

Any model Keras can run is probed through one chosen output (:meth:`ProbeSession.choose_output`):
a classifier's top-k, or the output itself as a picture (a segmentation's classes, an
autoencoder's image) or as numbers (regression), see :mod:`cnnstudio.ml.probing.outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import ReceptiveField

from cnnstudio.ml.probing import attribution, top_patches
from cnnstudio.ml.probing.filters import arrange_kernel, filter_mosaic, kernel_of
from cnnstudio.ml.probing.mosaic import MapStats, Mosaic, histogram, map_stats, tile_mosaic, to_uint8
from cnnstudio.ml.data.preprocess import display_image, preprocess
from cnnstudio.ml.live.pipeline import as_probabilities, fit_to_model
from cnnstudio.ml.probing.maximize import Maximized, Maximizer
from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings
from cnnstudio.ml.probing.outputs import ProbedOutput, Target, output_picture, summary
from cnnstudio.ml.probing.prober import Prediction, Prober, UnitField, top_k
from cnnstudio.ml.probing.top_patches import TopPatches
from cnnstudio.ml.training.runs import FilterSnapshots


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model as the probe panel's choosers see it."""

    title: str
    model: str
    input_shape: tuple[int, ...]
    classes: list[str]
    layers: list[str]  # layers with feature maps
    layer_shapes: dict[str, tuple[int, ...]]  # their output shapes, batch axis dropped
    conv_inputs: dict[str, int]  # conv layer -> input channels its filters see
    cam_layer: str | None  # Grad-CAM's default layer
    note: str  # preprocessing fitted to the model, if it was
    outputs: list[ProbedOutput]  # every output of the model
    output: ProbedOutput  # the one probed


@dataclass(frozen=True)
class ImageProbe:
    """The current image as the model sees it, and what the model predicts for it."""

    picture: np.ndarray  # uint8 RGB (H, W, 3): the preprocessed input, scaling undone
    predictions: list[Prediction]  # a classifier's every class, most probable first (else empty)
    output: ProbedOutput
    values: np.ndarray  # the probed output for the image, batch axis dropped
    output_picture: np.ndarray | None  # uint8 RGB of a map or image output (None for classes, values)
    summary: str  # one line on a non-classifier's output (empty for a classifier)


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's activations for the current image, tiled, with statistics."""

    layer: str
    activations: np.ndarray  # (H, W, C)
    mosaic: Mosaic
    picture: np.ndarray  # uint8 mosaic
    stats: MapStats
    counts: np.ndarray  # histogram of all activations
    edges: np.ndarray
    field: ReceptiveField | None  # the layer's theoretical receptive field
    field_note: str  # why ``field`` is None


@dataclass(frozen=True)
class FilterPicture:
    """A convolution layer's filters as one picture (one tile per filter)."""

    layer: str
    mosaic: Mosaic
    picture: np.ndarray  # uint8: RGB tiles, or 0..255 over ``mosaic.levels`` for a colour scale
    colour: bool
    max_abs: float  # the largest |weight| drawn: colour tiles hold 0.5 + w / (2 max_abs)
    inputs: int  # input channels each filter sees
    epochs: list[int]  # epochs of the run's snapshots of this layer (empty: none)
    epoch: int | None  # the snapshot shown (None: the model's current weights)


@dataclass(frozen=True)
class UnitProbe:
    """One unit of one map: where it looks (theoretical field) and what moves it (effective field)."""

    layer: str
    channel: int
    unit: tuple[int, int]
    field: UnitField | None
    note: str
    effective: np.ndarray  # (H, W) 0..1 at the model input size


class ProbeSession:
    """A model with its preprocessing and the current image; not thread-safe (one worker uses it)."""

    def __init__(self, model, preprocessing: dict[str, Any], class_names: Sequence[str] = (),
                 graph: LayerGraph | None = None, snapshots: str | Path | None = None, name: str = "") -> None:
        # the project's crop/pad and scaling, at the size and colour the model takes (the project's
        # size where the model takes any)
        self.settings, self.note = fit_to_model(preprocessing, tuple(model.inputs[0].shape[1:]))
        self.prober = Prober(model, graph, class_names, size=self.settings.size)
        self.snapshots_path = Path(snapshots) if snapshots else None  # a run's filters.npz
        self._snapshots: tuple[float, FilterSnapshots] | None = None
        self.name = name or model.name
        self.x: np.ndarray | None = None
        self._maximizer: Maximizer | None = None  # made on first use, for the probed output

    def describe(self) -> ModelInfo:
        """What the panel's choosers offer for this model."""
        p = self.prober
        convs = {name: int(kernel_of(p.model.get_layer(name)).shape[2]) for name in p.conv_layer_names}
        return ModelInfo(self.name, p.model.name, tuple(p.input_shape), self.class_names, p.layer_names,
                         {n: p.layer_shape(n) for n in p.layer_names}, convs, p.last_conv_layer, self.note,
                         list(p.outputs), p.output)

    def choose_output(self, index: int) -> ModelInfo:
        """Probe output ``index`` of a model with several; what the choosers offer now."""
        self.prober.choose_output(index)
        self._maximizer = None
        return self.describe()

    @property
    def class_names(self) -> list[str]:
        """Class labels of a classifier or a map (indices as text where the project names none); else empty."""
        out = self.prober.output
        k = out.channels if out.kind in ("classes", "map") else 0
        names = self.prober.class_names
        return [names[i] if i < len(names) else str(i) for i in range(k)]

    def set_image(self, rgb: np.ndarray) -> ImageProbe:
        """Preprocess an RGB (or grey) uint8 image as the model was trained and predict it."""
        self.x = preprocess(np.asarray(rgb), self.settings)
        out, values = self.prober.output, self.prober.run(self.x).output
        predictions, line = [], ""
        if out.kind == "classes":
            probs = as_probabilities(values)
            predictions = top_k(probs, len(probs), self.class_names)
        else:
            line = summary(out, values, self.class_names)
        return ImageProbe(display_image(self.x, self.settings), predictions, out, values,
                          output_picture(out, values), line)

    def _image(self) -> np.ndarray:
        if self.x is None:
            raise ValueError("choose an image first")
        return self.x

    def feature_maps(self, layer: str, scaling: str = "per_map") -> FeatureMaps:
        """``layer``'s maps for the current image as a mosaic with statistics and a histogram."""
        acts = self.prober.activations(self._image(), layer)
        if acts.ndim == 2:  # 1-D maps (steps, channels): one row per map
            acts = acts[None]
        mosaic = tile_mosaic(acts, scaling, gap=1)
        if scaling == "none":
            lo, hi = mosaic.levels
            picture = to_uint8((mosaic.image - lo) / ((hi - lo) or 1.0))
        else:
            picture = to_uint8(mosaic.image)
        counts, edges = histogram(acts)
        return FeatureMaps(layer, acts, mosaic, picture, map_stats(acts), counts, edges,
                           self.prober.receptive_field(layer), self.prober.field_note(layer))

    def snapshots(self) -> FilterSnapshots | None:
        """The run's filter snapshots, read again whenever training has added to the file."""
        p = self.snapshots_path
        if p is None or not p.is_file():
            return None
        mtime = p.stat().st_mtime
        if self._snapshots is None or self._snapshots[0] != mtime:
            self._snapshots = (mtime, FilterSnapshots(p))
        return self._snapshots[1]

    def filters(self, layer: str, channel: int | None = None, epoch: int | None = None) -> FilterPicture:
        """The filters of conv ``layer`` (input ``channel``; ``None``: colour for RGB inputs), now or at ``epoch``.

        ``epoch`` picks one of the run's snapshots of this layer (see :mod:`cnnstudio.ml.training.runs`).
        """
        conv = self.prober.model.get_layer(layer)
        snaps = self.snapshots()
        snaps = snaps if snaps is not None and snaps.layer == layer else None
        epochs = list(snaps.epochs) if snaps is not None else []
        if epoch is not None and epoch in epochs:
            kernel = arrange_kernel(type(conv).__name__, snaps.kernels[epochs.index(epoch)])
        else:
            kernel, epoch = kernel_of(conv), None
        mosaic = filter_mosaic(kernel, channel)
        lo, hi = mosaic.levels
        picture = to_uint8((mosaic.image - lo) / ((hi - lo) or 1.0))
        colour = mosaic.image.ndim == 3
        max_abs = float(np.abs(kernel).max()) if colour else float(mosaic.levels[1])
        return FilterPicture(layer, mosaic, picture, colour, max_abs, kernel.shape[2], epochs, epoch)

    def unit(self, layer: str, channel: int, unit: tuple[int, int]) -> UnitProbe:
        """The theoretical and effective receptive field of ``unit`` (row, col) in map ``channel``."""
        field = self.prober.unit_field(layer, unit)
        effective = attribution.effective_field(self.prober, self._image(), layer, unit, channel)
        return UnitProbe(layer, channel, tuple(unit), field, self.prober.field_note(layer), effective)

    def attribution(self, method: str, target: Target | int | None = None,
                    layer: str | None = None, baseline: str = "black",
                    steps: int = attribution.DEFAULT_STEPS) -> attribution.Attribution:
        """Attribution ``method`` of ``target`` (a class, a pixel; None: the default) for the current
        image, Grad-CAM (guided too) on ``layer`` if given, integrated gradients from ``baseline`` in
        ``steps``; raises ``AttributionUndefined`` where it means nothing."""
        options = {"layer": layer} if method in ("gradcam", "guided_gradcam") and layer else {}
        if method == "integrated":
            options = {"baseline": baseline, "steps": steps, "scale": self.settings.scale}
        return attribution.attribute(self.prober, self._image(), method, target, **options)

    @property
    def maximizer(self) -> Maximizer:
        """Activation maximisation on this model, through its preprocessing."""
        if self._maximizer is None:
            self._maximizer = Maximizer(self.prober, self.settings)
        return self._maximizer

    def maximize(self, goal: Goal, settings: MaximizeSettings | None = None, progress=None,
                 should_stop=None) -> Maximized:
        """The pictures that maximise ``goal`` (see :meth:`Maximizer.run`); ``progress(Progress)``
        after each step, ``should_stop()`` asked between steps."""
        return self.maximizer.run(goal, settings, progress, should_stop)

    def top_patches(self, samples, layer: str, channel: int, k: int = 9, per_image: int = 1,
                    progress=None, cancelled=None) -> TopPatches:
        """The ``k`` dataset crops (of a :class:`~cnnstudio.ml.probing.inputs.DatasetSamples`) that excite map
        ``channel`` of ``layer`` most, streamed through this model's preprocessing (see :func:`top_patches.scan`),
        with their pictures as displayed, padding hatched."""
        skipped: list[int] = []
        batches = top_patches.dataset_batches(samples, lambda im: preprocess(im, self.settings),
                                              top_patches.batch_size_for(self.prober.input_shape), skipped)
        found = top_patches.scan(self.prober, batches, layer, channel, k, per_image, len(samples), progress, cancelled)
        found.skipped, found.classes = len(skipped), samples.classes
        found.pictures = [top_patches.hatch_padding(display_image(p.crop, self.settings), p.inside)
                          for p in found.patches]
        return found
