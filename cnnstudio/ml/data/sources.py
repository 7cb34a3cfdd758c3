"""Where training images come from: the shapes generator, image folders, ``keras.datasets``, ``.npz``.

Each loader returns a :class:`RawData`: class names, and the images either in memory
(uint8 arrays, any size) or as file paths (image folders, decoded later while streaming),
split into parts (``"all"``, or the source's own ``"train"``/``"val"``/``"test"``: a keras dataset's,
an npz file's, or an image folder's ``train/``, ``val/``, ``test/`` folders).
:mod:`cnnstudio.ml.data.datasets` splits, preprocesses and batches them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cnnstudio.core.settings import DATA, DataSource

from cnnstudio.ml.data.generated_shapes import ShapesError, ShapesGenerator
from cnnstudio.ml.data.image_header import decode_scale, declared_size, size_problem

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")

#: keras.datasets name -> (title, class names).
KERAS_CLASSES: dict[str, list[str]] = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "cifar100": [str(i) for i in range(100)],
}


class DataError(ValueError):
    """Data that cannot be loaded or does not fit; the message is for a person."""


@dataclass
class Part:
    """Labelled images of one part: uint8 arrays in memory, or file paths to stream."""

    labels: np.ndarray
    images: np.ndarray | None = None
    paths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Part":
        """The samples at ``index``, in that order."""
        return Part(self.labels[index],
                    None if self.images is None else self.images[index],
                    None if self.paths is None else self.paths[index])


@dataclass
class RawData:
    """What a source gives: class names, parts, files it skipped and a one-line description."""

    classes: list[str]
    parts: dict[str, Part]
    description: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def load_shapes(data: DataSource) -> RawData:
    """The generated shapes dataset from ``data.options`` and ``data.seed``."""
    try:
        gen = ShapesGenerator(data.options, seed=data.seed)
    except ShapesError as exc:
        raise DataError(f"shapes dataset: {exc}") from None
    images, labels = gen.images()
    colour = "colour" if gen.channels == 3 else "grey"
    return RawData(list(gen.classes), {"all": Part(labels, images)},
                   f"{len(labels)} generated {gen.size}x{gen.size} {colour} shapes")


#: Folder names of a dataset shipped already split (``train/``, ``val/``, ``test/``, each holding
#: the class folders), and the part each one is.
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test", "testing": "test"}


def load_folder(data: DataSource) -> RawData:
    """An image folder with one sub-folder per class, or split folders (``train/``, ``validation/``
    or ``val/``, ``test/``) that each hold the class folders; files are only listed here, not read.

    Split folders become the parts (a split that is missing is carved from ``train``, see
    ``datasets``). Files whose header is no image OpenCV can decode are skipped and listed;
    files that fail to decode later, while streaming, are skipped then (see ``datasets``).
    """
    root = Path(data.path).expanduser()
    if not data.path.strip():
        raise DataError("image folder: choose a folder (one sub-folder of images per class)")
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    splits = _split_folders(root)
    if splits is None:
        class_dirs = _sub_folders(root)
        if len(class_dirs) < 2:
            raise DataError(f"image folder {root} needs one sub-folder per class (found {len(class_dirs)})")
        classes = [d.name for d in class_dirs]
        splits = {"all": root}
    else:
        classes = [d.name for d in _sub_folders(splits["train"])]
        if len(classes) < 2:
            raise DataError(f"{splits['train']} needs one sub-folder per class (found {len(classes)})")
    parts, skipped = {}, []
    for part, folder in splits.items():
        parts[part] = _class_files(folder, classes, skipped)
        empty = [c for i, c in enumerate(classes) if not np.any(parts[part].labels == i)]
        if empty and part in ("all", "train"):  # a class to learn needs images; a test may lack one
            raise DataError(f"image folder {folder}: class folder(s) without images: {', '.join(empty)}")
    total = sum(len(p) for p in parts.values())
    if "all" in parts:
        return RawData(classes, parts, f"{total} images in {len(classes)} folders under {root}", skipped)
    given = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
    return RawData(classes, parts, f"{total} images of {len(classes)} classes under {root}, split as given: {given}",
                   skipped)


def _sub_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _split_folders(root: Path) -> dict[str, Path] | None:
    """``{part: folder}`` when every sub-folder of ``root`` is a split folder, one of them ``train``
    holding folders; else ``None`` (the sub-folders are classes)."""
    subs = _sub_folders(root)
    parts = {SPLIT_FOLDERS.get(d.name.lower()): d for d in subs}
    if None in parts or len(parts) != len(subs) or "train" not in parts or not _sub_folders(parts["train"]):
        return None
    return {part: parts[part] for part in ("train", "val", "test") if part in parts}


def _class_files(folder: Path, classes: list[str], skipped: list[tuple[str, str]]) -> Part:
    """The image files under ``folder``'s class folders, labelled by ``classes``; unreadable ones go to ``skipped``."""
    dirs = _sub_folders(folder)
    unknown = [d.name for d in dirs if d.name not in classes]
    if unknown:
        raise DataError(f"{folder}: class folder(s) {', '.join(unknown)} are not in the training classes "
                        f"({', '.join(classes)})")
    paths, labels = [], []
    for d in dirs:
        for dirpath, _dirs, files in os.walk(d):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                if not name.lower().endswith(IMAGE_SUFFIXES):
                    continue
                if not (cv2.haveImageReader(path) or name.lower().endswith(".gif")):  # GIF: see _first_frame
                    skipped.append((path, "not a readable image"))
                    continue
                too_large = size_problem(path)
                if too_large:
                    skipped.append((path, too_large))
                    continue
                paths.append(path)
                labels.append(classes.index(d.name))
    if not paths:
        raise DataError(f"image folder {folder} has no {'/'.join(s[1:] for s in IMAGE_SUFFIXES)} images in its "
                        f"class folders")
    return Part(np.asarray(labels, np.int64), paths=np.asarray(paths))


