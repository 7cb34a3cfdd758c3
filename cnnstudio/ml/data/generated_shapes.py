"""A generated dataset of shapes: the studio's offline default data.

Each image shows one shape (circle, square, triangle, cross, star, ring, pentagon, hexagon,
heart, arrow) drawn with OpenCV polygons. How hard the task is, is set by 0..1 sliders:

* ``position``, ``scale``, ``rotation``: how far shapes wander from the centre, how much
  their size varies, how much they turn (1.0 = any angle).
* ``noise``: Gaussian pixel noise.
* The lecture's challenges of image classification:
  ``viewpoint`` (perspective warp and foreshortening), ``illumination`` (brightness,
  lower contrast and a lighting gradient), ``deformation`` (smooth non-rigid bending of the
  outline), ``occlusion`` (a blob covering part of the shape) and ``clutter`` (a textured
  background with distractor strokes).

Image ``i`` of a dataset depends only on ``(seed, i)``, so any slice can be regenerated on
its own and the whole set is the same on every machine. Drawing is polygon filling on
small arrays: tens of thousands of 32x32 images per second on one core.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from cnnstudio.core.params import Param, ParamSet

CHALLENGES = ("viewpoint", "illumination", "deformation", "occlusion", "clutter")

_SHIFT = 4  # fillPoly fractional bits: sub-pixel vertices, smooth anti-aliased edges
_POINTS_PER_CONTOUR = 48  # edges are subdivided so deformation can bend straight sides


def _regular(n: int, radius: float = 1.0, phase: float = -np.pi / 2) -> np.ndarray:
    t = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    outer = _regular(points)
    inner_pts = _regular(points, inner, -np.pi / 2 + np.pi / points)
    return np.stack([outer, inner_pts], axis=1).reshape(-1, 2)


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([x, -y - 2.5], axis=1) / 16.5


def _subdivide(contour: np.ndarray, total: int = _POINTS_PER_CONTOUR) -> np.ndarray:
    """Insert points along every edge (keeping the corners) until about ``total`` points."""
    n = len(contour)
    per_edge = max(1, total // n)
    nxt = np.roll(contour, -1, axis=0)
    t = (np.arange(per_edge) / per_edge)[None, :, None]
    return (contour[:, None, :] * (1 - t) + nxt[:, None, :] * t).reshape(-1, 2)


_ARM = 0.3
#: Shape name -> contours in unit coordinates (about -1..1); more than one contour makes holes.
SHAPES: dict[str, list[np.ndarray]] = {
    "circle": [_regular(48)],
    "square": [np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]])],
    "triangle": [_regular(3) + [0, 0.2]],
    "cross": [np.array([[-_ARM, -1], [_ARM, -1], [_ARM, -_ARM], [1, -_ARM], [1, _ARM], [_ARM, _ARM],
                        [_ARM, 1], [-_ARM, 1], [-_ARM, _ARM], [-1, _ARM], [-1, -_ARM], [-_ARM, -_ARM]])],
    "star": [_star()],
    "ring": [_regular(48), _regular(48, 0.58)],
    "pentagon": [_regular(5)],
    "hexagon": [_regular(6)],
    "heart": [_heart()],
    "arrow": [np.array([[-1, -0.22], [0.15, -0.22], [0.15, -0.6], [1, 0], [0.15, 0.6], [0.15, 0.22],
                        [-1, 0.22]])],
}
SHAPES = {k: [_subdivide(c.astype(np.float64)) for c in v] for k, v in SHAPES.items()}
SHAPE_NAMES = tuple(SHAPES)

_SLIDERS = (
    ("noise", 0.08, "Gaussian pixel noise"),
    ("position", 0.5, "how far shapes wander from the centre"),
    ("scale", 0.5, "how much their size varies"),
    ("rotation", 1.0, "how much they turn (1 = any angle)"),
    ("viewpoint", 0.0, "perspective warp and foreshortening: all pixels change when the camera moves"),
    ("illumination", 0.0, "brightness, contrast, lighting gradient, sometimes dark on light"),
    ("deformation", 0.0, "smooth non-rigid bending of the outline"),
    ("occlusion", 0.0, "a blob hides part of the shape"),
    ("clutter", 0.0, "textured background with distractor strokes"),
)
#: The generator's options (stored in the project's ``data["options"]``), described as settings are.
OPTIONS = ParamSet((
    Param("classes", "names", ["circle", "square", "triangle", "cross", "star", "ring"], "the shapes to tell apart",
          choices=SHAPE_NAMES),
    Param("image_size", "int", 32, "side of the generated images, in pixels", min=8, max=512),
    Param("color", "bool", False, "coloured shapes on coloured backgrounds"),
    Param("count", "int", 6000, "how many images to generate", min=60, max=200000),
    *(Param(name, "float", default, doc, min=0.0, max=1.0) for name, default, doc in _SLIDERS),
))
#: Generator options and their defaults.
DEFAULT_OPTIONS: dict[str, Any] = OPTIONS.defaults()


class ShapesError(ValueError):
    """Generator options that cannot work; the message is for a person."""


def shape_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` over the defaults, checked: sliders clamped to 0..1, names validated."""
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    classes = [str(c) for c in opts["classes"]]
    unknown = [c for c in classes if c not in SHAPES]
    if unknown:
        raise ShapesError(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPE_NAMES)}")
    if len(classes) < 2:
        raise ShapesError("the shapes dataset needs at least two classes")
    if len(set(classes)) != len(classes):
        raise ShapesError("a shape is listed twice in the classes")
    opts["classes"] = classes
    opts["image_size"] = int(opts["image_size"])
    if not 8 <= opts["image_size"] <= 512:
        raise ShapesError(f"image size {opts['image_size']} is outside 8..512")
    opts["count"] = int(opts["count"])
    if opts["count"] < len(classes):
        raise ShapesError(f"{opts['count']} images are too few for {len(classes)} classes")
    opts["color"] = bool(opts["color"])
    for key in ("noise", "position", "scale", "rotation", *CHALLENGES):
        opts[key] = float(np.clip(float(opts[key]), 0.0, 1.0))
    return opts


