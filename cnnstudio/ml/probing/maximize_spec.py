"""What activation maximisation (:mod:`cnnstudio.ml.probing.maximize`) aims at and how: its goal and settings.

No TensorFlow here: the Probe page makes goals and reads the settings on the GUI thread; the CLI's options
and the worker's ascent read the same :data:`MAXIMIZE` parameters and defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from cnnstudio.core.params import Param, ParamSet
from cnnstudio.core.settings import Settings

MAXIMIZE = ParamSet((
    Param("steps", "int", 256, "gradient-ascent steps on the input", min=1, max=10000),
    Param("learning_rate", "float", 0.1, "Adam's step size on the picture's parameters", min=1e-4, max=10.0),
    Param("parametrization", "choice", "fourier", "how the picture is made: from a decorrelated Fourier spectrum "
          "that favours low frequencies and natural colours (readable), or pixel by pixel (sharper, noisier)",
          choices=("fourier", "pixel"), titles=("Decorrelated Fourier", "Pixels")),
    Param("jitter", "int", 4, "random shift of the picture at each step, up to this many pixels", min=0, max=64),
    Param("scale", "float", 0.1, "random zoom at each step, up to this share in or out", min=0.0, max=0.5),
    Param("rotation", "float", 10.0, "random rotation at each step, up to this many degrees either way",
          min=0.0, max=180.0),
    Param("blur", "float", 0.0, "Gaussian blur of the picture after each step, sigma in pixels (0: off)",
          min=0.0, max=5.0),
    Param("l2", "float", 0.5, "weight of the L2 penalty that keeps pixels near grey, as a share of the goal's "
          "value per unit of mean squared distance from grey (0..0.25)", min=0.0, max=100.0),
    Param("tv", "float", 0.5, "weight of the total-variation penalty that keeps neighbouring pixels alike, as a "
          "share of the goal's value per unit of mean difference between neighbours (0..1)", min=0.0, max=100.0),
    Param("preview_every", "int", 16, "steps between preview pictures", min=1, max=10000),
    Param("seed", "int", 0, "the same seed gives the same picture", min=0, max=2**31 - 1),
))


@dataclasses.dataclass(frozen=True)
class MaximizeSettings(Settings):
    """How a picture is optimised to excite a unit, a channel or a class."""

    steps: int
    learning_rate: float
    parametrization: str
    jitter: int
    scale: float
    rotation: float
    blur: float
    l2: float
    tv: float
    preview_every: int
    seed: int
    PARAMS: ClassVar[ParamSet] = MAXIMIZE
    SECTION: ClassVar[str] = "maximize"


@dataclass(frozen=True)
class Goal:
    """What to maximise: ``channels`` of ``layer`` (one picture each), or classes of the probed output.

    ``layer=None`` means the output's scores: ``channels`` are then classes. ``unit`` (row, col)
    maximises that one position of each map; ``None`` the mean over the map.
    """

    layer: str | None
    channels: tuple[int, ...]
    unit: tuple[int, int] | None = None

    def text(self, i: int, labels=()) -> str:
        """Picture ``i``'s target in words: ``conv2 channel 5``, ``class 'cat'``."""
        c = self.channels[i]
        if self.layer is None:
            return f"class {labels[c] if c < len(labels) else c!r}"
        where = f" unit {self.unit[0]},{self.unit[1]}" if self.unit is not None else ""
        return f"{self.layer} channel {c}{where}"
