"""The Teachable-Machine loop with a real backbone: capture a few dozen frames per class on the
Live page, "Train on these" by transfer learning from a network this studio trained, and the
result classifies new frames live. Headless: generated frames, a backbone trained in the test."""

import cv2
import numpy as np
import pytest

from cnnstudio.core.templates import default_project
from cnnstudio.ui.live.panel import LivePanel
from cnnstudio.ui.studio import Studio

CLASSES = ("bars", "dots", "ring")


def frame(kind: str, rng) -> np.ndarray:
    """A 240x240 webcam-like RGB frame: a bright ``kind`` somewhere on a dark, noisy background."""
    img = np.clip(rng.normal(40, 15, (240, 240, 3)), 0, 255).astype(np.uint8)
    colour = tuple(int(c) for c in rng.integers(170, 256, 3))
    cx, cy = (int(v) for v in rng.integers(80, 160, 2))
    if kind == "bars":
        for i in range(-2, 3):
            cv2.rectangle(img, (cx - 60, cy + i * 22 - 5), (cx + 60, cy + i * 22 + 5), colour, -1)
    elif kind == "dots":
        for dy in (-40, 0, 40):
            for dx in (-40, 0, 40):
                cv2.circle(img, (cx + dx, cy + dy), 9, colour, -1)
    else:
        cv2.circle(img, (cx, cy), int(rng.integers(45, 70)), colour, 10)
    return img


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A LeNet-5 the studio trained on its shapes dataset: the checkpoint a user would pick."""
    from cnnstudio.ml.training.runner import run_project

    project = default_project()
    project.set_settings("data", {"options": {**project.data.options, "count": 1200}})
    project.set_settings("training", {"epochs": 6, "batch_size": 32, "learning_rate": 3e-3})
    result = run_project(project, runs_dir=tmp_path_factory.mktemp("runs"))
    return result.run.best_checkpoint


def test_capture_then_train_on_these_by_transfer_and_classify_live(qtbot, tmp_path, backbone):
    from cnnstudio.ml.training.runner import run_project

    studio = Studio(default_project())
    panel = LivePanel(studio)
    qtbot.addWidget(panel)
    try:
        box = panel.capture
        box.set_root(tmp_path / "captures", create=True)
        rng = np.random.default_rng(0)
        for name in CLASSES:  # what holding Space in front of the camera saves
            assert box.add_class(name)
            for _ in range(40):
                box.writer.save(frame(name, rng), name)
        box._refresh()
        assert box.train_button.isEnabled()
        box.set_backbone_file(backbone)
        assert box.backbone() == str(backbone)
        with qtbot.waitSignal(panel.transfer_ready, timeout=60000):
            box.train_button.click()
        project = studio.project
        assert project.data.kind == "folder" and project.data.path == str(tmp_path / "captures")
        assert project.classes == list(CLASSES) and project.weights_file == str(backbone.resolve())
        frozen = [n for n in project.graph.nodes.values() if n.frozen]
        assert {n.name for n in frozen} >= {"conv1", "conv2"}  # the backbone's convolutions stay as trained
        assert project.graph.outputs()[0].params["units"] == 3  # a new head for the captured classes

        project.set_settings("training", {"epochs": 20, "batch_size": 16, "learning_rate": 1e-2})
        result = run_project(project, runs_dir=tmp_path / "runs")  # what the Training page's Start runs
        assert result.outcome.history["val_accuracy"][-1] >= 0.8
        best = result.run.best_checkpoint
        studio.trained.publish(str(best))

        panel.resize(1200, 800)
        panel.show()
        qtbot.waitUntil(lambda: panel.models.info.text().startswith("Trained"), timeout=30000)
        for name in CLASSES:  # a new frame of each class, shown to the camera (an image file here)
            picture = tmp_path / f"new-{name}.png"
            cv2.imwrite(str(picture), cv2.cvtColor(frame(name, np.random.default_rng(99)), cv2.COLOR_RGB2BGR))
            assert panel.open_source("image", str(picture))
            qtbot.waitUntil(lambda: getattr(panel.last_result, "top", None)
                            and panel.last_result.frame.source.endswith(picture.name)
                            and panel.last_result.top[0].label == name, timeout=30000)
    finally:
        panel.shutdown()


def test_a_backbone_that_cannot_load_leaves_the_project_alone(qtbot, tmp_path):
    studio = Studio(default_project())
    panel = LivePanel(studio)
    qtbot.addWidget(panel)
    try:
        box = panel.capture
        box.set_root(tmp_path / "captures", create=True)
        rng = np.random.default_rng(1)
        for name in CLASSES[:2]:
            box.writer.save(frame(name, rng), name)
        box._refresh()
        bad = tmp_path / "not-a-model.keras"
        bad.write_bytes(b"this is not a zip")
        box.set_backbone_file(bad)
        before = studio.project
        box.train_button.click()
        qtbot.waitUntil(lambda: "Transfer learning not started" in panel.message.text(), timeout=30000)
        assert studio.project is before and before.data.kind == "shapes"
        assert box.train_button.isEnabled()
    finally:
        panel.shutdown()
