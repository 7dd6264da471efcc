"""A profile's runs trained on a Ray cluster: one task per run, the results gathered into one results/.

    python -m gmvae reproduce --profile post --long --executor ray --address auto   # or a head node's host:port

How a run travels:

* **Task.** Each run that results/ does not hold complete is one Ray task asking for the CPUs (and GPUs) of
  one training (``--cpus-per-run``, default 1: a training step shares cores poorly, docs/performance.md).
  The task calls gmvae.train.train in a worker process of its own (``max_calls=1``), whose TensorFlow
  thread pools are sized to the task's CPUs, into a temporary folder on its node.
* **No shared filesystem.** MNIST travels with the tasks: the driver reads and checks the file it would
  train on locally and puts its 11 MB into Ray's object store once, so every node trains on the same bytes
  and needs nothing but the package and its pinned dependencies. After every epoch the task sends the run
  folder (log.csv, run.json, the last checkpoint: 25 MB for the GMVAE) to a small actor; the driver copies
  each new one into results/.incoming/runs/<run>/seed<k>/ on its own disk. A finished run comes back as
  the task's result and is written into results/runs/<run>/seed<k>/ in train's own order (run.json last,
  runs.write_run_files), so results/ holds a run only once it is complete.
* **Faults.** A worker killed or its node lost: the driver submits the run again (RETRIES times) from the
  last epoch that came back, else from epoch 1; train's resume makes the log the one an uninterrupted run
  writes (the seconds aside). The driver retries rather than Ray (``max_retries=0``) because Ray's own retry
  repeats the first attempt's arguments, and because a task must not block on an actor to learn where to
  begin: Ray lends a blocked task's CPU to the next queued task, which then keeps it, so more runs than
  cores would train at once. An error in the training itself is not retried. The
  driver killed: its tasks end with it, and the same command submits only the runs not complete in
  results/, each resuming from results/.incoming/. Two drivers on one results folder: the driver holds each
  of its runs' folder locks (runs.locked) from submission to the end, so a second one stops with an error.

Ray is imported only here, and only when ``--executor ray`` asks for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.machine import PRECISION_VARIABLE
from gmvae.reproduction.local_training import TrainingError, print_now
from gmvae.reproduction.pipeline import run_state

RAY_REQUIREMENT = "ray==2.60.0"  # the pin of pyproject.toml's extra "ray"
RETRIES = 3                      # attempts after the first when a worker or its node dies (as Ray's default)


class RayMissingError(RuntimeError):
    """--executor ray without Ray installed."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayMissingError(f"--executor ray needs Ray: pip install -e '.[ray]' (installs {RAY_REQUIREMENT})") \
            from None
    return ray


@dataclasses.dataclass
class RunOutcome:
    """How one run trained on the cluster."""
    name: str
    seed: int
    node: str              # the address of the node that finished it
    attempts: int          # 1, or more when its worker was lost and the driver submitted it again
    resumed_from: int      # epochs already trained when the last attempt began
    train_minutes: float   # its epochs' time, over every attempt (run.json's train_seconds)
    began: float           # when the last attempt's task began and ended on its node (time.time())
    ended: float


class _Inbox:
    """Each run's folder as its task last sent it, until the driver collects it."""

    def __init__(self):
        self._unseen = {}

    def put(self, key: str, files: dict) -> None:
        self._unseen[key] = files

    def collect(self) -> dict:
        unseen, self._unseen = self._unseen, {}
        return unseen


