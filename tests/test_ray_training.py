"""A profile's runs as tasks on a Ray cluster of two one-CPU nodes on this machine (ray.cluster_utils.Cluster).

Ray registers its nodes under the machine's network address and probes an outside one to find it, so these
tests run only where every network interface but loopback is absent: `make test` runs the suite in a network
namespace of its own (tests/in_loopback_namespace). Elsewhere they skip with one line; in CI they must run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.reproduction import local_training, pipeline, ray_training
from gmvae.reproduction.notebook_runner import reproduce
from gmvae.reproduction.profiles import get_profile


def only_loopback() -> bool:
    """Whether this process's network namespace has no interface but loopback (/proc/net/dev is per namespace,
    unlike /sys/class/net, which shows the namespace that mounted /sys)."""
    try:
        lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    except OSError:
        return False
    return [line.split(":")[0].strip() for line in lines] == ["lo"]


SMOKE = get_profile("smoke")


@pytest.fixture(scope="module")
def cluster():
    in_ci = os.environ.get("CI", "").lower() == "true"
    if not only_loopback():
        message = ("Ray tests need a network namespace with only loopback: make test makes one "
                   "(tests/in_loopback_namespace)")
        if in_ci:
            pytest.fail(f"CI must run the Ray tests. {message}")
        pytest.skip(message)
    if not in_ci:  # CI installs the extra: there a missing Ray fails at the import below
        pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    yield nodes
    nodes.shutdown()


@pytest.fixture(autouse=True)
def float32_everywhere(monkeypatch):
    """The tasks and the references train in one precision (the driver passes GMVAE_PRECISION on)."""
    monkeypatch.setenv("GMVAE_PRECISION", "float32")


def smoke_runs(results_dir) -> list[tuple[TrainConfig, Path]]:
    return pipeline.pending_runs("smoke", results_dir)


def assert_same_log(run_dir: Path, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(runs.read_log(run_dir).drop(columns="seconds"), reference.drop(columns="seconds"))


@pytest.fixture(scope="module")
def reference_log(tmp_path_factory):
    """The run of a configuration trained here, in one piece (once per configuration), on one core: with one thread,
    as a task of one CPU computes (one thread rounds otherwise than two on some processors, docs/run_folders.md)."""
    trained = {}

    def log(config: TrainConfig) -> pd.DataFrame:
        if config not in trained:
            folder = tmp_path_factory.mktemp("sequential") / "run"
            command = local_training.train_command(config.replace(precision="float32"), folder)
            subprocess.run(["taskset", "-c", "0", *command], check=True, capture_output=True)
            trained[config] = runs.read_log(folder)
        return trained[config]
    return log


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_the_smoke_profile_on_two_nodes_writes_the_sequential_runs(cluster, tmp_path, reference_log):
    results = tmp_path / "results"
    todo = smoke_runs(results)
    with ray_training.RayExecutor(cluster.address) as executor:
        assert executor.parallel_runs == 2
        outcomes = executor.train_runs(todo, results, say=lambda line: None)
    assert sorted((o.name, o.attempts, o.resumed_from) for o in outcomes) == sorted(
        (c.run_name, 1, 0) for c, _ in todo)
    assert most_at_once(outcomes) == 2  # a run per CPU, never more
    for config, run_dir in todo:
        assert_same_log(run_dir, reference_log(config))
        assert pipeline.run_state(run_dir, config) == "complete"
        assert (run_dir / "checkpoints" / "checkpoint").exists()
        command = runs.read_record(run_dir)["provenance"]["command"]
        assert command.startswith(f"Ray task {config.run_name}/seed0 on 127.0.0.1, attempt 1 [started by ")
    assert not (results / runs.INCOMING / "runs" / "gmvae" / "seed0").exists()
    assert pipeline.pending_runs("smoke", results) == []


def most_at_once(outcomes) -> int:
    """The most runs that trained at the same instant."""
    events = sorted([(o.began, 1) for o in outcomes] + [(o.ended, -1) for o in outcomes])
    running = most = 0
    for _, change in events:  # at a tie, an end (-1) sorts before a start
        running += change
        most = max(most, running)
    return most


def worker_processes(task_name: str) -> list[int]:
    """Processes of the Ray workers running the task of that name (Ray titles them ray::<task name>)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if command.startswith(f"ray::{task_name}"):
            found.append(int(pid))
    return found


