"""The Live page's capture box: captured frames reviewed as thumbnails per class, deleted into the
dataset's trash folder and brought back by Undo, before training."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.settings import DataSource
from cnnstudio.ml.data.capture_folder import TRASH
from cnnstudio.ml.data.sources import load_folder
from cnnstudio.ui.live.capture_box import DatasetCaptureBox


@pytest.fixture
def box(qtbot, tmp_path):
    frames = itertools.count()

    def grab():  # a new frame each call, its shade telling it apart
        i = next(frames)
        return i, np.full((48, 64, 3), (i * 40) % 256, np.uint8)

    b = DatasetCaptureBox(grab)
    qtbot.addWidget(b)
    b.set_root(tmp_path / "captures", create=True)
    b.resize(420, 560)
    b.show()
    return b


def capture(box, name, n):
    box.add_class(name)
    for _ in range(n):
        assert box.save_frame()


def test_each_class_shows_its_own_frames_as_thumbnails(box):
    capture(box, "cup", 3)
    capture(box, "pen", 2)
    assert box.review.class_name == "pen" and box.review.frames.count() == 2
    box.class_list.setCurrentRow(0)
    assert box.review.class_name == "cup" and box.review.frames.count() == 3
    assert not box.review.frames.item(0).icon().isNull()
    assert box.save_frame() and box.review.frames.count() == 4  # a capture adds one, without a reload


def test_delete_moves_frames_to_the_trash_and_undo_brings_them_back(box, tmp_path):
    root = tmp_path / "captures"
    capture(box, "cup", 4)
    capture(box, "pen", 2)
    box.class_list.setCurrentRow(0)
    frames = box.review.frames
    doomed = [Path(frames.item(i).data(Qt.UserRole)) for i in (1, 2)]
    for i in (1, 2):
        frames.item(i).setSelected(True)
    box.review.delete_selected()
    assert frames.count() == 2 and box.counts() == {"cup": 2, "pen": 2}
    assert not any(p.exists() for p in doomed)
    assert len(list((root / TRASH / "cup").iterdir())) == 2
    raw = load_folder(DataSource.default().replace(kind="folder", path=str(root)))
    assert raw.classes == ["cup", "pen"] and len(raw.parts["all"]) == 4  # the trash is no class
    assert "2 images" in box.class_list.item(0).text()

    box.review.undo_stack.undo()
    assert frames.count() == 4 and box.counts()["cup"] == 4
    assert all(p.exists() for p in doomed)
    box.review.undo_stack.redo()
    assert box.counts()["cup"] == 2


def test_another_dataset_folder_starts_a_fresh_undo_history(box, tmp_path):
    capture(box, "cup", 2)
    box.review.frames.item(0).setSelected(True)
    box.review.delete_selected()
    assert box.review.undo_stack.canUndo()
    box.set_root(tmp_path / "other", create=True)
    assert not box.review.undo_stack.canUndo() and box.review.frames.count() == 0