def _train_task(config_fields: dict, key: str, attempt: int, mnist: bytes, start: dict | None, inbox,
                driver_command: str, precision: str | None) -> dict:
    """Body of a run's Ray task, in a fresh worker: train into a temporary folder from ``start`` (a run folder
    as runs.read_run_files gives it, or None), sending the folder to ``inbox`` after every epoch without
    waiting (a wait would lend this task's CPU away); return the finished folder. ``precision``: the driver's
    GMVAE_PRECISION, if set."""
    import ray

    from gmvae.quiet_import import tf

    began = time.time()
    cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    tf.config.threading.set_intra_op_parallelism_threads(cpus)  # before TensorFlow's runtime starts
    tf.config.threading.set_inter_op_parallelism_threads(cpus)
    if precision:
        os.environ[PRECISION_VARIABLE] = precision
    node = ray.util.get_node_ip_address()
    os.environ[runs.COMMAND_VARIABLE] = f"Ray task {key} on {node}, attempt {attempt} [started by {driver_command}]"
    from gmvae.train import train

    config = TrainConfig(**config_fields)
    with tempfile.TemporaryDirectory(prefix="gmvae-ray-") as scratch:
        run_dir, mnist_path = Path(scratch) / "run", Path(scratch) / "mnist.npz"
        mnist_path.write_bytes(mnist)
        if start:
            runs.write_run_files(start, run_dir)
        resumed_from = int((runs.read_record(run_dir) or {}).get("status", {}).get("completed_epochs") or 0)
        train(config, run_dir, data_path=mnist_path, progress=False,
              after_epoch=lambda folder: inbox.put.remote(key, runs.read_run_files(folder)))
        return {"files": runs.read_run_files(run_dir), "node": node, "resumed_from": resumed_from,
                "began": began, "ended": time.time()}


