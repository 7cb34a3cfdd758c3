"""Frame sources behind one interface: cameras, a video file, an image file, a folder, the demo.

Every source has ``read() -> (ok, frame)`` with ``frame`` an RGB uint8 (H, W, 3) array
(OpenCV's BGR is converted here, once), ``release()``, and the properties ``name``,
``kind``, ``frame_size`` (width, height), ``fps`` and ``live`` (a camera paces itself;
files, folders and the demo are paced by the capture thread). A source that cannot be
opened raises :class:`SourceError` with a message for a person. The capture thread that
reads them, :class:`FrameGrabber`, lives in :mod:`cnnstudio.ml.live.grabber` and is
re-exported here.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from cnnstudio.ml.live.grabber import (CaptureEvent, Frame, FrameGrabber, RateMeter,  # noqa: F401 (the capture thread)
                             preprocess_on_capture)
from cnnstudio.ml.data.sources import IMAGE_SUFFIXES
from cnnstudio.ml.data.sources import read_image as read_image_file

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
#: Resolutions and frame rates offered for cameras and the demo (a camera may pick the nearest it has).
RESOLUTIONS = [(320, 240), (640, 480), (800, 600), (1280, 720), (1920, 1080)]
FRAME_RATES = [10, 15, 24, 30, 60]


class SourceError(Exception):
    """A source that cannot be opened or read; the message is for a person."""


class FrameSource:
    """The interface every source implements."""

    kind = "source"
    live = False      # True when reads block at the device's own rate (cameras)
    settable = False  # True when resolution and frame rate can be chosen

    def __init__(self, name: str) -> None:
        self.name = name
        self.ended = False  # True once a finite source has no more frames

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        raise NotImplementedError

    @property
    def fps(self) -> float:
        """Nominal frames per second."""
        return 30.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame: ``(True, RGB uint8 array)`` or ``(False, None)``."""
        raise NotImplementedError

    def set_format(self, width: int | None = None, height: int | None = None,
                   fps: float | None = None) -> tuple[int, int, float]:
        """Ask for a resolution and frame rate; returns what the source actually gives."""
        w, h = self.frame_size
        return w, h, self.fps

    def release(self) -> None:
        """Free the device or file."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _bgr_to_rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class _CvCapture(FrameSource):
    """A source on ``cv2.VideoCapture`` (cameras and video files); OpenCV gives BGR."""

    def __init__(self, name: str, cap: cv2.VideoCapture) -> None:
        super().__init__(name)
        self.cap = cap

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    @property
    def fps(self) -> float:
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        return float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else 30.0

    def release(self) -> None:
        self.cap.release()


class CameraSource(_CvCapture):
    """A camera by index (0 is the first one)."""

    kind = "camera"
    live = True
    settable = True

    def __init__(self, index: int, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        with _quiet_opencv():
            cap = cv2.VideoCapture(int(index))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"Camera {index} cannot be opened: it is unplugged, or another program uses it.")
        super().__init__(f"Camera {index}", cap)
        self.index = int(index)
        self.set_format(width, height, fps)

    def set_format(self, width=None, height=None, fps=None) -> tuple[int, int, float]:
        if width and height:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, float(fps))
        w, h = self.frame_size
        return w, h, self.fps

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, img = self.cap.read()
        return (True, _bgr_to_rgb(img)) if ok and img is not None else (False, None)


class _quiet_opencv:
    """Silence OpenCV's warnings while probing devices that may not exist."""

    def __enter__(self) -> None:
        self.level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

    def __exit__(self, *exc) -> None:
        cv2.utils.logging.setLogLevel(self.level)


@dataclass(frozen=True)
class CameraInfo:
    """A camera found by :func:`list_cameras`."""

    index: int
    width: int
    height: int

    @property
    def label(self) -> str:
        """``'Camera 0 (640x480)'``."""
        return f"Camera {self.index} ({self.width}x{self.height})"