class ShapesGenerator:
    """Draws the images of one shapes dataset; image ``i`` depends only on ``(seed, i)``."""

    def __init__(self, options: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.options = shape_options(options)
        self.seed = int(seed)
        self.classes: list[str] = self.options["classes"]
        self.size: int = self.options["image_size"]
        self.channels = 3 if self.options["color"] else 1
        n, k = self.options["count"], len(self.classes)
        # balanced classes in a seeded order
        self.labels = np.random.default_rng([self.seed, 0x5EED]).permutation(np.arange(n) % k).astype(np.int64)
        yy, xx = np.mgrid[0:self.size, 0:self.size].astype(np.float32)
        self._grid = ((xx / self.size) - 0.5, (yy / self.size) - 0.5)

    def __len__(self) -> int:
        return self.options["count"]

    def images(self, start: int = 0, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images ``start .. start+count`` as uint8 (N, S, S, C) and their labels (N,)."""
        stop = len(self) if count is None else min(len(self), start + count)
        out = np.empty((max(0, stop - start), self.size, self.size, self.channels), np.uint8)
        for j, i in enumerate(range(start, stop)):
            out[j] = self.render(i)
        return out, self.labels[start:stop].copy()

    def render(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 (S, S, C)."""
        o, s = self.options, self.size
        rng = np.random.default_rng([self.seed, int(index)])
        fg, bg = self._colours(rng)
        img = np.empty((s, s, self.channels), np.float32)
        img[:] = bg
        if o["clutter"] > 0:
            self._add_clutter(img, rng, fg, bg)
        mask = np.zeros((s, s), np.uint8)
        pose = self._pose(rng)
        contours = [self._place(c, pose) for c in SHAPES[self.classes[self.labels[index]]]]
        cv2.fillPoly(mask, contours, 255, cv2.LINE_AA, _SHIFT)
        alpha = mask.astype(np.float32)[:, :, None] / 255.0
        img += alpha * (fg - img)
        if o["occlusion"] > 0 and rng.random() < 0.35 + 0.65 * o["occlusion"]:
            self._add_occluder(img, rng)
        if o["illumination"] > 0:
            self._light(img, rng)
        if o["noise"] > 0:
            img += rng.normal(0.0, 0.25 * o["noise"], img.shape).astype(np.float32)
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    # -- parts of one image ---------------------------------------------------------
    def _colours(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Shape and background colours (0..1) with enough contrast to see the shape."""
        if self.channels == 1:
            fg, bg = rng.uniform(0.65, 1.0), rng.uniform(0.0, 0.3)
            if rng.random() < 0.5 * self.options["illumination"]:
                fg, bg = bg, fg  # dark shape on a light ground
            return np.float32([fg]), np.float32([bg])
        while True:
            fg, bg = rng.uniform(0, 1, 3).astype(np.float32), rng.uniform(0, 1, 3).astype(np.float32)
            if abs(fg.mean() - bg.mean()) > 0.3 or np.abs(fg - bg).max() > 0.55:
                return fg, bg

    def _pose(self, rng: np.random.Generator) -> dict[str, Any]:
        """This image's random pose and distortions, shared by all contours of its shape."""
        o, s = self.options, self.size
        radius = 0.3 * s * (1.0 + o["scale"] * rng.uniform(-0.45, 0.2))
        reach = max(0.0, 0.5 * s - radius * 1.05)
        pose = {
            "theta": rng.uniform(-np.pi, np.pi) * o["rotation"],
            "radius": radius,
            "centre": 0.5 * s + rng.uniform(-1, 1, 2) * reach * o["position"],
            "bend": (rng.uniform(1.5, 3.5, 2), rng.uniform(0, 2 * np.pi, 2)),
            "homography": None,
        }
        if o["viewpoint"] > 0:
            v = o["viewpoint"]
            corners = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]])
            moved = corners + rng.uniform(-0.35 * v, 0.35 * v, (4, 2)).astype(np.float32)
            pose["homography"] = cv2.getPerspectiveTransform(corners, moved)
        return pose

    def _place(self, contour: np.ndarray, pose: dict[str, Any]) -> np.ndarray:
        """Unit contour -> fixed-point pixel polygon in ``pose``."""
        pts = contour
        if self.options["deformation"] > 0:
            (f, ph), amp = pose["bend"], 0.22 * self.options["deformation"]
            pts = pts + amp * np.stack([np.sin(f[0] * pts[:, 1] + ph[0]), np.sin(f[1] * pts[:, 0] + ph[1])], 1)
        c, sn = np.cos(pose["theta"]), np.sin(pose["theta"])
        pts = pts @ np.array([[c, sn], [-sn, c]])
        if pose["homography"] is not None:
            homog = np.c_[pts, np.ones(len(pts))] @ pose["homography"].T
            pts = homog[:, :2] / homog[:, 2:3]
        pts = pts * pose["radius"] + pose["centre"] - 0.5
        return np.round(pts * (1 << _SHIFT)).astype(np.int32)

    def _add_clutter(self, img: np.ndarray, rng: np.random.Generator, fg: np.ndarray, bg: np.ndarray) -> None:
        """A smooth texture and distractor strokes behind the shape."""
        v, s = self.options["clutter"], self.size
        texture = cv2.resize(rng.uniform(-1, 1, (4, 4, self.channels)).astype(np.float32), (s, s),
                             interpolation=cv2.INTER_CUBIC).reshape(s, s, self.channels)
        img += 0.25 * v * texture
        for _ in range(int(round(v * rng.uniform(2, 7)))):
            colour = tuple(float(x) for x in (bg + (fg - bg) * rng.uniform(0.3, 0.9)))
            p1, p2 = rng.uniform(0, s, 2), rng.uniform(0, s, 2)
            thick = max(1, int(round(s / 32 * rng.uniform(0.7, 1.6))))
            if rng.random() < 0.6:
                cv2.line(img, tuple(int(x) for x in p1), tuple(int(x) for x in p2), colour, thick, cv2.LINE_AA)
            else:
                cv2.circle(img, tuple(int(x) for x in p1), int(rng.uniform(0.04, 0.12) * s), colour, thick, cv2.LINE_AA)

    def _add_occluder(self, img: np.ndarray, rng: np.random.Generator) -> None:
        """A blob of random colour over part of the image centre, where the shape usually is."""
        v, s = self.options["occlusion"], self.size
        centre = tuple(int(x) for x in rng.uniform(0.25 * s, 0.75 * s, 2))
        axes = tuple(int(x) for x in rng.uniform(0.08, 0.1 + 0.22 * v, 2) * s)
        colour = tuple(float(x) for x in rng.uniform(0, 1, self.channels))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)

    def _light(self, img: np.ndarray, rng: np.random.Generator) -> None:
        """Brightness, contrast and a lighting gradient across the image."""
        v = self.options["illumination"]
        xx, yy = self._grid
        angle = rng.uniform(0, 2 * np.pi)
        gradient = 1.0 + 1.2 * v * rng.uniform(0.3, 1.0) * (np.cos(angle) * xx + np.sin(angle) * yy)
        contrast = 1.0 - 0.55 * v * rng.random()
        gain = 1.0 + v * rng.uniform(-0.5, 0.3)
        mean = img.mean()
        img -= mean
        img *= contrast
        img += mean
        img *= (gain * gradient)[:, :, None]


def generate(options: dict[str, Any] | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The whole dataset: uint8 images (N, S, S, C), int labels (N,) and the class names."""
    gen = ShapesGenerator(options, seed)
    x, y = gen.images()
    return x, y, list(gen.classes)
