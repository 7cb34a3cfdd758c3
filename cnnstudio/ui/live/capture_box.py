"""Capture frames into an image-folder dataset, then train on it: the Live page's dataset box.

Pick or create a class, then press Space (or the button) to save the frame in view; hold
it to keep saving a few frames a second. The counts per class show as you go. "Train on
these" points the project's data at the folder and opens the Training page, so the whole
loop (capture, train, classify live) runs: with the user's own network, or, as "Learn with"
chooses, by transfer learning from a backbone (the project's latest trained model, a model
file, or a small ``keras.applications`` network with ImageNet weights) whose layers stay
frozen under a new head for the captured classes. A few dozen frames a class are then enough.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout)

from cnnstudio.ml.data.capture_folder import CaptureError, DatasetWriter

from cnnstudio.ui.live.capture_review import CaptureReview


def default_root(project) -> Path:
    """The project's image folder when it trains on one, else ``~/cnnstudio-captures/<project>``."""
    if project.data.kind == "folder" and project.data.path:
        return Path(project.data.path).expanduser()
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in project.name).strip("-") or "captures"
    return Path.home() / "cnnstudio-captures" / slug


#: ``keras.applications`` networks offered as backbones: small enough to train a head on a
#: laptop's CPU. Their ImageNet weights download once (keras keeps them in ~/.keras).
APPLICATION_BACKBONES = ("MobileNetV2", "MobileNetV3Small", "EfficientNetB0")
#: The input size they are built at: the smallest MobileNetV2 has ImageNet weights for.
APPLICATION_INPUT = (96, 96, 3)
OWN, TRAINED, FILE = "own", "trained", "file"