class RayExecutor:
    """A connection to a Ray cluster (``address``: "auto", host:port of its head, or None for a Ray started
    on this machine for the session) that trains runs on it. A context manager: leaving it disconnects."""

    def __init__(self, address: str | None = None, *, cpus_per_run: float = 1, gpus_per_run: float = 0):
        self.ray = import_ray()
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, gpus_per_run
        _check_reachable(address)
        try:
            self.ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="warning")
        except ConnectionError as error:
            raise ValueError(f"cannot connect to a Ray cluster at {address!r} ({error}); start one with `ray start "
                             "--head`, or give its head's host:port with --address") from None
        nodes = [n for n in self.ray.nodes() if n["Alive"]]
        self.node_cpus = sorted((n["Resources"].get("CPU", 0) for n in nodes), reverse=True)
        if not self.node_cpus or self.node_cpus[0] < cpus_per_run:
            self.close()
            raise ValueError(f"no node of the Ray cluster has {cpus_per_run:g} CPU(s) for a run (nodes: "
                             f"{self.node_cpus}); lower --cpus-per-run")

    @property
    def parallel_runs(self) -> int:
        """Runs that train at once on the cluster as it is now."""
        return max(1, sum(int(cpus // self.cpus_per_run) for cpus in self.node_cpus))

    def describe(self) -> str:
        return (f"Ray cluster of {len(self.node_cpus)} node(s) with {sum(self.node_cpus):g} CPUs: "
                f"{self.parallel_runs} run(s) at once")

    def close(self) -> None:
        self.ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def train_runs(self, todo: list[tuple[TrainConfig, Path]], results_dir, *, data_path=None, retrain=False,
                   say=print_now, poll_seconds: float = 2.0) -> list[RunOutcome]:
        """Train each (config, run folder) of ``todo`` as a task; return how each went. Raises
        runs.RunLockedError if another process holds a run's folder, TrainingError (after the others have
        finished) if any run failed."""
        from gmvae.data import check_sha256, resolve_mnist_path

        ray = self.ray
        with contextlib.ExitStack() as held:
            for _, run_dir in todo:
                held.enter_context(runs.locked(run_dir))
            todo = [(c, d) for c, d in todo if retrain or run_state(d, c) != "complete"]  # another driver's, meanwhile
            if not todo:
                return []
            mnist_path = resolve_mnist_path(data_path)
            check_sha256(mnist_path)  # once here, rather than failing in every task
            mnist = ray.put(mnist_path.read_bytes())
            inbox = ray.remote(_Inbox).options(num_cpus=0).remote()
            task = ray.remote(max_calls=1, max_retries=0)(_train_task)
            driver_command, precision = runs.command_line(), os.environ.get(PRECISION_VARIABLE)
            incoming_of = {_key(c): runs.incoming_dir(results_dir, c.run_name, c.seed) for c, _ in todo}
            submitted: dict = {}  # task reference -> (config, run folder, attempt)

            def submit(config: TrainConfig, run_dir: Path, attempt: int, start: dict | None) -> None:
                reference = task.options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                                         name=f"gmvae {config.run_name} seed{config.seed}").remote(
                    dataclasses.asdict(config), _key(config), attempt, mnist, start, inbox, driver_command, precision)
                submitted[reference] = (config, run_dir, attempt)

            def gather() -> None:
                for key, files in ray.get(inbox.collect.remote()).items():
                    runs.write_run_files(files, incoming_of[key])

            for config, run_dir in todo:
                start = _starting_point(config, run_dir, incoming_of[_key(config)], retrain)
                submit(config, run_dir, 1, start)
                say(f"{config.run_name} seed {config.seed}: submitted ({config.epochs} epochs{_from_epoch(start)}); "
                    f"its epochs gather in {incoming_of[_key(config)]}")
            outcomes, failed = [], []
            try:
                while submitted:
                    finished, _ = ray.wait(list(submitted), num_returns=1, timeout=poll_seconds)
                    gather()
                    for reference in finished:
                        config, run_dir, attempt = submitted.pop(reference)
                        name, incoming = f"{config.run_name} seed {config.seed}", incoming_of[_key(config)]
                        try:
                            result = ray.get(reference)
                        except ray.exceptions.RayError as error:
                            reason = str(error).strip().splitlines()[-1][:300]
                            if isinstance(error, ray.exceptions.RayTaskError) or attempt > RETRIES:
                                failed.append(f"{name}: {reason}")  # the training's own error is not retried
                                say(f"{name}: failed; the epochs that came back stay in {incoming}")
                                continue
                            gather()  # what the lost worker sent last
                            start = _starting_point(config, run_dir, incoming, retrain=False)
                            submit(config, run_dir, attempt + 1, start)
                            say(f"{name}: its worker was lost ({reason}); attempt {attempt + 1} of {1 + RETRIES}"
                                f"{_from_epoch(start)}")
                            continue
                        runs.write_run_files(result["files"], run_dir)
                        shutil.rmtree(incoming, ignore_errors=True)
                        train_minutes = json.loads(result["files"]["run.json"])["status"]["train_seconds"] / 60
                        outcome = RunOutcome(config.run_name, config.seed, result["node"], attempt,
                                             result["resumed_from"], train_minutes, result["began"], result["ended"])
                        outcomes.append(outcome)
                        retried = ("" if attempt == 1 else
                                   f" (attempt {attempt}, resumed from epoch {result['resumed_from']})")
                        say(f"{name}: done on {outcome.node}, {train_minutes:.1f} min of training{retried}")
            finally:  # interrupted too: keep what came back, stop what still trains (the same command resumes it)
                with contextlib.suppress(Exception):
                    gather()
                for reference in submitted:
                    ray.cancel(reference, force=True)
            if failed:
                raise TrainingError(f"{len(failed)} run(s) failed on the Ray cluster: " + "; ".join(failed))
            return outcomes


def _key(config: TrainConfig) -> str:
    return f"{config.run_name}/seed{config.seed}"


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """Raise ValueError at once if ``address`` is a host:port that takes no connection (Ray itself retries for
    many minutes)."""
    host, _, port = (address or "").rpartition("://")[2].rpartition(":")
    if not host or not port.isdigit():
        return  # None, "auto" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ValueError(f"no Ray cluster answers at {address} ({error}); give the head's host:port, as "
                         "`ray start --head` printed it, with --address") from None


def _starting_point(config: TrainConfig, run_dir: Path, incoming: Path, retrain: bool) -> dict | None:
    """The run folder a task begins from: the further along of results/.incoming/ (epochs that came back before
    the driver stopped) and results/runs/ (a run begun on this machine), if it holds this configuration; None to
    start at epoch 1. With ``retrain`` both are cleared first (the run folder's files moved aside, as train does)."""
    if retrain:
        runs.set_aside(run_dir)
        shutil.rmtree(incoming, ignore_errors=True)
        return None
    best, best_epochs = None, -1
    for folder in (incoming, run_dir):
        record = runs.read_record(folder)
        if record is None:
            continue
        if config.differences(record.get("config") or {}):
            if folder == incoming:  # left by a run of another profile: not this run's epochs
                shutil.rmtree(incoming)
            continue
        epochs = int((record.get("status") or {}).get("completed_epochs") or 0)
        if epochs > best_epochs:
            best, best_epochs = folder, epochs
    return None if best is None else runs.read_run_files(best)


def _from_epoch(start: dict | None) -> str:
    if not start or "run.json" not in start:
        return ""
    done = int(json.loads(start["run.json"]).get("status", {}).get("completed_epochs") or 0)
    return f", resuming after epoch {done}" if done else ""
