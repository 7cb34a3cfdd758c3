"""cnnstudio: a desktop lab for building, training and probing convolutional neural networks."""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped resources (example projects, icons, style sheets). In the source tree
#: ``cnnstudio/resources`` is a link to the top-level ``resources/`` (so that setuptools installs
#: it as package data); a checkout without links (Windows) has the folder itself beside.
_HERE = Path(__file__).resolve().parent
RESOURCES = (_HERE / "resources" if (_HERE / "resources").is_dir() else _HERE.parent / "resources").resolve()
