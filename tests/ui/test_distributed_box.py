"""The Training page's Distributed section: the run's strategy and the commands for other machines."""

from cnnstudio.ui.training.distributed_box import DistributedBox


def test_shows_the_strategy_and_one_command_per_worker(qtbot):
    box = DistributedBox()
    qtbot.addWidget(box)
    box.set_project("/data/my project.cnnproj")
    box.workers.setText("a:2222, b:2222")
    lines = box.commands.toPlainText().splitlines()
    assert lines == ["cnnstudio train '/data/my project.cnnproj' --strategy multiworker "
                     f"--workers a:2222,b:2222 --index {i} --out worker{i}" for i in (0, 1)]
    box.show_run({"strategy": "MirroredStrategy", "replicas": 2})
    assert box.strategy_label.text() == "Strategy: mirrored, 2 replicas"
