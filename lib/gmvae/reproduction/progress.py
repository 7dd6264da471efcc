"""One progress line for a whole reproduction: which run of how many is training, its epoch, and the time left.

The runs train in processes of their own (or on other machines), so the line is drawn from the outside: a
thread reads the run folders of the profile (log.csv, run.json) every few seconds. The time left is the epochs
still to train, each at the median epoch time measured so far in this reproduction for its run (or, before
that run's first epoch, for any run), so it is unknown until the first epoch ends.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gmvae import runs
from gmvae.reproduction.profiles import get_profile


@dataclass
class _Run:
    name: str
    seed: int
    epochs: int
    folder: Path
    incoming: Path                 # where a run training on a Ray cluster gathers until it is complete
    done_at_start: int = 0
    done: int = 0
    stopped: bool = False          # NaN: nothing more to train
    precision: str = ""
    new_epoch_seconds: tuple = ()  # epochs trained since this reproduction began


def profile_runs(profile: str, results_dir, seeds=None, epochs=None) -> list[_Run]:
    """Every run the profile trains, in the order the notebooks train them."""
    prof = get_profile(profile)
    return [_Run(run_name, config.seed, config.epochs, runs.run_dir(results_dir, run_name, config.seed),
                 runs.incoming_dir(results_dir, run_name, config.seed))
            for run_name in prof.seeds for config in prof.configs(run_name, seeds=seeds, epochs=epochs)]


def read_progress(run: _Run) -> None:
    """Update run from its folder (its incoming folder while it trains on a Ray cluster); a file caught
    mid-replacement is read at the next poll."""
    folder = run.incoming if (run.incoming / "run.json").exists() else run.folder
    try:
        log, record = runs.read_log(folder), runs.read_record(folder)
    except (runs.DamagedRunError, OSError, ValueError):
        return
    status = (record or {}).get("status") or {}
    run.stopped = status.get("nan_epoch") is not None
    run.precision = ((record or {}).get("config") or {}).get("precision", "")
    run.done = min(run.epochs, int(log["epoch"].max()) if len(log) else 0)
    new = log[log["epoch"] > run.done_at_start]["seconds"].dropna()
    run.new_epoch_seconds = tuple(new)


def seconds_left(all_runs: list[_Run], jobs: int = 1) -> float | None:
    """Training time left: each run's remaining epochs at its median measured epoch time, or the median over
    every epoch measured in this reproduction, shared among ``jobs`` runs at once; None before the first.
    (Runs side by side each take longer an epoch, which their measured times already hold.)"""
    measured = [s for r in all_runs for s in r.new_epoch_seconds]
    if not measured:
        return None
    fallback = float(np.median(measured))
    return sum((r.epochs - r.done) * (float(np.median(r.new_epoch_seconds)) if r.new_epoch_seconds else fallback)
               for r in all_runs if not r.stopped) / jobs


def status_line(all_runs: list[_Run], jobs: int = 1) -> str:
    """"run 3 of 6: gmvae seed 0 (mixed_bfloat16), epoch 12 of 50; about 41 min of training left", with one
    "run i of n: ..." part for each of the ``jobs`` runs training at once."""
    todo = [r for r in all_runs if not r.stopped and r.done < r.epochs]
    if not todo:
        return f"all {len(all_runs)} runs trained"
    left = seconds_left(all_runs, jobs)
    eta = "time left known after the first epoch" if left is None else f"about {_minutes(left)} of training left"
    parts = [f"run {all_runs.index(r) + 1} of {len(all_runs)}: {r.name} seed {r.seed}"
             f"{f' ({r.precision})' if r.precision else ''}, epoch {r.done + 1} of {r.epochs}" for r in todo[:jobs]]
    return f"{'; '.join(parts)}; {eta}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


class ReproductionProgress:
    """A context manager showing status_line while a reproduction runs: a tqdm bar over all epochs of the
    profile on a terminal, a printed line every `log_every` seconds elsewhere (log files, CI). Nothing
    if every run is already trained. `write` prints above the bar."""

    def __init__(self, profile: str, results_dir, seeds=None, epochs=None, *, jobs: int = 1, poll_seconds: float = 2.0,
                 log_every: float = 60.0, file=None):
        self.runs = profile_runs(profile, results_dir, seeds, epochs)
        self.jobs = jobs
        for run in self.runs:
            read_progress(run)
            run.done_at_start, run.new_epoch_seconds = run.done, ()
        self.poll_seconds, self.log_every = poll_seconds, log_every
        self.file = file if file is not None else sys.stderr
        self.active = any(not r.stopped and r.done < r.epochs for r in self.runs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._bar = None

    def __enter__(self) -> ReproductionProgress:
        if self.active:
            if self.file.isatty():
                self._bar = tqdm(total=sum(r.epochs for r in self.runs), initial=self._epochs_done(),
                                 file=self.file, dynamic_ncols=True,
                                 bar_format="{desc} |{bar}| {n}/{total} epochs, {elapsed} so far")
                self._update()
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            self._stop.set()
            self._thread.join()
            self._update()
            if self._bar is not None:
                self._bar.close()

    def write(self, message: str) -> None:
        """Print a line to stdout, above the bar if there is one."""
        if self._bar is not None:
            self._bar.write(message)  # to stdout
        else:
            print(message, flush=True)

    def _poll(self) -> None:
        last_logged = -math.inf  # the first poll prints
        while not self._stop.wait(self.poll_seconds):
            line = self._update()
            if self._bar is None and time.monotonic() - last_logged >= self.log_every:
                print(f"reproduce: {line}", file=self.file, flush=True)
                last_logged = time.monotonic()

    def _epochs_done(self) -> int:
        """Epochs trained, a run stopped at a NaN counting as all its epochs (nothing is left of it to train)."""
        return sum(r.epochs if r.stopped else r.done for r in self.runs)

    def _update(self) -> str:
        for run in self.runs:
            read_progress(run)
        line = status_line(self.runs, self.jobs)
        if self._bar is not None:
            self._bar.n = self._epochs_done()
            self._bar.set_description_str(line)  # and redraws with the new count
        return line