#: ``cv2.imread`` flags by decoding scale (see ``image_header.decode_scale``).
_DECODE_FLAGS = {1: cv2.IMREAD_UNCHANGED, 2: cv2.IMREAD_REDUCED_COLOR_2}


def read_image(path: str) -> np.ndarray | None:
    """A file as uint8 RGB (H, W, 3) or grey (H, W); None if it cannot be decoded. A GIF gives its first frame.

    Memory stays bounded: a picture whose header declares more than ``MAX_PIXELS`` is never
    decoded whole: a JPEG is decoded at half scale (libjpeg scales while it decodes),
    anything else gives None (see :func:`~cnnstudio.ml.data.image_header.size_problem`).
    """
    size = declared_size(path)
    scale = 1 if size is None else decode_scale(*size)
    if scale is None:
        return None
    try:
        img = cv2.imread(path, _DECODE_FLAGS[scale])
    except cv2.error:  # OpenCV's own size cap (an image whose header we could not parse) raises
        return None
    if img is None and path.lower().endswith(".gif"):
        img = _first_frame(path)
    if img is None or img.size == 0:
        return None
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1.0, float(img.max())))
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _first_frame(path: str) -> np.ndarray | None:
    """A GIF's first frame (BGR) through FFmpeg, for an OpenCV built without its own GIF decoder."""
    capture = cv2.VideoCapture(path)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    return frame if ok else None


def load_keras(data: DataSource) -> RawData:
    """A ``keras.datasets`` set; its own test split is kept. Needs the internet the first time."""
    import keras

    name = data.name
    title, classes = DATA.get("name").title(name), KERAS_CLASSES[name]
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # URLError, OSError, ValueError...: keras wraps download failures variously
        raise DataError(f"cannot download {title}: no internet connection? ({type(exc).__name__}: "
                        f"{str(exc)[:120]}). Use the shapes dataset, an image folder or an .npz file "
                        f"offline.") from None
    parts = {"train": Part(np.asarray(y_train).reshape(-1).astype(np.int64), np.asarray(x_train)),
             "test": Part(np.asarray(y_test).reshape(-1).astype(np.int64), np.asarray(x_test))}
    return RawData(list(classes), parts, f"{title}: {len(y_train)} training and {len(y_test)} test images")


from cnnstudio.ml.data.npz_source import load_npz  # noqa: E402 (it needs DataError, RawData and Part above)

LOADERS = {"shapes": load_shapes, "folder": load_folder, "keras": load_keras, "npz": load_npz}


def load_raw(data: DataSource) -> RawData:
    """Dispatch on ``data.kind`` (one of the schema's choices, each with its loader)."""
    return LOADERS[data.kind](data)