def completed_epochs(folder: Path) -> int:
    try:
        return int(((runs.read_record(folder) or {}).get("status") or {}).get("completed_epochs") or 0)
    except runs.DamagedRunError:  # caught between two writes: read again
        return 0


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_a_killed_worker_is_retried_from_its_last_epoch_and_logs_the_uninterrupted_run(cluster, tmp_path,
                                                                                         reference_log):
    config = SMOKE.configs("gmvae")[0].replace(epochs=8)
    results = tmp_path / "results"
    run_dir, incoming = runs.run_dir(results, "gmvae", 0), runs.incoming_dir(results, "gmvae", 0)
    outcomes, lines = [], []
    with ray_training.RayExecutor(cluster.address) as executor:
        driver = threading.Thread(target=lambda: outcomes.extend(
            executor.train_runs([(config, run_dir)], results, say=lines.append, poll_seconds=0.1)))
        driver.start()
        wait_for(lambda: completed_epochs(incoming) >= 2, 120, "two epochs to come back")
        killed_at = completed_epochs(incoming)
        assert killed_at < 8 and not run_dir.joinpath("run.json").exists()  # results/ holds no partial run
        [worker] = worker_processes("gmvae gmvae seed0")
        os.kill(worker, signal.SIGKILL)
        driver.join(timeout=180)
    [outcome] = outcomes
    assert outcome.attempts == 2 and killed_at <= outcome.resumed_from < 8
    assert_same_log(run_dir, reference_log(config))
    assert any("attempt 2, resumed from epoch" in line for line in lines)


DRIVER = """
import sys
from gmvae.reproduction.notebook_runner import reproduce
reproduce("smoke", sys.argv[1], notebooks=[], executor="ray", address=sys.argv[2])
"""


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_a_killed_driver_is_followed_by_one_that_submits_only_the_missing_runs(cluster, tmp_path, reference_log,
                                                                                 capsys):
    results = tmp_path / "results"
    todo = smoke_runs(results)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(results), cluster.address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(pipeline.run_state(d, c) == "complete" for c, d in todo), 180, "a first run to finish")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    missing = [f"{c.run_name} seed {c.seed}" for c, d in todo if pipeline.run_state(d, c) != "complete"]
    assert 0 < len(missing) < len(todo)
    capsys.readouterr()
    reproduce("smoke", results, notebooks=[], executor="ray", address=cluster.address)  # the same command again
    submitted = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if ": submitted (" in line]
    assert submitted == missing
    for config, run_dir in todo:
        assert_same_log(run_dir, reference_log(config))


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_a_second_driver_on_the_same_results_stops_at_a_run_in_use(cluster, tmp_path):
    results = tmp_path / "results"
    config, run_dir = smoke_runs(results)[0]
    with runs.locked(run_dir), ray_training.RayExecutor(cluster.address) as executor:
        with pytest.raises(runs.RunLockedError, match="in use by another process"):
            executor.train_runs([(config, run_dir)], results)
    assert runs.read_record(run_dir) is None


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_a_cluster_without_a_node_big_enough_for_a_run_says_so(cluster):
    with pytest.raises(ValueError, match="no node of the Ray cluster has 2 CPU"):
        ray_training.RayExecutor(cluster.address, cpus_per_run=2)


# ------------------------------------------------------------------ where a run's task begins (no cluster needed)