def list_cameras(max_index: int = 4) -> list[CameraInfo]:
    """The cameras that open, probing indices ``0..max_index`` (empty when there are none).

    On Linux an index without a ``/dev/videoN`` node is skipped without asking OpenCV,
    so the probe takes milliseconds on a machine with no camera.
    """
    found = []
    for index in range(max_index + 1):
        if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{index}"):
            continue
        try:
            cam = CameraSource(index)
        except SourceError:
            continue
        w, h = cam.frame_size
        cam.release()
        found.append(CameraInfo(index, w, h))
    return found


class VideoFileSource(_CvCapture):
    """A video file; plays in a loop, or ends (``ended`` becomes True)."""

    kind = "video"

    def __init__(self, path: str | os.PathLike, loop: bool = True) -> None:
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such video file.")
        with _quiet_opencv():
            cap = cv2.VideoCapture(str(path))
        ok = cap.isOpened() and cap.read()[0]
        if not ok:
            cap.release()
            raise SourceError(f"{path.name} cannot be read as a video (unknown format or damaged file).")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        super().__init__(path.name, cap)
        self.path, self.loop = path, loop

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, img = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
        if not ok or img is None:
            self.ended = True
            return False, None
        return True, _bgr_to_rgb(img)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); raises :class:`SourceError` when it cannot be decoded."""
    img = read_image_file(str(path))
    if img is None:
        raise SourceError(f"{Path(path).name} cannot be read as an image.")
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else img


class _StillSource(FrameSource):
    """A source that holds a still picture (``self.image``) and gives it at a set rate."""

    def __init__(self, name: str, fps: float) -> None:
        super().__init__(name)
        self._fps = fps
        self.image: np.ndarray | None = None

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def fps(self) -> float:
        return self._fps


class ImageFileSource(_StillSource):
    """One still image, given again at every read (so probes on it stay live)."""

    kind = "image"

    def __init__(self, path: str | os.PathLike, fps: float = 15.0) -> None:
        super().__init__(Path(path).name, fps)
        self.path = Path(path)
        self.image = read_image(path)
        self.image.flags.writeable = False  # every read hands out this same array

    def read(self) -> tuple[bool, np.ndarray | None]:
        return True, self.image


class FolderSource(_StillSource):
    """The images of a folder (sorted, sub-folders included) in a cycle, each shown for a while.

    Unreadable files are skipped and listed in ``skipped``; a folder without one readable
    image raises :class:`SourceError`.
    """

    kind = "folder"

    def __init__(self, path: str | os.PathLike, seconds_per_image: float = 1.0, fps: float = 15.0) -> None:
        path = Path(path)
        super().__init__(path.name or str(path), fps)
        if not path.is_dir():
            raise SourceError(f"{path}: no such folder.")
        self.files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        self.skipped: list[Path] = []
        self.reads_per_image = max(1, round(seconds_per_image * fps))
        self._reads, self._pos = 0, -1
        self.image = self._next_image()

    def _next_image(self) -> np.ndarray:
        for _ in range(len(self.files)):
            self._pos = (self._pos + 1) % len(self.files)
            try:
                return read_image(self.files[self._pos])
            except SourceError:
                self.skipped.append(self.files.pop(self._pos))
                self._pos -= 1
                if not self.files:
                    break
        raise SourceError(f"{self.name}: the folder holds no readable image "
                          f"({', '.join(IMAGE_SUFFIXES)}).")

    @property
    def current_file(self) -> Path:
        """The file shown now."""
        return self.files[self._pos]

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._reads and self._reads % self.reads_per_image == 0:
            try:
                self.image = self._next_image()
            except SourceError:
                return False, None
        self._reads += 1
        return True, self.image


#: Bright shape colours on a dark ground: in grey they read like the shapes dataset's light-on-dark images.
_DEMO_COLOURS = [(255, 214, 64), (92, 230, 255), (255, 150, 205), (170, 255, 120), (255, 255, 255), (255, 170, 90)]


class DemoSource(FrameSource):
    """Generated moving shapes, like the default dataset's: the live view without a camera.

    One shape at a time (the outlines of :mod:`cnnstudio.ml.data.generated_shapes`) glides, turns and
    breathes over a dark ground; every ``seconds_per_shape`` the next class comes on.
    The motion follows the frame count, so the same seed gives the same film.
    """

    kind = "demo"
    settable = True
    #: Square sizes first: the shapes dataset is square, so a stretched frame keeps the shapes' proportions.
    RESOLUTIONS = [(256, 256), (480, 480), (640, 480), (1280, 720)]

    def __init__(self, width: int = 480, height: int = 480, fps: float = 30.0, seed: int = 0,
                 classes: list[str] | None = None, seconds_per_shape: float = 3.0) -> None:
        from cnnstudio.ml.data.generated_shapes import DEFAULT_OPTIONS, SHAPES

        super().__init__("Demo (moving shapes)")
        self._outlines = SHAPES
        self.classes = [c for c in (classes or []) if c in SHAPES] or list(DEFAULT_OPTIONS["classes"])
        self._fps, self.seconds_per_shape = float(fps), seconds_per_shape
        rng = np.random.default_rng(seed)
        self._order = rng.permutation(len(self.classes) * 4) % len(self.classes)
        self._phase = rng.uniform(0, 2 * np.pi, 3)
        self.frame_number = 0
        self.set_format(width, height)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._backgrounds[0].shape[1], self._backgrounds[0].shape[0]

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def current_class(self) -> str:
        """The shape on screen now (the demo's ground truth)."""
        return self.classes[self._order[self._shape_number % len(self._order)]]

    @property
    def _shape_number(self) -> int:
        return int(self.frame_number / (self.seconds_per_shape * 30.0))

    def set_format(self, width=None, height=None, fps=None) -> tuple[int, int, float]:
        if width and height:
            w, h = max(32, int(width)), max(32, int(height))
            rng = np.random.default_rng(w * 7919 + h)
            ramp = np.linspace(18, 46, h, dtype=np.float32)[:, None, None] * np.float32([0.8, 0.9, 1.4])
            # a few noisy grounds in turn: the sensor noise of a camera, at no cost per frame
            self._backgrounds = [np.clip(ramp + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
                                 for _ in range(4)]
        if fps:
            self._fps = float(fps)
        w, h = self.frame_size
        return w, h, self._fps

    def read(self) -> tuple[bool, np.ndarray | None]:
        # motion in "demo seconds" (30 frames each), so the film looks the same at any frame rate
        t, n = self.frame_number / 30.0, self._shape_number
        frame = self._backgrounds[self.frame_number % len(self._backgrounds)].copy()
        h, w = frame.shape[:2]
        side = min(w, h)
        a, b, c = self._phase
        centre = np.array([w / 2 + 0.16 * side * np.sin(0.9 * t + a + n), h / 2 + 0.14 * side * np.sin(1.3 * t + b + 2 * n)])
        radius = 0.27 * side * (1.0 + 0.1 * np.sin(1.7 * t + c))
        theta = 0.5 * t + 1.3 * n
        rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        contours = [np.round((outline @ rot * radius + centre) * 16).astype(np.int32)
                    for outline in self._outlines[self.current_class]]
        cv2.fillPoly(frame, contours, _DEMO_COLOURS[n % len(_DEMO_COLOURS)], cv2.LINE_AA, 4)
        self.frame_number += 1
        return True, frame


def open_source(kind: str, target: str | int | None = None, **options) -> FrameSource:
    """A source by kind: ``camera`` (index), ``video``, ``image``, ``folder`` (path) or ``demo``."""
    makers: dict[str, Callable[..., FrameSource]] = {
        "camera": lambda: CameraSource(int(target or 0), **options),
        "video": lambda: VideoFileSource(target, **options),
        "image": lambda: ImageFileSource(target, **options),
        "folder": lambda: FolderSource(target, **options),
        "demo": lambda: DemoSource(**options),
    }
    if kind not in makers:
        raise SourceError(f"unknown source kind {kind!r}; choose one of {', '.join(makers)}")
    return makers[kind]()


def guess_kind(path: str | os.PathLike) -> str:
    """``folder``, ``image`` or ``video`` for a path, from what it is and its suffix."""
    p = Path(path)
    if p.is_dir():
        return "folder"
    return "image" if p.suffix.lower() in IMAGE_SUFFIXES else "video"
