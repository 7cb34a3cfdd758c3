"""Training images from a NumPy ``.npz`` file, checked before they are read.

An ``.npz`` file is a zip of ``.npy`` arrays, each with a header that declares its type and
shape. Those headers are read first, so that a file declaring an array of strings, objects
(never unpickled: ``allow_pickle`` stays off) or a hundred gigabytes of zeros is refused in one
line naming the array, before anything is decompressed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cnnstudio.core.settings import DataSource
from cnnstudio.ml.data.sources import DataError, Part, RawData

#: The most an npz file may declare in all its arrays (decoded, as stored).
MAX_BYTES = 4 * 2 ** 30
#: The most classes numbered labels may imply when the file names none.
MAX_CLASSES = 100_000


def _declared(zf: zipfile.ZipFile, member: str, where: str) -> tuple[tuple, np.dtype]:
    """The shape and dtype an ``.npy`` member declares in its header."""
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _fortran, dtype = read(f)
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects, which are never read (only numbers)")
    if dtype.kind not in ("biufUS" if member == "classes.npy" else "biuf"):  # only class names may be text
        raise DataError(f"{where} holds {dtype} values; expected numbers")
    return shape, dtype


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of the file, after checking what their headers declare."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if m.endswith(".npy")]
            total = 0
            for m in members:
                shape, dtype = _declared(zf, m, f"{path.name}: {m[:-4]}")
                total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if total > MAX_BYTES:
                raise DataError(f"{path.name} declares {total / 2 ** 20:,.1f} MB of arrays; the limit is "
                                f"{MAX_BYTES // 2 ** 20:,} MB")
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except DataError:
        raise
    except Exception as exc:  # BadZipFile, ValueError, OSError, EOFError: all mean "not a usable npz"
        raise DataError(f"cannot read {path.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _as_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    """Arrays of images (N, H, W) / (N, H, W, C) of any number type -> uint8 0..255."""
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3, 4)) or 0 in x.shape[1:]:
        raise DataError(f"{where} has shape {x.shape}; expected images (N, H, W) or (N, H, W, 1|3)")
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    finite = x[np.isfinite(x)]
    if finite.size and float(finite.max()) <= 1.0:
        x = x * 255.0  # float images in 0..1
    return np.clip(np.nan_to_num(x), 0, 255).round().astype(np.uint8)


def _as_labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)  # one-hot
    elif y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise DataError(f"{where} has shape {y.shape}; expected one class number per image, or one-hot rows")
    y = y.reshape(-1)
    if len(y) != n:
        raise DataError(f"{where}: {len(y)} labels for {n} images")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.isfinite(y) & np.equal(np.mod(y, 1), 0)):
        raise DataError(f"{where}: labels must be class numbers (integers) or one-hot rows")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise DataError(f"{where}: negative label {y.min()}")
    return y


def _class_names(arrays: dict[str, np.ndarray], n_classes: int, name: str) -> list[str]:
    """The file's ``classes`` (a list of names or numbers), or ``0``, ``1``... for as many as the labels need."""
    if "classes" not in arrays:
        if n_classes > MAX_CLASSES:
            raise DataError(f"{name}: labels go up to {n_classes - 1}; name the classes in an array 'classes' "
                            f"(at most {MAX_CLASSES} unnamed)")
        return [str(i) for i in range(n_classes)]
    names = arrays["classes"]
    if names.ndim != 1:
        raise DataError(f"{name}: classes has shape {names.shape}; expected a list of names")
    if len(names) < n_classes:
        raise DataError(f"{name}: {len(names)} class names but labels go up to {n_classes - 1}")
    return [str(c) for c in names]


def load_npz(data: DataSource) -> RawData:
    """A NumPy ``.npz`` with ``x``/``y`` or ``x_train``/``y_train`` (+ ``x_val``, ``x_test``...) and
    optional ``classes`` (names)."""
    path = Path(data.path).expanduser()
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist" if data.path.strip()
                        else "npz: choose a .npz file with arrays x and y (or x_train, y_train)")
    arrays = _read_arrays(path)
    parts: dict[str, Part] = {}
    for part, suffixes in (("all", ("",)), ("train", ("_train",)), ("val", ("_val", "_valid")), ("test", ("_test",))):
        for sfx in suffixes:
            if f"x{sfx}" in arrays and f"y{sfx}" in arrays:
                x = _as_uint8_images(arrays[f"x{sfx}"], f"{path.name}: x{sfx}")
                parts[part] = Part(_as_labels(arrays[f"y{sfx}"], len(x), f"{path.name}: y{sfx}"), x)
    if "all" in parts and "train" in parts:
        del parts["train"]
    if "all" not in parts and "train" not in parts:
        raise DataError(f"{path.name} needs arrays x and y, or x_train and y_train (has: {', '.join(arrays)})")
    if not any(len(p) for p in parts.values()):
        raise DataError(f"{path.name} holds no images (its arrays are empty)")
    n_classes = 1 + max(int(p.labels.max()) for p in parts.values() if len(p))
    classes = _class_names(arrays, n_classes, path.name)
    total = sum(len(p) for p in parts.values())
    return RawData(classes, parts, f"{total} images from {path.name}")
