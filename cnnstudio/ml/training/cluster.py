"""Joining a multi-worker cluster: ``TF_CONFIG`` from ``--workers``, and a deadline on the join.

``tf.distribute.MultiWorkerMirroredStrategy`` reads its cluster from ``TF_CONFIG`` and, when
it is created, waits for every worker to come up. It waits forever (TensorFlow's own
``_check_health_initial_timeout`` bounds a barrier that is never reached when a peer's
gRPC server is missing), and a worker blocked in gRPC ignores SIGTERM. And a
watchdog thread cannot help: the constructor holds the GIL while it waits. So
:func:`join_cluster` first meets the other workers with plain sockets on the cluster's own
ports (:func:`wait_for_peers`); if they are not all there by the deadline it prints one line
and exits with code 2, before TensorFlow is even imported. Once joined, collectives carry a timeout
(``CommunicationOptions(timeout_seconds=...)``) and TensorFlow's coordination service
notices a worker that stopped sending heartbeats, so a killed peer makes the others
raise instead of hang; :func:`peer_lost_message` turns that error into a sentence.

The strategy must be created before any other TensorFlow op in the process, so each
worker is a process of its own (``cnnstudio train ... --index I``).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time

from cnnstudio.ml.training.losses import SettingsError

JOIN_TIMEOUT_S = 60.0        # how long a worker waits for the others to start
COLLECTIVE_TIMEOUT_S = 120.0  # one all-reduce longer than this means a peer is gone
EXIT_UNREACHABLE = 2


class ClusterError(SettingsError):
    """The cluster description is unusable (bad ``--workers`` / ``--index`` / ``TF_CONFIG``)."""


class ClusterLost(RuntimeError):
    """Another worker went away mid-run; the message is for a person."""


def cluster_config(workers: str, index: int) -> dict:
    """The ``TF_CONFIG`` document for ``workers`` (``"HOST:PORT,HOST:PORT"``) and this worker's ``index``."""
    hosts = [w.strip() for w in workers.split(",") if w.strip()]
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ClusterError(f"--workers: {host!r} is not HOST:PORT")
    if not 0 <= index < len(hosts):
        raise ClusterError(f"--index {index} is not one of the {len(hosts)} workers (0..{len(hosts) - 1})")
    return {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}


def free_ports(n: int) -> list[int]:
    """``n`` ports free on 127.0.0.1 right now: a cluster of local workers, for trying it out."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def worker_command(project: str, workers: str, index: int) -> str:
    """The command that starts worker ``index`` of ``workers`` on ``project`` (to paste on that machine)."""
    return (f"cnnstudio train {shlex.quote(project)} --strategy multiworker "
            f"--workers {workers} --index {index} --out worker{index}")


def task_from_environment() -> tuple[int, int]:
    """``(index, workers)`` of this process as ``TF_CONFIG`` says; raises :class:`ClusterError`."""
    try:
        doc = json.loads(os.environ.get("TF_CONFIG", ""))
        workers = doc["cluster"].get("worker", []) + doc["cluster"].get("chief", [])
        task = doc["task"]
        index = int(task["index"]) + (len(doc["cluster"].get("chief", [])) if task["type"] == "worker" else 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ClusterError("--strategy multiworker needs TF_CONFIG (a JSON cluster and task) "
                           "or --workers HOST:PORT,HOST:PORT --index I") from None
    return index, len(workers)


def wait_for_peers(hosts: list[str], index: int, timeout_s: float) -> bool:
    """Meet every other worker on the cluster's own ports before TensorFlow takes them.

    Worker ``index`` listens on its port and connects to each peer's until it has reached
    them all and all have reached it (then none of them needs it to listen any more), or the
    deadline passes: False. A peer that connects is closed by that peer first, so the port
    is left with no TIME_WAIT on this side and TensorFlow's server can bind it right after.
    """
    deadline = time.monotonic() + timeout_s
    host, _, port = hosts[index].rpartition(":")
    peers = {i: h.rpartition(":") for i, h in enumerate(hosts) if i != index}
    reached: set[int] = set()
    heard = 0
    with socket.create_server(("" if host not in ("127.0.0.1", "localhost") else host, int(port))) as server:
        server.settimeout(0.05)
        while (len(reached) < len(peers) or heard < len(peers)) and time.monotonic() < deadline:
            for i, (peer_host, _, peer_port) in peers.items():
                if i not in reached:
                    try:
                        socket.create_connection((peer_host, int(peer_port)), timeout=0.2).close()
                        reached.add(i)
                    except OSError:
                        pass
            try:
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(2.0)
                    conn.recv(1)  # until the peer closes
                heard += 1
            except OSError:
                time.sleep(0.05)
    return len(reached) == len(peers) and heard >= len(peers)


def join_cluster(timeout_s: float = JOIN_TIMEOUT_S, collective_timeout_s: float = COLLECTIVE_TIMEOUT_S):
    """Create the ``MultiWorkerMirroredStrategy`` of ``TF_CONFIG`` once every worker answered on its
    port; exit 2 with one line if they are not all up within ``timeout_s``."""
    index, _ = task_from_environment()
    hosts = json.loads(os.environ["TF_CONFIG"])["cluster"]
    hosts = hosts.get("chief", []) + hosts.get("worker", [])
    if not wait_for_peers(hosts, index, timeout_s):
        print(f"cnnstudio train: worker {index} could not reach the cluster {','.join(hosts)} within "
              f"{timeout_s:g} s: start every worker (same --workers, its own --index) and check "
              f"that the hosts and ports are reachable", file=sys.stderr, flush=True)
        sys.exit(EXIT_UNREACHABLE)
    import tensorflow as tf

    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout_s)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_chief(strategy) -> bool:
    """This process writes the run folder: the only worker, or task 0 of the cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.task_type or int(resolver.task_id or 0) == 0


def peer_lost_message(exc: BaseException) -> str | None:
    """A sentence for a collective that failed because another worker went away, else None."""
    if type(exc).__name__ in ("UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError"):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"another worker stopped or cannot be reached ({type(exc).__name__}: {first[:160]}); "
                f"training stopped. The chief's last checkpoint can be resumed with --resume RUN")
    return None
