"""A profile's runs trained on this machine, several at once: one `python -m gmvae train` process per run,
each pinned to a core of its own.

Why: a training step is a chain of mid-sized matrix products and elementwise passes that two cores share
poorly, so independent runs side by side, one core each, train more epochs an hour than one run on both
cores (GMVAE, 2 cores, `python -m gmvae bench`: 1.22x on an AMD EPYC in bfloat16, 1.35x on an Intel Xeon in
float32; docs/performance.md). A run pinned to one core logs the same numbers as one on every core
(tests/test_local_training.py), so which way a run trained does not show in its log.

Each process writes its run folder as `train` always does (resumable, locked), and its own output to
<run>/train.out (not committed). Interrupted, the same command resumes every run from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

from gmvae import runs
from gmvae.config import TrainConfig


class TrainingError(RuntimeError):
    """One or more runs ended with an error; the message names each and the end of its output."""


def print_now(message: str) -> None:
    """The default ``say``: a line on stdout, at once (it may be a log file)."""
    print(message, flush=True)


def usable_cores() -> list[int]:
    """The cores this process may run on (Linux), or [] where the system cannot pin a process to a core."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def default_jobs() -> int:
    """Runs trained at once: one per usable core (one at a time where processes cannot be pinned)."""
    return max(1, len(usable_cores()))


def train_command(config: TrainConfig, out_dir, data_path=None) -> list[str]:
    """The `python -m gmvae train` command line that trains ``config`` into ``out_dir``: every field that differs
    from TrainConfig's default, and model, epochs and seed always; --long, as the caller has weighed the whole
    plan (`reproduce` refuses a long one without its own --long)."""
    defaults = TrainConfig()
    command = [sys.executable, "-m", "gmvae", "train", "--out", str(out_dir), "--no-progress", "--long"]
    for field in dataclasses.fields(TrainConfig):
        value = getattr(config, field.name)
        if field.name in ("model", "epochs", "seed") or value != getattr(defaults, field.name):
            command += [f"--{field.name.replace('_', '-')}", str(value)]
    if data_path is not None:
        command += ["--data", str(data_path)]
    return command


@dataclasses.dataclass
class _Job:
    config: TrainConfig
    out_dir: Path
    process: subprocess.Popen
    core: int | None
    started: float


def train_runs(todo: list[tuple[TrainConfig, Path]], *, jobs: int | None = None, data_path=None, retrain=False,
               say=print_now, poll_seconds: float = 1.0) -> None:
    """Train each (config, run folder) of ``todo``, ``jobs`` at a time (default: one per usable core), in the
    order given; with more than one job each process is pinned to its own core. ``retrain``: each run first moves
    the run in its folder aside (train --retrain). Raises TrainingError after the others have finished if any
    run failed."""
    cores = usable_cores()
    jobs = max(1, min(jobs or default_jobs(), len(todo) or 1))
    pin = jobs > 1 and len(cores) >= jobs
    free_cores = list(cores[:jobs]) if pin else [None] * jobs
    queue, running, failed = list(todo), [], []
    try:
        while queue or running:
            while queue and free_cores:
                config, out_dir = queue.pop(0)
                running.append(_start(config, Path(out_dir), free_cores.pop(0), data_path, retrain))
                core = running[-1].core
                say(f"{config.run_name} seed {config.seed}: training {config.epochs} epochs into "
                    f"{out_dir}{'' if core is None else f' on core {core}'} (output: {out_dir}/train.out)")
            time.sleep(poll_seconds)
            for job in [j for j in running if j.process.poll() is not None]:
                running.remove(job)
                free_cores.append(job.core)
                minutes = (time.perf_counter() - job.started) / 60
                name = f"{job.config.run_name} seed {job.config.seed}"
                if job.process.returncode == 0:
                    say(f"{name}: done in {minutes:.1f} min")
                else:
                    failed.append(f"{name} (exit {job.process.returncode}): {_last_line(job.out_dir / 'train.out')}")
                    say(f"{name}: failed after {minutes:.1f} min; see {job.out_dir}/train.out")
    finally:  # interrupted: stop the trainings too (each resumes from its checkpoint next time)
        for job in running:
            job.process.terminate()
        for job in running:
            job.process.wait()
    if failed:
        raise TrainingError(f"{len(failed)} run(s) failed: " + "; ".join(failed))


def _start(config: TrainConfig, out_dir: Path, core: int | None, data_path, retrain: bool) -> _Job:
    out_dir.mkdir(parents=True, exist_ok=True)
    command = train_command(config, out_dir, data_path) + (["--retrain"] if retrain else [])
    environment = {**os.environ, runs.COMMAND_VARIABLE: _described_command(config, out_dir, core, data_path)}
    with open(out_dir / "train.out", "w") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=environment,
                                   preexec_fn=None if core is None else (lambda: os.sched_setaffinity(0, {core})))
    return _Job(config, out_dir, process, core, time.perf_counter())


def _described_command(config: TrainConfig, out_dir: Path, core: int | None, data_path) -> str:
    """The command as run.json records it: the train command, and the core it was pinned to."""
    command = " ".join(["python -m gmvae", *train_command(config, out_dir, data_path)[3:]])
    parent = runs.command_line()  # the command that started this one (GMVAE_COMMAND when that was a child too)
    pinned = "" if core is None else f"taskset -c {core} "
    return f"{pinned}{command} [started by {parent}]"


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"
