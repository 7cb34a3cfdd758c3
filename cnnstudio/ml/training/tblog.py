"""TensorBoard logs (scalars and histograms) without the ``tensorboard`` package.

Keras's ``TensorBoard`` callback needs the separate ``tensorboard`` package for its
summary ops; the event file format itself is TFRecord framing around ``Event`` protocol
buffers, both shipped with TensorFlow. This writes the same layout Keras does
(``train/`` and ``validation/`` with ``epoch_loss``, ``epoch_accuracy``...), so
``tensorboard --logdir <run>/tensorboard`` overlays training and validation curves. Weight
and activation histograms go to ``train/`` as ``HistogramProto`` summaries (TensorBoard's
Histograms and Distributions tabs), tagged ``weights/<layer>/<variable>`` and
``activations/<layer>``, with the dead-ReLU shares as scalars ``dead_relu/<layer>``.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnstudio.ml.training.runs import EpochHistograms


class SummaryLog:
    """One event file per sub-folder (``train``, ``validation``), appended to and flushed each epoch."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self._writers: dict[str, object] = {}

    def _writer(self, sub: str):
        if sub not in self._writers:
            import tensorflow as tf
            from tensorflow.core.util import event_pb2

            folder = self.log_dir / sub
            folder.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.cnnstudio"
            writer = tf.io.TFRecordWriter(str(folder / name))
            writer.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            self._writers[sub] = writer
        return self._writers[sub]

    def scalars(self, step: int, logs: dict[str, float]) -> None:
        """Write ``logs`` at ``step``: ``val_x`` goes to validation/epoch_x, the rest to train/epoch_x."""
        from tensorflow.core.framework import summary_pb2

        groups: dict[str, list] = {}
        for key, value in logs.items():
            sub, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            groups.setdefault(sub, []).append(summary_pb2.Summary.Value(tag=f"epoch_{tag}", simple_value=float(value)))
        for sub, values in groups.items():
            self._write(sub, step, values)

    def _write(self, sub: str, step: int, values: list) -> None:
        from tensorflow.core.framework import summary_pb2
        from tensorflow.core.util import event_pb2

        event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values))
        writer = self._writer(sub)
        writer.write(event.SerializeToString())
        writer.flush()

    def histograms(self, histograms: "EpochHistograms") -> None:
        """Write one epoch's histograms (at its epoch as the step) and dead-ReLU shares to ``train/``.

        A histogram's buckets are its bins: ``bucket_limit`` the right edges, ``min`` / ``max``
        the outer ones (TensorBoard takes each bucket's left edge from the one before it).
        """
        from tensorflow.core.framework import summary_pb2

        values = []
        for prefix, table in (("weights", histograms.weights), ("activations", histograms.activations)):
            for name, h in table.items():
                proto = summary_pb2.HistogramProto(min=float(h.edges[0]), max=float(h.edges[-1]), num=float(h.num),
                                                   sum=h.total, sum_squares=h.squares,
                                                   bucket_limit=[float(e) for e in h.edges[1:]],
                                                   bucket=[float(c) for c in h.counts])
                values.append(summary_pb2.Summary.Value(tag=f"{prefix}/{name}", histo=proto))
        for layer in histograms.dead:
            values.append(summary_pb2.Summary.Value(tag=f"dead_relu/{layer}",
                                                    simple_value=histograms.dead_fraction(layer)))
        if values:
            self._write("train", histograms.epoch, values)

    def close(self) -> None:
        """Close the event files."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