def write_partial(folder: Path, config: TrainConfig, epochs: int) -> None:
    runs.write_log(folder, pd.DataFrame({"epoch": range(1, epochs + 1)}).reindex(columns=runs.LOG_COLUMNS))
    runs.write_record(folder, {"config": dataclasses.asdict(config),
                               "status": {"completed_epochs": epochs, "nan_epoch": None, "train_seconds": 1.0}})


def started_at(start: dict | None) -> int | None:
    return None if start is None else json.loads(start["run.json"])["status"]["completed_epochs"]


@pytest.mark.parametrize("incoming_epochs, results_epochs, begins_at", [
    (5, 3, 5),        # the epochs that came back from the cluster before its driver stopped
    (None, 3, 3),     # a run begun on this machine
    (2, 3, 3),        # begun here, taken further here after the cluster's epochs came back
    (None, None, None),
])
def test_a_task_begins_from_the_further_of_the_incoming_and_the_results_folder(tmp_path, incoming_epochs,
                                                                               results_epochs, begins_at):
    config = SMOKE.configs("gmvae")[0].replace(epochs=10)
    run_dir, incoming = runs.run_dir(tmp_path, "gmvae", 0), runs.incoming_dir(tmp_path, "gmvae", 0)
    for folder, epochs in ((incoming, incoming_epochs), (run_dir, results_epochs)):
        if epochs is not None:
            write_partial(folder, config, epochs)
    assert started_at(ray_training._starting_point(config, run_dir, incoming, retrain=False)) == begins_at


def test_incoming_epochs_of_another_configuration_are_dropped(tmp_path):
    config = SMOKE.configs("gmvae")[0].replace(epochs=10)
    run_dir, incoming = runs.run_dir(tmp_path, "gmvae", 0), runs.incoming_dir(tmp_path, "gmvae", 0)
    write_partial(incoming, config.replace(learning_rate=0.01), 5)
    assert ray_training._starting_point(config, run_dir, incoming, retrain=False) is None
    assert not incoming.exists()


def test_retrain_sets_the_run_aside_and_drops_its_incoming_epochs(tmp_path):
    config = SMOKE.configs("gmvae")[0].replace(epochs=10)
    run_dir, incoming = runs.run_dir(tmp_path, "gmvae", 0), runs.incoming_dir(tmp_path, "gmvae", 0)
    write_partial(incoming, config, 5)
    write_partial(run_dir, config, 10)
    assert ray_training._starting_point(config, run_dir, incoming, retrain=True) is None
    assert not incoming.exists() and runs.read_record(run_dir) is None
    [aside] = run_dir.glob("previous-*")
    assert json.loads((aside / "run.json").read_text())["status"]["completed_epochs"] == 10


