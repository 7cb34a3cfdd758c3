"""What the Probe page asks of its worker: typed requests, each answered with plain data.

The worker (:class:`.jobs.ProbeJobs`) owns the :class:`cnnstudio.ml.probing.session.ProbeSession`
(DESIGN.md, "Views and threads own what they show"): :class:`OpenModel` makes it there, and
every other request runs against it there (:meth:`ProbeRequest.run`) and returns the
session's dataclasses (pictures, statistics, fields) for the views to draw. The page only
ever holds the :class:`~cnnstudio.ml.probing.session.ModelInfo` that comes back. A request
with a field of the wrong type raises ``TypeError`` where it is made. TensorFlow is imported
by the worker only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings  # no TensorFlow on the GUI thread
from cnnstudio.ml.probing.outputs import Target  # NumPy only: no TensorFlow on the GUI thread
from cnnstudio.ui.shared.model_choice import ModelSpec

from cnnstudio.ui.requests import TypedRequest


@dataclass(frozen=True)
class OpenModel(TypedRequest):
    """Load ``spec``'s model as the session (a run's filter ``snapshots`` file, if any); answered with its ModelInfo."""

    spec: ModelSpec
    snapshots: Path | None = None

    def open(self):
        """The new session (on the worker)."""
        from cnnstudio.ml.probing.session import ProbeSession

        spec = self.spec
        model, graph = spec.load()
        return ProbeSession(model, spec.preprocessing, spec.classes, graph or spec.graph, self.snapshots, spec.title)


class ProbeRequest(TypedRequest):
    """A question for the session; :meth:`run` asks it on the worker."""

    def run(self, session) -> Any:
        """The answer of ``session`` (a ProbeSession)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ProbeImage(ProbeRequest):
    """``fetch(*args) -> (image, name)`` on the worker (file, sample or frame reading stays off the GUI
    thread), then preprocess and predict it; answered with (ImageProbe, name)."""

    fetch: Callable[..., tuple]
    args: tuple = ()

    def run(self, session) -> tuple:
        image, name = self.fetch(*self.args)
        return session.set_image(image), name


@dataclass(frozen=True)
class FeatureMapsOf(ProbeRequest):
    """``layer``'s maps for the current image (a FeatureMaps)."""

    layer: str
    scaling: str = "per_map"

    def run(self, session):
        return session.feature_maps(self.layer, self.scaling)


@dataclass(frozen=True)
class FiltersOf(ProbeRequest):
    """The filters of conv ``layer`` (input ``channel``, None: colour) now or at a snapshot's ``epoch`` (a FilterPicture)."""

    layer: str
    channel: int | None = None
    epoch: int | None = None

    def run(self, session):
        return session.filters(self.layer, self.channel, self.epoch)


@dataclass(frozen=True)
class UnitOf(ProbeRequest):
    """The theoretical and effective fields of ``unit`` (row, col) of map ``channel`` of ``layer`` (a UnitProbe)."""

    layer: str
    channel: int
    unit: tuple[int, int]

    def run(self, session):
        return session.unit(self.layer, self.channel, self.unit)


@dataclass(frozen=True)
class ChooseOutput(ProbeRequest):
    """Probe output ``index`` of a model with several; answered with the new ModelInfo."""

    index: int

    def run(self, session):
        return session.choose_output(self.index)


@dataclass(frozen=True)
class AttributionOf(ProbeRequest):
    """Attribution ``method`` for the current image, of ``target`` (a class, a pixel; None: the
    default); answered with the Attribution, or the one line saying why it is not defined here."""

    method: str
    target: Target | None = None
    layer: str | None = None  # Grad-CAM's layer (None: its default)
    baseline: str = "black"  # integrated gradients' baseline and steps
    steps: int = 48

    def run(self, session):
        from cnnstudio.ml.probing.outputs import AttributionUndefined

        try:
            return session.attribution(self.method, self.target, self.layer, self.baseline, self.steps)
        except AttributionUndefined as exc:
            return str(exc)


@dataclass(frozen=True)
class MaximizeTargets(ProbeRequest):
    """The layers whose channels can be maximised: answered with {layer: channels}."""

    def run(self, session):
        return session.maximizer.layers


@dataclass(frozen=True)
class Maximize(ProbeRequest):
    """Activation maximisation of ``goal`` (a Maximized); ``progress(Progress)`` is called on the worker
    after each step, ``should_stop()`` asked between steps."""

    goal: Goal
    settings: MaximizeSettings
    progress: Callable
    should_stop: Callable

    def run(self, session):
        return session.maximize(self.goal, self.settings, self.progress, self.should_stop)


@dataclass(frozen=True)
class ScanPatches(ProbeRequest):
    """The ``k`` dataset crops that excite map ``channel`` of ``layer`` most (at most ``per_image`` per image):
    ``dataset(*args)`` gives the DatasetSamples on the worker; ``progress(done, total)`` after each batch;
    setting ``cancel`` stops the scan within a batch. Answered with the TopPatches (the best so far when
    cancelled), or the one line saying why it cannot scan."""

    dataset: Callable[..., Any]
    args: tuple
    layer: str
    channel: int
    k: int
    per_image: int
    progress: Callable[[int, int], Any]
    cancel: threading.Event

    def run(self, session):
        try:
            samples = self.dataset(*self.args)
            return session.top_patches(samples, self.layer, self.channel, self.k, self.per_image,
                                       self.progress, self.cancel.is_set)
        except ValueError as exc:  # ProbeInputError too: no field, no such map, no dataset
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
