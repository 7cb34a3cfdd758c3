"""The Training page's "Distributed" section: the strategy in use, and how to train on several machines.

The studio itself trains in one process (the default strategy, or ``mirrored``); training
across machines runs ``cnnstudio train --strategy multiworker`` on every one of them. This
box shows the strategy and replica count of the current run and writes, for the worker
addresses typed in, the exact command each machine must run.
"""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout

from cnnstudio.ml.training.cluster import worker_command

DEFAULT_WORKERS = "host0:12345,host1:12345"
#: tf.distribute class names as a person reads them
STRATEGY_NAMES = {"_DefaultDistributionStrategy": "default (one device)", "MirroredStrategy": "mirrored",
                  "MultiWorkerMirroredStrategy": "multi-worker", "CollectiveAllReduceStrategy": "multi-worker"}


class DistributedBox(QGroupBox):
    """Strategy and replicas of the run, and the commands that start a multi-worker run."""

    def __init__(self, parent=None) -> None:
        super().__init__("Distributed", parent)
        self.strategy_label = QLabel("Strategy: default (one device), 1 replica")
        self.workers = QLineEdit(DEFAULT_WORKERS)
        self.workers.setToolTip("HOST:PORT of every machine, the chief (worker 0) first; each port must be free")
        self.commands = QPlainTextEdit(readOnly=True)
        self.commands.setMaximumHeight(110)
        help_text = QLabel("To train on several machines, copy the project file to each, then run on "
                           "machine I its line below (worker 0 writes the run; the others wait up to "
                           "60 s for all to start).")
        help_text.setWordWrap(True)
        layout = QVBoxLayout(self)
        for w in (self.strategy_label, help_text, self.workers, self.commands):
            layout.addWidget(w)
        self.project_path = "PROJECT.cnnproj"
        self.workers.textChanged.connect(self._write_commands)
        self._write_commands()

    def set_project(self, path) -> None:
        """The project file the commands name."""
        self.project_path = str(path) if path else "PROJECT.cnnproj"
        self._write_commands()

    def show_run(self, info: dict) -> None:
        """A run started: ``info`` is the reporter's ``on_start`` (``strategy``, ``replicas``)."""
        name = STRATEGY_NAMES.get(info.get("strategy", ""), info.get("strategy", "default"))
        replicas = int(info.get("replicas", 1))
        self.strategy_label.setText(f"Strategy: {name}, {replicas} replica{'s' if replicas != 1 else ''}")

    def _write_commands(self) -> None:
        hosts = ",".join(h.strip() for h in self.workers.text().split(",") if h.strip())
        count = len(hosts.split(",")) if hosts else 0
        self.commands.setPlainText("\n".join(worker_command(self.project_path, hosts, i) for i in range(count)))
