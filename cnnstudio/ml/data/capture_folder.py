"""Frames saved into an image-folder dataset: one sub-folder per class under a root.

That is the layout :func:`cnnstudio.ml.data.sources.load_folder` reads, so a folder filled
here can be trained on at once (the project's data source ``{"kind": "folder", "path": root}``).
Counts are kept in memory after one scan, so saving many frames a second stays cheap.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import cv2
import numpy as np

from cnnstudio.ml.data.sources import IMAGE_SUFFIXES

#: Where deleted frames go, inside the dataset root, so that an undo can bring them back; its
#: leading dot keeps it out of the classes (``load_folder`` and the counts skip dot folders).
TRASH = ".trash"

_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


class CaptureError(ValueError):
    """A class name or folder that cannot be used; the message is for a person."""


def check_class_name(name: str) -> str:
    """``name`` stripped, or :class:`CaptureError` if it cannot be a folder name."""
    name = str(name).strip()
    if not name:
        raise CaptureError("type a class name")
    if name.startswith(".") or _BAD_NAME.search(name):
        raise CaptureError(f"{name!r} cannot be a folder name: no leading dot and none of \\ / : * ? \" < > |")
    return name


class DatasetWriter:
    """Saves frames as JPEG files into ``root/<class>/`` and counts the images per class."""

    def __init__(self, root: str | os.PathLike, quality: int = 95) -> None:
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot use {self.root} as a dataset folder: {exc.strerror or exc}") from None
        self.quality = quality
        self._counts = {d.name: _count_images(d) for d in sorted(self.root.iterdir())
                        if d.is_dir() and not d.name.startswith(".")}

    @property
    def classes(self) -> list[str]:
        """Class folders, sorted (the label order training will use)."""
        return sorted(self._counts)

    def counts(self) -> dict[str, int]:
        """Class -> images in its folder."""
        return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        """Images in all classes."""
        return sum(self._counts.values())

    def add_class(self, name: str) -> str:
        """Create the class folder (if new); returns the checked name."""
        name = check_class_name(name)
        try:
            (self.root / name).mkdir(exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot create {self.root / name}: {exc.strerror or exc}") from None
        self._counts.setdefault(name, 0)
        return name

    def save(self, image_rgb: np.ndarray, class_name: str) -> Path:
        """Write one RGB uint8 frame into the class folder; returns the file."""
        name = self.add_class(class_name)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.root / name / f"{name}_{stamp}_{self._counts[name]:05d}.jpg"
        while path.exists():  # several saves within one second
            path = path.with_name(f"{path.stem}x.jpg")
        bgr = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
            raise CaptureError(f"cannot write {path} (disk full or no permission?)")
        self._counts[name] += 1
        return path

    def files(self, class_name: str) -> list[Path]:
        """The images of one class, sorted (capture order: the names carry the time and count)."""
        folder = self.root / class_name
        return sorted(Path(d) / f for d, _sub, names in os.walk(folder) for f in names
                      if f.lower().endswith(IMAGE_SUFFIXES))

    def trash(self, path: Path) -> Path:
        """Move one image of a class into the trash folder (kept for an undo); returns where it went."""
        path = Path(path)
        class_name = path.relative_to(self.root).parts[0]
        target = self.root / TRASH / path.relative_to(self.root)
        while target.exists():  # deleted, restored and deleted again
            target = target.with_name(f"{target.stem}x{target.suffix}")
        self._move(path, target)
        self._counts[class_name] -= 1
        return target

    def restore(self, trashed: Path, path: Path) -> None:
        """Put back an image :meth:`trash` moved away."""
        self._move(Path(trashed), Path(path))
        class_name = Path(path).relative_to(self.root).parts[0]
        self._counts[class_name] = self._counts.get(class_name, 0) + 1

    @staticmethod
    def _move(src: Path, dst: Path) -> None:
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        except OSError as exc:
            raise CaptureError(f"cannot move {src} to {dst}: {exc.strerror or exc}") from None

    def data_source(self) -> dict:
        """The project ``data`` entries that train on this folder."""
        return {"kind": "folder", "path": str(self.root)}


def _count_images(folder: Path) -> int:
    return sum(1 for _dir, _sub, files in os.walk(folder) for f in files if f.lower().endswith(IMAGE_SUFFIXES))
