"""A profile's runs as tasks on a Ray cluster of two one-CPU nodes on this machine (ray.cluster_utils.Cluster).

Ray registers its nodes under the machine's network address and probes an outside one to find it, so these
tests run only where every network interface but loopback is absent: `make test` runs the suite in a network
namespace of its own (tests/in_loopback_namespace). Elsewhere they skip with one line; in CI they must run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
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
    write_partial(incoming, config.replace(learning_rate=0.01), 5)
    write_partial(run_dir, config, 3)  # ... and the run's own folder is still read
    assert started_at(ray_training._starting_point(config, run_dir, incoming, retrain=False)) == 3


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
    """The calls RayExecutor makes of Ray, answered here and recorded: each submitted attempt of a run ends as
    ``endings`` says in turn ("lost": its worker died, "error": the training raised, "done": the run came back
    complete, "interrupt": the driver is interrupted while it waits); each collect of the inbox returns the next of
    ``inbox`` ({run key: its folder's files}), then nothing."""

    class exceptions:  # noqa: N801 - as ray.exceptions
        class RayError(Exception):
            pass

        class RayTaskError(RayError):
            pass

        class WorkerCrashedError(RayError):
            pass

    def __init__(self, endings=(), finished_files=None, *, nodes=None, inbox=()):
        self.endings, self.finished_files, self.inbox = list(endings), finished_files, list(inbox)
        self.node_list = nodes if nodes is not None else [{"Alive": True, "Resources": {"CPU": 2.0}}]
        self.submissions, self.cancelled, self.put_values, self.waits = [], [], [], []
        self.init_options, self.task_decorator, self.actor_options, self.shutdowns = None, None, None, 0
        self.inbox_handle = type("Inbox", (), {"collect": type("Method", (), {"remote": lambda _: "collect"})()})()

    def init(self, **options):
        self.init_options = options

    def nodes(self):
        return self.node_list

    def shutdown(self):
        self.shutdowns += 1

    def put(self, value):
        self.put_values.append(value)
        return f"object {len(self.put_values)}"

    def remote(self, *target, **options):
        fake = self
        if target:  # ray.remote(_Inbox)
            class Actor:
                def options(self, **actor_options):
                    fake.actor_options = actor_options
                    return type("Handle", (), {"remote": lambda _: fake.inbox_handle})()
            return Actor()
        self.task_decorator = options

        class Task:
            def options(self, **task_options):
                return type("Bound", (), {"remote": lambda _, *args: fake.submit(task_options, args)})()
        return lambda function: Task()

    @property
    def attempts(self) -> list[int]:
        """The attempt number of each submission, in order."""
        return [args[2] for _, args in self.submissions]

    def submit(self, task_options, args):
        self.submissions.append((task_options, args))
        return ("attempt", len(self.submissions) - 1)

    def wait(self, references, num_returns, timeout):
        self.waits.append(timeout)
        if self.endings and self.endings[0] == "interrupt":
            raise KeyboardInterrupt
        return references[:num_returns], references[num_returns:]

    def get(self, reference):
        if reference == "collect":
            return self.inbox.pop(0) if self.inbox else {}
        ending = self.endings.pop(0)
        if ending == "lost":
            raise self.exceptions.WorkerCrashedError("The worker died unexpectedly\nat node 10.0.0.2\nworker lost")
        if ending == "error":
            raise self.exceptions.RayTaskError("Traceback ...\nValueError: the training's own error")
        start = self.submissions[reference[1]][1][4]
        resumed = started_at(start) or 0
        return {"files": self.finished_files, "node": "10.0.0.2", "resumed_from": resumed, "began": 5.0,
                "ended": 65.0}

    def cancel(self, reference, force):
        self.cancelled.append((reference, force))


@pytest.fixture
def fake_cluster(monkeypatch, tmp_path):
    """(make(endings, inbox=..., **executor options) -> a RayExecutor on a FakeRay and the FakeRay, the run to
    train, its folder)."""
    config = SMOKE.configs("gmvae")[0]
    mnist = tmp_path / "mnist.npz"
    mnist.write_bytes(b"images")
    monkeypatch.setattr("gmvae.data.resolve_mnist_path", lambda data_path: mnist)
    monkeypatch.setattr("gmvae.data.check_sha256", lambda path: None)
    record = {"config": dataclasses.asdict(config),
              "status": {"completed_epochs": config.epochs, "nan_epoch": None, "train_seconds": 90.0}}
    finished = {"log.csv": b"epoch\n1\n2\n", "run.json": json.dumps(record).encode()}

    def make(endings, inbox=(), **options):
        fake = FakeRay(endings, finished, inbox=inbox)
        monkeypatch.setattr(ray_training, "import_ray", lambda: fake)
        return ray_training.RayExecutor(None, **options), fake
    return make, config, runs.run_dir(tmp_path / "results", config.run_name, config.seed)


def first_epoch_files(config: TrainConfig, tmp_path: Path) -> dict:
    """A run folder after its first epoch, as a task sends it to the inbox."""
    write_partial(tmp_path / "first_epoch", config, 1)
    return runs.read_run_files(tmp_path / "first_epoch")


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


def test_each_run_goes_out_as_one_task_with_its_resources_data_and_driver_and_comes_back_into_results(
        fake_cluster, monkeypatch, tmp_path):
    """A complete run is not submitted; the other goes out with the CPUs and GPUs asked for, the MNIST bytes put
    once, the driver's command and precision; its first epoch gathers in results/.incoming/, which goes once the
    run is in results/runs/."""
    make, config, run_dir = fake_cluster
    results = run_dir.parents[2]
    monkeypatch.setenv(runs.COMMAND_VARIABLE, "python -m gmvae reproduce --executor ray")
    key, incoming = "gmvae/seed0", runs.incoming_dir(results, "gmvae", 0)
    executor, fake = make(["done"], inbox=[{key: first_epoch_files(config, tmp_path)}], cpus_per_run=2,
                          gpus_per_run=0.5)
    complete = SMOKE.configs("m2")[0]
    write_partial(runs.run_dir(results, "m2", 0), complete, complete.epochs)
    said = []
    outcome, = executor.train_runs([(complete, runs.run_dir(results, "m2", 0)), (config, run_dir)], results,
                                   say=lambda line: said.append(line) or said.append(incoming.is_dir()),
                                   poll_seconds=0.5)
    assert fake.task_decorator == {"max_calls": 1, "max_retries": 0} and fake.actor_options == {"num_cpus": 0}
    [(options, args)] = fake.submissions
    assert options == {"num_cpus": 2, "num_gpus": 0.5, "name": "gmvae gmvae seed0"}
    assert args == (dataclasses.asdict(config), key, 1, "object 1", None, fake.inbox_handle,
                    "python -m gmvae reproduce --executor ray", "float32")
    assert fake.put_values == [b"images"] and fake.waits == [0.5]
    assert said == [f"gmvae seed 0: submitted ({config.epochs} epochs); its epochs gather in {incoming}", False,
                    "gmvae seed 0: done on 10.0.0.2, 1.5 min of training", False]
    assert outcome == ray_training.RunOutcome("gmvae", 0, "10.0.0.2", 1, 0, 1.5, 5.0, 65.0)
    assert (run_dir / "log.csv").read_bytes() == b"epoch\n1\n2\n" and runs.read_record(run_dir)["status"][
        "train_seconds"] == 90.0
    assert not incoming.exists()


def test_a_lost_worker_is_followed_by_an_attempt_from_the_last_epoch_it_sent(fake_cluster, tmp_path):
    make, config, run_dir = fake_cluster
    first_epoch = first_epoch_files(config, tmp_path)
    executor, fake = make(["lost", "done"], inbox=[{}, {"gmvae/seed0": first_epoch}])  # sent just before it died
    said = []
    outcome, = executor.train_runs([(config, run_dir)], run_dir.parents[2], say=said.append)
    assert fake.attempts == [1, 2] and fake.submissions[1][1][4] == first_epoch
    assert said[1:] == ["gmvae seed 0: its worker was lost (worker lost); attempt 2 of 4, resuming after epoch 1",
                        "gmvae seed 0: done on 10.0.0.2, 1.5 min of training (attempt 2, resumed from epoch 1)"]
    assert (outcome.attempts, outcome.resumed_from) == (2, 1) and fake.waits == [2.0, 2.0]


def test_an_interrupted_driver_keeps_the_epochs_that_came_back_and_cancels_its_tasks(fake_cluster, tmp_path):
    make, config, run_dir = fake_cluster
    first_epoch = first_epoch_files(config, tmp_path)
    executor, fake = make(["interrupt"], inbox=[{"gmvae/seed0": first_epoch}])
    with pytest.raises(KeyboardInterrupt):
        executor.train_runs([(config, run_dir)], run_dir.parents[2], say=lambda line: None)
    assert fake.cancelled == [(("attempt", 0), True)]
    incoming = runs.incoming_dir(run_dir.parents[2], "gmvae", 0)
    assert runs.read_run_files(incoming) == first_epoch and runs.read_record(run_dir) is None


def test_nothing_is_submitted_or_read_when_every_run_is_complete(fake_cluster, monkeypatch):
    make, config, run_dir = fake_cluster
    executor, fake = make([])
    write_partial(run_dir, config, config.epochs)
    monkeypatch.setattr("gmvae.data.resolve_mnist_path", lambda data_path: pytest.fail("MNIST read"))
    assert executor.train_runs([(config, run_dir)], run_dir.parents[2], say=pytest.fail) == []
    assert fake.submissions == [] and fake.put_values == []


def test_connecting_counts_the_live_nodes_and_the_runs_they_train_at_once(monkeypatch):
    nodes = [{"Alive": True, "Resources": {"CPU": 2.0}}, {"Alive": True, "Resources": {"CPU": 5.0}},
             {"Alive": False, "Resources": {"CPU": 8.0}}, {"Alive": True, "Resources": {"GPU": 1.0}}]
    fake = FakeRay(nodes=nodes)
    monkeypatch.setattr(ray_training, "import_ray", lambda: fake)
    with ray_training.RayExecutor("auto", cpus_per_run=2) as executor:
        assert fake.init_options == {"address": "auto", "include_dashboard": False, "log_to_driver": False,
                                     "logging_level": "warning"}
        assert executor.node_cpus == [5.0, 2.0, 0] and executor.parallel_runs == 2 + 1
        assert executor.describe() == "Ray cluster of 3 node(s) with 7 CPUs: 3 run(s) at once"
        assert fake.shutdowns == 0
    assert fake.shutdowns == 1
    assert ray_training.RayExecutor("auto").parallel_runs == 7
    assert ray_training.RayExecutor("auto", cpus_per_run=5).parallel_runs == 1
    with pytest.raises(ValueError, match=re.escape("no node of the Ray cluster has 6 CPU(s) for a run (nodes: "
                                                   "[5.0, 2.0, 0]); lower --cpus-per-run")):
        ray_training.RayExecutor("auto", cpus_per_run=6)
    assert fake.shutdowns == 2


def test_a_cluster_that_refuses_the_connection_is_named_with_what_to_do(monkeypatch):
    fake = FakeRay()
    fake.init = lambda **options: (_ for _ in ()).throw(ConnectionError("no head node"))
    monkeypatch.setattr(ray_training, "import_ray", lambda: fake)
    with pytest.raises(ValueError, match=re.escape("cannot connect to a Ray cluster at 'auto' (no head node); start "
                                                   "one with `ray start --head`, or give its head's host:port with "
                                                   "--address")):
        ray_training.RayExecutor("auto")


def test_only_a_host_and_port_are_tried_and_one_that_answers_passes(monkeypatch):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        ray_training._check_reachable(f"127.0.0.1:{port}")
        ray_training._check_reachable(f"ray://127.0.0.1:{port}")
    with pytest.raises(ValueError, match=f"^no Ray cluster answers at ray://127.0.0.1:{port} .*give the head's "
                                         "host:port, as `ray start --head` printed it, with --address$"):
        ray_training._check_reachable(f"ray://127.0.0.1:{port}", timeout=1.0)
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: pytest.fail("tried to connect"))
    for address in (None, "auto", "127.0.0.1", "127.0.0.1:port", ":6379"):
        ray_training._check_reachable(address)


def test_the_line_of_a_resumed_task_names_the_epoch_it_resumes_after(tmp_path):
    config = SMOKE.configs("gmvae")[0]
    assert ray_training._from_epoch(None) == "" and ray_training._from_epoch({"log.csv": b""}) == ""
    assert ray_training._from_epoch(first_epoch_files(config, tmp_path)) == ", resuming after epoch 1"
    write_partial(tmp_path / "none", config, 0)
    assert ray_training._from_epoch(runs.read_run_files(tmp_path / "none")) == ""


def test_a_task_trains_in_a_fresh_folder_from_its_start_on_the_bytes_it_was_sent_and_sends_each_epoch(
        monkeypatch, tmp_path):
    """The task's body in this process, Ray and training replaced by recorders: TensorFlow's thread pools sized to
    the task's CPUs, the driver's precision and a command naming the task, train() on the MNIST bytes sent, in a
    folder holding the start, each epoch's folder sent to the inbox, the finished folder returned."""
    import types

    from gmvae import machine
    from gmvae.quiet_import import tf

    sent, threads, trained, resources = [], [], {}, {"CPU": 3.0}
    fake_ray = types.SimpleNamespace(
        get_runtime_context=lambda: types.SimpleNamespace(get_assigned_resources=lambda: resources),
        util=types.SimpleNamespace(get_node_ip_address=lambda: "10.0.0.7"))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", lambda n: threads.append(("intra", n)))
    monkeypatch.setattr(tf.config.threading, "set_inter_op_parallelism_threads", lambda n: threads.append(("inter", n)))
    monkeypatch.delenv(machine.PRECISION_VARIABLE, raising=False)
    monkeypatch.delenv(runs.COMMAND_VARIABLE, raising=False)
    config = SMOKE.configs("gmvae")[0]

    def fake_train(train_config, run_dir, *, data_path, progress, after_epoch):
        trained.update(config=train_config, data=Path(data_path).read_bytes(), progress=progress,
                       precision=os.environ.get(machine.PRECISION_VARIABLE),
                       command=os.environ.get(runs.COMMAND_VARIABLE),
                       start=(runs.read_record(run_dir) or {}).get("status", {}).get("completed_epochs"))
        write_partial(run_dir, train_config, 2)
        after_epoch(run_dir)
        return pd.DataFrame()

    monkeypatch.setattr("gmvae.train.train", fake_train)
    inbox = types.SimpleNamespace(put=types.SimpleNamespace(remote=lambda key, files: sent.append((key, files))))
    result = ray_training._train_task(dataclasses.asdict(config), "gmvae/seed0", 2, b"mnist bytes",
                                      first_epoch_files(config, tmp_path), inbox, "python -m gmvae reproduce",
                                      "float32")
    assert threads == [("intra", 3), ("inter", 3)]
    assert trained == {"config": config, "data": b"mnist bytes", "progress": False, "precision": "float32",
                       "command": "Ray task gmvae/seed0 on 10.0.0.7, attempt 2 [started by python -m gmvae reproduce]",
                       "start": 1}
    write_partial(tmp_path / "expected", config, 2)
    assert sent == [("gmvae/seed0", runs.read_run_files(tmp_path / "expected"))]
    assert result["files"] == runs.read_run_files(tmp_path / "expected")
    assert (result["node"], result["resumed_from"]) == ("10.0.0.7", 1)
    assert result["began"] <= result["ended"] <= time.time()
    # from epoch 1 and without a precision of the driver's: none set
    monkeypatch.delenv(machine.PRECISION_VARIABLE, raising=False)
    result = ray_training._train_task(dataclasses.asdict(config), "gmvae/seed0", 1, b"mnist bytes", None, inbox,
                                      "python -m gmvae reproduce", None)
    assert result["resumed_from"] == 0 and (trained["start"], trained["precision"]) == (None, None)
    for assigned in ({"CPU": 0.5}, {}):  # a fraction of a CPU, or none named: one thread
        threads.clear()
        resources = assigned
        ray_training._train_task(dataclasses.asdict(config), "gmvae/seed0", 1, b"mnist bytes", None, inbox,
                                 "python -m gmvae reproduce", None)
        assert threads == [("intra", 1), ("inter", 1)]


def test_a_run_begun_on_this_machine_goes_out_from_its_last_epoch_without_gpus(fake_cluster, tmp_path):
    make, config, run_dir = fake_cluster
    executor, fake = make(["done"])
    write_partial(run_dir, config, 1)
    said = []
    executor.train_runs([(config, run_dir)], run_dir.parents[2], say=said.append)
    [(options, args)] = fake.submissions
    assert options["num_gpus"] == 0 and args[4] == first_epoch_files(config, tmp_path)
    assert said[0].startswith(f"gmvae seed 0: submitted ({config.epochs} epochs, resuming after epoch 1); ")
