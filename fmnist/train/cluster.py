"""Several processes training one model: JAX's distributed runtime through `keras.distribution`.

Every process runs the same `fmnist train` command with its own `--process-id`; process 0 is
the coordinator and alone writes the run folder. The settings are checked here, before Keras
is imported; `join` and the checks that need the others run once training starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmnist.errors import FmnistError

ENV = {  # Keras's own variables for the three settings
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}
WORKER = "FMNIST_WORKER"  # set in the child that `supervise` runs
NEEDED = (
    "--strategy multi-worker needs --coordinator HOST:PORT, --num-processes N and --process-id I "
    f"(or {', '.join(ENV.values())})"
)


@dataclass(frozen=True)
class Cluster:
    coordinator: str  # HOST:PORT of process 0
    num_processes: int
    process_id: int

    @property
    def leader(self) -> bool:
        return self.process_id == 0

    def local_run_dir(self, run_dir: Path) -> Path:
        """Where this process keeps its checkpoints: the run folder on process 0, else a folder of
        its own in the temporary directory, kept until the run finishes, so a rerun resumes."""
        if self.leader:
            return run_dir
        tag = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"fmnist-{run_dir.name}-{tag}-process{self.process_id}"


def settings(coordinator: str | None, num_processes: int | None, process_id: int | None, batch_size: int) -> Cluster:
    """The cluster from the options, else Keras's variables; each wrong setting is one sentence."""
    coordinator = coordinator or os.environ.get(ENV["coordinator"], "").split(",")[0] or None
    num_processes = num_processes if num_processes is not None else _int_env("num_processes")
    process_id = process_id if process_id is not None else _int_env("process_id")
    if coordinator is None or num_processes is None or process_id is None:
        raise FmnistError(NEEDED)
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FmnistError(f"--coordinator {coordinator!r} is not HOST:PORT (a port from 1 to 65535)")
    if num_processes < 1:
        raise FmnistError(f"--num-processes must be 1 or more, not {num_processes}")
    if not 0 <= process_id < num_processes:
        raise FmnistError(
            f"--process-id {process_id} is out of range for {num_processes} processes (0 to {num_processes - 1})"
        )
    if batch_size % num_processes:
        raise FmnistError(f"--batch-size {batch_size} does not split evenly over {num_processes} processes")
    cluster = Cluster(coordinator, num_processes, process_id)
    if cluster.leader and _is_local(host):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the coordinator binds: a port a dead job left in TIME_WAIT is free, one with a listener is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("", int(port)))
            except OSError:
                raise FmnistError(f"--coordinator {coordinator}: port {port} is in use on this machine") from None
    return cluster


def _int_env(name: str) -> int | None:
    value = os.environ.get(ENV[name], "")
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise FmnistError(f"{ENV[name]}={value!r} is not a whole number")
    return int(value)


def _is_local(host: str) -> bool:
    try:
        address = socket.gethostbyname(host)
    except OSError:
        return False
    return address.startswith("127.") or address in {socket.gethostbyname(socket.gethostname()), "0.0.0.0"}


def supervise(cluster: Cluster) -> int:
    """Run this same command in a child process and wait for it. The distributed runtime ends a
    process whose peer died with an abort and a stack dump; that becomes one line naming why."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "fmnist", *sys.argv[1:]], env={**os.environ, WORKER: "1"}, preexec_fn=_die_with_parent
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, frame: child.send_signal(received))
    code = child.wait()
    if code < 0:
        print(
            f"error: process {cluster.process_id} of {cluster.num_processes} stopped ({signal.Signals(-code).name}): "
            "another process of the job failed or was stopped, or the coordinator is gone; rerun every process "
            "with the same command to resume",
            file=sys.stderr,
        )
        return 1
    return code


def _die_with_parent() -> None:
    """In the child, on Linux: be killed when the supervising process dies, even by SIGKILL."""
    import ctypes
    import signal
    import sys

    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def join(cluster: Cluster, record: dict) -> None:
    """Join the job (JAX's distributed runtime, gloo on CPUs, NCCL on GPUs) and check that every
    process was started with the same settings."""
    import keras

    try:
        keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)
    except Exception as exc:  # noqa: BLE001 -- the runtime raises several kinds when it cannot connect
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FmnistError(
            f"process {cluster.process_id} cannot join the job at {cluster.coordinator} ({first})"
        ) from None
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).digest()
    if not same_everywhere(digest):
        raise FmnistError(
            f"process {cluster.process_id} was started with other settings than the others; "
            "start every process with the same command"
        )


def same_everywhere(value: bytes) -> bool:
    """Whether every process of the job holds these same bytes."""
    import numpy as np
    from jax.experimental import multihost_utils

    mine = np.frombuffer(value, np.uint8)
    every = np.asarray(multihost_utils.process_allgather(mine))
    return bool((every == mine).all())


def smallest(number: int) -> int:
    """The smallest of every process's number."""
    import numpy as np
    from jax.experimental import multihost_utils

    return int(np.asarray(multihost_utils.process_allgather(np.array([number], np.int32))).min())


def leader_says(flag: bool) -> bool:
    """Process 0's flag, on every process."""
    import numpy as np
    from jax.experimental import multihost_utils

    return bool(np.asarray(multihost_utils.broadcast_one_to_all(np.array([flag], np.uint8)))[0])


def weights_digest(weights: list[Any]) -> bytes:
    import numpy as np

    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.digest()


def barrier(name: str) -> None:
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)
