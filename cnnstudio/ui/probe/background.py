"""Where the probe panel's images come from: files, dataset samples, demo and video frames.

Each is read on the panel's worker (a :class:`.requests.ProbeImage` fetches it there), so file
and video reading stay off the GUI thread; ``cnnstudio.ml`` is imported inside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Demo frames skipped per "next frame", so the shape visibly moves on.
DEMO_STEP = 20


def read_file(path: str) -> tuple[np.ndarray, str]:
    """An image file as RGB, and its name."""
    from cnnstudio.ml.probing.inputs import read_rgb

    return read_rgb(path), Path(path).name


class SampleCache:
    """Dataset samples by index; the dataset is opened once per data setting (on the worker)."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._samples = None

    def dataset(self, key: str, data):
        """The DatasetSamples of the data setting ``data`` (``key`` identifies it), opened once."""
        from cnnstudio.ml.probing.inputs import DatasetSamples

        if key != self._key:
            self._samples, self._key = DatasetSamples(data), key
        return self._samples

    def sample(self, key: str, data: dict, index: int) -> tuple[np.ndarray, str]:
        """Sample ``index`` of the dataset ``data`` (``key`` identifies the setting); (image, name)."""
        n = len(self.dataset(key, data))
        image, label = self._samples.sample(index)
        return image, f"sample {index % max(n, 1)} of {n}, a {label}"

    def clear(self) -> None:
        """Forget the open dataset (a new project)."""
        self._key = self._samples = None


class FrameReader:
    """Single frames of the demo film or a video file, read on demand (on the worker)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._source = None

    def read(self, kind: str, path: str | None, advance: bool) -> tuple[np.ndarray, str]:
        """The current frame of ``kind`` (``demo`` or ``video`` at ``path``), the next one if ``advance``."""
        from cnnstudio.ml.live.frame_sources import SourceError, open_source

        if (kind, path) != self._key or self._source is None:
            self.release()
            try:
                self._source = open_source(kind, path)
            except SourceError as exc:
                raise ValueError(str(exc)) from None
            self._key, self._frame, self._number = (kind, path), None, -1
        if self._frame is None or advance:
            for _ in range(DEMO_STEP if kind == "demo" and self._frame is not None else 1):
                ok, frame = self._source.read()
                if not ok:
                    raise ValueError(f"{self._source.name} has no more frames")
                self._frame, self._number = frame, self._number + 1
        return self._frame, f"{self._source.name}, frame {self._number}"

    def release(self) -> None:
        """Close the open video (if any)."""
        if self._source is not None:
            self._source.release()
        self._source = self._key = None
