"""cnnstudio: a desktop lab for building, training and probing convolutional neural networks."""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped resources (example projects, icons, style sheets).
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