def test_an_address_where_no_cluster_answers_is_named_at_once(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ValueError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        ray_training.RayExecutor(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 15


# ------------------------------------------------------------------- the driver's retries, without a cluster


class FakeRay:
    """The calls RayExecutor makes of Ray, answered here: each submitted attempt of the run ends as ``endings``
    says in turn ("lost": its worker died, "error": the training raised, "done": the run came back complete)."""

    class exceptions:  # noqa: N801 - as ray.exceptions
        class RayError(Exception):
            pass

        class RayTaskError(RayError):
            pass

        class WorkerCrashedError(RayError):
            pass

    def __init__(self, endings, finished_files):
        self.endings, self.finished_files = list(endings), finished_files
        self.attempts, self.cancelled = [], []

    def init(self, **options):
        pass

    def nodes(self):
        return [{"Alive": True, "Resources": {"CPU": 2.0}}]

    def shutdown(self):
        pass

    def put(self, value):
        return value

    def remote(self, *target, **options):
        if target:  # ray.remote(_Inbox): an actor whose inbox stays empty
            inbox = type("Inbox", (), {"collect": type("Method", (), {"remote": lambda _: {}})()})()
            return type("Actor", (), {"options": lambda _, **o: type("Handle", (), {"remote": lambda _: inbox})()})()
        fake = self

        class Task:
            def options(self, **task_options):
                return self

            def remote(self, config_fields, key, attempt, *rest):
                fake.attempts.append(attempt)
                return ("attempt", attempt)
        return lambda function: Task()

    def wait(self, references, num_returns, timeout):
        return references[:num_returns], references[num_returns:]

    def get(self, reference):
        if not (isinstance(reference, tuple) and reference[0] == "attempt"):
            return reference  # the inbox's collect
        ending = self.endings.pop(0)
        if ending == "lost":
            raise self.exceptions.WorkerCrashedError("The worker died unexpectedly\nworker lost")
        if ending == "error":
            raise self.exceptions.RayTaskError("Traceback ...\nValueError: the training's own error")
        return {"files": self.finished_files, "node": "10.0.0.2", "resumed_from": 0, "began": 0.0, "ended": 1.0}

    def cancel(self, reference, force):
        self.cancelled.append(reference)


@pytest.fixture
def fake_cluster(monkeypatch, tmp_path):
    """(make(endings) -> a RayExecutor on a FakeRay, the run to train, its folder)."""
    config = SMOKE.configs("gmvae")[0]
    mnist = tmp_path / "mnist.npz"
    mnist.write_bytes(b"images")
    monkeypatch.setattr("gmvae.data.resolve_mnist_path", lambda data_path: mnist)
    monkeypatch.setattr("gmvae.data.check_sha256", lambda path: None)
    record = {"config": dataclasses.asdict(config),
              "status": {"completed_epochs": config.epochs, "nan_epoch": None, "train_seconds": 90.0}}
    finished = {"log.csv": b"epoch\n1\n2\n", "run.json": json.dumps(record).encode()}

    def make(endings):
        fake = FakeRay(endings, finished)
        monkeypatch.setattr(ray_training, "import_ray", lambda: fake)
        return ray_training.RayExecutor(None), fake
    return make, config, runs.run_dir(tmp_path / "results", config.run_name, config.seed)


def test_a_run_whose_worker_is_lost_every_time_is_submitted_once_and_retried_retries_times_then_fails(fake_cluster):
    make, config, run_dir = fake_cluster
    executor, fake = make(["lost"] * (1 + ray_training.RETRIES))
    said = []
    with pytest.raises(local_training.TrainingError, match="1 run\\(s\\) failed on the Ray cluster: gmvae seed 0: "
                                                           "worker lost"):
        executor.train_runs([(config, run_dir)], run_dir.parents[2], say=said.append)
    assert fake.attempts == [1, 2, 3, 4] and ray_training.RETRIES == 3
    assert [line.split("; ")[1] for line in said if "worker was lost" in line] == [
        "attempt 2 of 4", "attempt 3 of 4", "attempt 4 of 4"]
    assert said[-1].startswith("gmvae seed 0: failed") and runs.read_record(run_dir) is None


def test_a_run_lost_retries_times_finishes_on_its_last_attempt(fake_cluster):
    make, config, run_dir = fake_cluster
    executor, fake = make(["lost"] * ray_training.RETRIES + ["done"])
    outcome, = executor.train_runs([(config, run_dir)], run_dir.parents[2], say=lambda line: None)
    assert fake.attempts == [1, 2, 3, 4] and outcome.attempts == 4
    assert outcome.train_minutes == 1.5 and runs.read_record(run_dir)["status"]["train_seconds"] == 90.0


def test_an_error_of_the_training_itself_is_not_retried(fake_cluster):
    make, config, run_dir = fake_cluster
    executor, fake = make(["error"])
    with pytest.raises(local_training.TrainingError, match="gmvae seed 0: ValueError: the training's own error"):
        executor.train_runs([(config, run_dir)], run_dir.parents[2], say=lambda line: None)
    assert fake.attempts == [1]
