"""The Training page's Fine-tune: unfreezes the top blocks in the editor (undoable) and continues the same run."""

import os
from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox

from cnnstudio.core.commands import SetFrozen
from cnnstudio.core.templates import default_project
from cnnstudio.ml.training.runs import Run
from cnnstudio.ui.studio import Studio
from cnnstudio.ui.training.panel import TrainingPanel

TRAIN_TIMEOUT_MS = 90_000
SHOTS = os.environ.get("CNNSTUDIO_SHOTS")


def test_fine_tune_unfreezes_the_top_blocks_and_goes_on_in_the_same_run(qtbot, tmp_path):
    project = default_project()
    project.path = Path(tmp_path) / "tiny.cnnproj"
    project.set_settings("data", {"options": {**project.data.options, "count": 96}})
    project.set_settings("training", {"epochs": 1, "batch_size": 16})
    graph = project.graph
    SetFrozen(graph, [graph.by_name(n).id for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "pool3")], True).do()
    studio = Studio(project)
    panel = TrainingPanel(studio)
    qtbot.addWidget(panel)
    panel.resize(1300, 700)
    try:
        assert not panel.fine_tune_button.isEnabled()  # no run yet
        panel.start()
        with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS):
            pass
        qtbot.waitUntil(lambda: panel.state == "idle")
        assert panel.fine_tune_button.isEnabled()
        dialog = panel.fine_tune()
        dialog.fields["blocks"].set_value(1)
        dialog.fields["epochs"].set_value(1)
        dialog.fields["blocks"].committed.emit(1)
        assert dialog.plan.text() == "Unfreezes 2 layer(s): conv3, pool3. Learning rate 0.002 → 0.0002."
        if SHOTS:
            dialog.grab().save(os.path.join(SHOTS, "fine-tune-dialog.png"))
        dialog.buttons.button(QDialogButtonBox.Ok).click()
        assert not graph.by_name("conv3").frozen and graph.by_name("conv2").frozen
        assert studio.undo_stack.undoText() == "unfreeze 2 layers"
        with qtbot.waitSignal(panel.worker.finished, timeout=TRAIN_TIMEOUT_MS) as done:
            pass
        qtbot.waitUntil(lambda: panel.state == "idle")
        run = Run(Path(done.args[0]["run"]))
        assert panel.runs.list.count() == 1 and run.curves.epochs_done == 2
        assert panel.history.epoch_x == [1, 2]
        assert run.settings["fine_tuned"][0]["from_epoch"] == 2
        assert run.settings["training"]["learning_rate"] == 0.0002
    finally:
        panel.shutdown()
