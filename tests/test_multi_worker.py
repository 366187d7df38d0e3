"""Several processes training one model on JAX (keras.distribution), two local ones on the CPU:
identical weights, process 0 alone writing the run folder, a killed process ending the others
with one line, the same commands resuming, and wrong settings refused before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_data, run_fmnist

from fmnist.train.cluster import Cluster


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(runs: Path, port: int, process_id: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "fmnist", "train", "--backend", "jax", "--strategy", "multi-worker",
        "--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(process_id),
        "--batch-size", "32", "--runs-dir", str(runs), "--name", "mw", *extra,
    ]  # fmt: skip


def start(runs: Path, port: int, *extra: str) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(command(runs, port, i, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in (0, 1)
    ]


def finish(processes: list[subprocess.Popen], timeout: float = 600) -> list[tuple[int, str]]:
    return [(p.wait(timeout), p.communicate()[1]) for p in processes]


@needs_data
@pytest.mark.slow
def test_two_processes_train_one_model_and_process_0_writes_the_run(tmp_path):
    (zero, err0), (one, err1) = finish(start(tmp_path, free_port(), "--limit", "1200", "--epochs", "2"))
    assert zero == 0 and one == 0, err0[-2000:] + err1[-2000:]
    assert err1.strip().splitlines()[-1] == f"process 1 of 2: done; process 0 wrote {tmp_path / 'mw'}"
    assert [p.name for p in tmp_path.iterdir()] == ["mw"]
    assert not Cluster("h:1", 2, 1).local_run_dir(tmp_path / "mw").exists()  # process 1's checkpoints are gone
    metrics = json.loads((tmp_path / "mw" / "metrics.json").read_text())
    assert (metrics["strategy"], metrics["processes"], metrics["replicas"], metrics["backend"]) == (
        "multi-worker", 2, 2, "jax",
    )  # fmt: skip
    assert metrics["train_images"] == 1056 and metrics["epochs"] == 2  # 33 global batches of 32: 1,080 cut to whole
    assert (tmp_path / "mw" / "model.keras").is_file() and metrics["test_accuracy"] >= 0.5  # 55.9 % measured
    (zero, err0), (one, err1) = finish(start(tmp_path, free_port(), "--limit", "1200", "--epochs", "2"))
    assert zero == 0 and one == 0, err0[-2000:] + err1[-2000:]
    assert f"{tmp_path / 'mw'} is already trained" in err0  # a rerun of a finished job trains nothing
    assert not Cluster("h:1", 2, 1).local_run_dir(tmp_path / "mw").exists()


@needs_data
@pytest.mark.slow
def test_a_killed_process_ends_the_other_with_one_line_and_the_same_commands_resume(tmp_path):
    extra = ("--limit", "3000", "--epochs", "4", "--no-augment")
    port = free_port()
    processes = start(tmp_path, port, *extra)
    backups = [
        d / "backup" / "training_metadata.json"
        for d in (tmp_path / "mw", Cluster("h:1", 2, 1).local_run_dir(tmp_path / "mw"))
    ]
    deadline = time.monotonic() + 300
    while not all(b.exists() for b in backups) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), "training ended before it could be killed"
        time.sleep(0.1)
    os.kill(processes[1].pid, signal.SIGKILL)
    started = time.monotonic()
    code, err = processes[0].wait(300), processes[0].communicate()[1]
    assert code != 0 and time.monotonic() - started < 150
    assert err.strip().splitlines()[-1].startswith("error: process 0 of 2 stopped (")
    assert "rerun every process with the same command to resume" in err.strip().splitlines()[-1]
    assert not (tmp_path / "mw" / "metrics.json").exists() and (tmp_path / "mw" / "config.json").exists()
    # one process may have checkpointed an epoch more than the other: both go on from the fewer
    saved = min(json.loads(b.read_text())["epoch"] for b in backups)

    (zero, err0), (one, err1) = finish(start(tmp_path, port, *extra))  # the same commands, started at once
    assert zero == 0 and one == 0, err0[-2000:] + err1[-2000:]
    assert f"resuming {tmp_path / 'mw'} after epoch {saved}" in err0
    assert [r["epoch"] for r in json.loads((tmp_path / "mw" / "history.json").read_text())] == [1, 2, 3, 4]


@needs_data
@pytest.mark.slow
def test_processes_started_with_other_settings_are_refused(tmp_path):
    port = free_port()
    processes = [
        subprocess.Popen(
            command(tmp_path, port, i, "--limit", "300", "--epochs", str(2 + i)), stderr=subprocess.PIPE, text=True
        )
        for i in (0, 1)
    ]
    for process, (code, err) in zip(processes, finish(processes, 300), strict=True):
        assert code == 2 and err.strip().splitlines()[-1] == (
            f"error: process {processes.index(process)} was started with other settings than the others; "
            "start every process with the same command"
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "multi-worker", "--backend", "jax"], "--strategy multi-worker needs --coordinator HOST:PORT"),
        (
            ["--strategy", "multi-worker", "--backend", "jax", "--coordinator", "localhost:1", "--num-processes", "2",
             "--process-id", "2"],
            "--process-id 2 is out of range for 2 processes (0 to 1)",
        ),
        (
            ["--strategy", "multi-worker", "--backend", "jax", "--coordinator", "localhost", "--num-processes", "2",
             "--process-id", "0"],
            "--coordinator 'localhost' is not HOST:PORT (a port from 1 to 65535)",
        ),
        (
            ["--strategy", "multi-worker", "--backend", "jax", "--coordinator", "localhost:1", "--num-processes", "3",
             "--process-id", "1"],
            "--batch-size 128 does not split evenly over 3 processes",
        ),
        (
            ["--strategy", "multi-worker", "--backend", "tensorflow", "--coordinator", "localhost:1",
             "--num-processes", "2", "--process-id", "1"],
            "--strategy multi-worker runs on JAX (keras.distribution); train with --backend jax",
        ),
        (["--process-id", "1"], "--coordinator, --num-processes and --process-id are for --strategy multi-worker"),
    ],
)  # fmt: skip
def test_wrong_cluster_settings_are_one_sentence_before_anything_starts(tmp_path, args, message):
    result = run_fmnist("train", *args, "--runs-dir", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert not any(tmp_path.iterdir())


def test_a_coordinator_port_in_use_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_fmnist(*command(tmp_path, port, 0)[3:], timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --coordinator localhost:{port}: port {port} is in use on this machine"
    )


def test_keras_distribution_variables_stand_for_the_options(tmp_path):
    env = {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": "localhost:1,localhost:2",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": "5",
    }
    result = run_fmnist(
        "train", "--backend", "jax", "--strategy", "multi-worker", "--runs-dir", str(tmp_path), env=env, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: --process-id 5 is out of range for 2 processes (0 to 1)"


def test_a_checkpoint_an_epoch_ahead_goes_back_to_the_one_before(tmp_path):
    """What a process does when another stopped one checkpoint behind it: Keras's own backup files,
    the latest replaced by the one kept before it (or none, to start over); further back, no."""
    import keras

    from fmnist.train.trainer import _back_to, _restored_epochs

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = tmp_path / "backup"
    saved = []
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(model.get_weights()))
    callback = keras.callbacks.BackupAndRestore(backup, double_checkpoint=True, delete_checkpoint=False)
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=3, verbose=0, callbacks=[keep, callback])
    assert _restored_epochs(backup) == 3 and _back_to(backup, 3)
    assert not _back_to(backup, 1) and _restored_epochs(backup) == 3  # the one before is epoch 2's
    assert _back_to(backup, 2) and _restored_epochs(backup) == 2
    model.load_weights(backup / "latest.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), saved[1], strict=True))
    assert _back_to(backup, 0) and not backup.exists()


def test_a_coordinator_port_a_dead_job_left_in_time_wait_is_free_to_rerun_on():
    """After a job dies, its coordinator's connections linger in TIME_WAIT for a minute; the advised rerun,
    started at once, binds the port as the coordinator will (SO_REUSEADDR)."""
    from fmnist.train import cluster

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as JAX's coordinator (gRPC) binds
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as peer:
            accepted, _ = listener.accept()
            accepted.close()  # the coordinator's side closes first: its port goes to TIME_WAIT
            peer.recv(1)
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("", port))  # what the probe did before
    assert cluster.settings(f"localhost:{port}", 2, 0, 64).coordinator == f"localhost:{port}"