class DatasetCaptureBox(QGroupBox):
    """Class list with counts, new-class entry, hold-to-capture, "Learn with" and "Train on these"."""

    #: ``(dataset folder, backbone)``: backbone ``""`` trains the user's own network; else a model
    #: file's path or a ``keras.applications`` name to transfer from
    train_requested = Signal(str, str)
    message = Signal(str)           # for the panel's message line

    def __init__(self, grab_image, parent=None) -> None:
        """``grab_image() -> (frame index, RGB uint8 image) | None``: the frame in view now."""
        super().__init__("Capture into a dataset", parent)
        self.grab_image = grab_image
        self.writer: DatasetWriter | None = None
        self.root: Path | None = None
        self._last_saved = -1
        self.folder_label = QLabel("", self)
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        folder_button = QPushButton("Folder…", self)
        folder_button.clicked.connect(self._on_folder_clicked)
        self.class_list = QListWidget(self)
        self.class_list.setMaximumHeight(120)
        self.class_list.currentItemChanged.connect(self._on_class_list_current_changed)
        #: the selected class's frames as thumbnails, to delete bad ones (undoably) before training
        self.review = CaptureReview(self)
        self.review.changed.connect(self._refresh)
        self.review.message.connect(self.message)
        self.new_class = QLineEdit(self)
        self.new_class.setPlaceholderText("new class name")
        self.new_class.returnPressed.connect(self._on_add_clicked)
        add = QPushButton("Add", self)
        add.clicked.connect(self._on_add_clicked)
        self.capture_button = QPushButton("Capture  (hold Space)", self)
        self.capture_button.setToolTip("Click to save the frame in view; hold to keep saving frames")
        self.capture_button.pressed.connect(self.begin_capture)
        self.capture_button.released.connect(self.end_capture)
        self.rate = QSpinBox(self, minimum=1, maximum=30, value=5, suffix=" frames/s while held")
        self.learn = QComboBox(self)
        self.learn.setToolTip("Train your own network on the frames, or keep a trained network's layers "
                              "(frozen) and train only a new head for these classes: transfer learning")
        self.learn.addItem("Your network (the editor's)", (OWN, ""))
        self._trained_path = ""
        self.learn.addItem("Transfer: the latest trained model", (TRAINED, ""))
        self.learn.addItem("Transfer: a model file…", (FILE, ""))
        for name in APPLICATION_BACKBONES:
            self.learn.addItem(f"Transfer: {name} (ImageNet weights, downloads once)", (name, name))
        self.learn.activated.connect(self._on_learn_activated)
        self.set_trained_model(None)
        self.train_button = QPushButton("Train on these", self)
        self.train_button.clicked.connect(self._on_train_clicked)
        self._hold = QTimer(self)
        self._hold.timeout.connect(self.save_frame)

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(folder_button)
        lay.addLayout(row)
        lay.addWidget(self.class_list)
        lay.addWidget(self.review, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_class, 1)
        row.addWidget(add)
        lay.addLayout(row)
        lay.addWidget(self.capture_button)
        lay.addWidget(self.rate)
        row = QHBoxLayout()
        row.addWidget(QLabel("Learn with", self))
        row.addWidget(self.learn, 1)
        lay.addLayout(row)
        lay.addWidget(self.train_button)

    # -- folder and classes ---------------------------------------------------------
    def set_root(self, root: str | Path, create: bool = False) -> None:
        """Use ``root`` as the dataset folder (created on the first save, or now with ``create``)."""
        self.root = Path(root).expanduser()
        self.writer = None
        if create or self.root.is_dir():
            self._open_writer()
        self.folder_label.setText(str(self.root))
        self._refresh()

    def _open_writer(self) -> bool:
        if self.writer is None and self.root is not None:
            try:
                self.writer = DatasetWriter(self.root)
            except CaptureError as exc:
                self.message.emit(str(exc))
                return False
        return self.writer is not None

    def _on_folder_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder (one sub-folder per class)",
                                                str(self.root or Path.home()))
        if path:
            self.set_root(path, create=True)

    @property
    def current_class(self) -> str | None:
        """The selected class."""
        item = self.class_list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def add_class(self, name: str) -> bool:
        """Create class ``name`` (a folder) and select it; False with a message if it cannot be."""
        if not self._open_writer():
            return False
        try:
            name = self.writer.add_class(name)
        except CaptureError as exc:
            self.message.emit(str(exc))
            return False
        self._refresh(select=name)
        return True

    def _on_class_list_current_changed(self, *_items) -> None:
        self.review.show_class(self.writer, self.current_class)

    def _on_add_clicked(self) -> None:
        if self.add_class(self.new_class.text()):
            self.new_class.clear()

    def counts(self) -> dict[str, int]:
        """Class -> saved images."""
        return self.writer.counts() if self.writer is not None else {}

    def _refresh(self, select: str | None = None) -> None:
        select = select or self.current_class
        with QSignalBlocker(self.class_list):  # one review update below, not one per rebuilt row
            self.class_list.clear()
            for name, n in self.counts().items():
                item = QListWidgetItem(f"{name}    {n} image{'s' if n != 1 else ''}")
                item.setData(Qt.UserRole, name)
                self.class_list.addItem(item)
                if name == select:
                    self.class_list.setCurrentItem(item)
            if self.class_list.currentItem() is None and self.class_list.count():
                self.class_list.setCurrentRow(0)
        self.review.show_class(self.writer, self.current_class)
        ready = sum(1 for n in self.counts().values() if n) >= 2
        self.train_button.setEnabled(ready)
        self.train_button.setToolTip("" if ready else "Capture images of at least two classes first")

    # -- capturing ------------------------------------------------------------------
    def begin_capture(self) -> None:
        """Save the frame in view now, then keep saving while held."""
        self.save_frame()
        self._hold.start(int(1000 / self.rate.value()))

    def end_capture(self) -> None:
        """Stop saving (the key or button was let go)."""
        self._hold.stop()

    def save_frame(self) -> bool:
        """Save the frame in view into the selected class (a frame is saved once)."""
        name = self.current_class
        if name is None:
            self.end_capture()
            self.message.emit("Add a class first (type its name, press Add), then capture.")
            return False
        grabbed = self.grab_image()
        if grabbed is None or grabbed[0] == self._last_saved:
            return False
        shown = self.review.writer is self.writer and self.review.class_name == name  # else it reloads below
        try:
            path = self.writer.save(grabbed[1], name)
        except CaptureError as exc:
            self.end_capture()
            self.message.emit(str(exc))
            return False
        self._last_saved = grabbed[0]
        self._refresh(select=name)
        if shown:
            self.review.add_frame(path)
        return True

    # -- what to train --------------------------------------------------------------
    def set_trained_model(self, path: str | Path | None) -> None:
        """The project's latest trained model (``None``: none yet), offered as a backbone."""
        self._trained_path = str(path or "")
        index = self._index(TRAINED)
        item = self.learn.model().item(index)
        item.setEnabled(bool(path))
        item.setToolTip(str(path) if path else "Nothing trained yet: train on the Training page first")
        if not path and self.learn.currentIndex() == index:
            self.learn.setCurrentIndex(self._index(OWN))

    def set_backbone_file(self, path: str | Path) -> None:
        """Transfer from the model file ``path`` (what "a model file…" asks for)."""
        index = self._index(FILE)
        self.learn.setItemData(index, (FILE, str(path)))
        self.learn.setItemText(index, f"Transfer: {Path(path).name}")
        self.learn.setCurrentIndex(index)

    def backbone(self) -> str:
        """What "Train on these" transfers from: ``""`` (the user's own network), a file or an application name."""
        kind, target = self.learn.currentData()
        return self._trained_path if kind == TRAINED else target

    def _index(self, kind: str) -> int:
        return next(i for i in range(self.learn.count()) if self.learn.itemData(i)[0] == kind)

    def _on_learn_activated(self, index: int) -> None:
        kind, target = self.learn.itemData(index)
        if kind == FILE and not target:
            path, _ = QFileDialog.getOpenFileName(self, "Backbone: a trained Keras model", str(Path.home()),
                                                  "Keras models (*.keras *.h5)")
            if path:
                self.set_backbone_file(path)
            else:
                self.learn.setCurrentIndex(self._index(OWN))

    def _on_train_clicked(self) -> None:
        if self.writer is not None:
            self.train_requested.emit(str(self.writer.root), self.backbone())
