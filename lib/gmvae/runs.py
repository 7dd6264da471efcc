"""A run's folder on disk: its CSV log and its JSON record (configuration and status).

    <run_dir>/log.csv       one row per completed epoch (LOG_COLUMNS)
    <run_dir>/run.json      {"config": {...TrainConfig...}, "status": {...}, "provenance": {...}}
    <run_dir>/checkpoints/  TensorFlow checkpoints (not committed)
    <run_dir>/.lock         the lock of the process training the run (not committed)

Files are replaced atomically (write a temporary file, then rename), so a process killed mid-write
leaves the previous complete version; a file that still cannot be read was damaged otherwise and
raises DamagedRunError. Only pandas and json here: plots read runs without TensorFlow.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

LOG_COLUMNS = [
    "epoch",          # 1-based; epoch e is after e x iters_per_epoch training steps
    "train_entropy",  # mean H(q(y|x)) in nats on train_eval_size random training images
    "test_entropy",
    "train_loss",     # mean negative ELBO in nats
    "test_loss",
    "test_recon",     # the test loss's terms: -E log p(x|z,y), KL over z, KL over y
    "test_kl_z",
    "test_kl_y",
    "test_mutual_information",  # I(x; y) = H(mean q(y|x)) - mean H(q(y|x)) on the test images; 0 = y unused
    "test_accuracy",  # cluster accuracy (most frequent digit per cluster)
    "test_nmi",
    "test_ari",
    "grad_norm_median",  # the epoch's steps' global gradient norms, before any clipping: median and maximum
    "grad_norm_max",
    "q_z_var_min",    # smallest variance of q(z|x,y) over the test images and every y; where a NaN can be born
    "decoder_var_min",  # modified M2: smallest of its decoder's variances v(y) (h = mu(y) + sqrt(v(y)) z)
    "prior_var_min",  # GMVAE: smallest of p(z|y)'s variances v(y)
    "log_q_y_min",    # smallest log q(y|x) over the test images (q(y|x) is 0 in float32 below about -87.3)
    "seconds",        # wall time of the epoch, training and evaluation
]


# Set by `gmvae reproduce` for the notebook kernels it starts, whose own command line says nothing.
COMMAND_VARIABLE = "GMVAE_COMMAND"


def command_line() -> str:
    """The command that started this process as a user would type it, or GMVAE_COMMAND if set."""
    if os.environ.get(COMMAND_VARIABLE):
        return os.environ[COMMAND_VARIABLE]
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "gmvae":
        argv[0] = "python -m gmvae"
    return " ".join(argv)


def run_dir(results_dir, run_name: str, seed: int) -> Path:
    return Path(results_dir) / "runs" / run_name / f"seed{seed}"


INCOMING = ".incoming"


def incoming_dir(results_dir, run_name: str, seed: int) -> Path:
    """Where a run trained on other machines (a Ray cluster) gathers, epoch by epoch, until it is complete and
    moves into run_dir: results/.incoming/runs/<run_name>/seed<k> (never committed)."""
    return run_dir(Path(results_dir) / INCOMING, run_name, seed)


# What `train --retrain` moves aside, into <run_dir>/previous-<date-time>/.
RUN_FILES = ("log.csv", "run.json", "checkpoints")


class DamagedRunError(RuntimeError):
    """A file of a run folder cannot be read; the message names it and how to start the run afresh."""

    def __init__(self, run_dir, problem: str):
        super().__init__(f"{problem}; to train this run again from epoch 1, add --retrain, which first moves log.csv, "
                         f"run.json and checkpoints/ into {Path(run_dir) / 'previous-<date-time>'}/ (nothing is deleted)")


def set_aside(run_dir) -> Path | None:
    """Move the run's files into <run_dir>/previous-<date-time>/ (returned), so training starts afresh;
    None if there was nothing to move."""
    present = [Path(run_dir) / name for name in RUN_FILES if (Path(run_dir) / name).exists()]
    if not present:
        return None
    aside = Path(run_dir) / time.strftime("previous-%Y%m%d-%H%M%S")
    aside.mkdir()  # fails rather than mixing two runs set aside in the same second
    for path in present:
        path.rename(aside / path.name)
    return aside


class RunLockedError(RuntimeError):
    """Another process is training in the run folder."""


LOCK_FILE = ".lock"


@contextlib.contextmanager
def locked(run_dir, *, wait: bool = False):
    """Hold the run folder's lock: an advisory flock on <run_dir>/.lock, into which the holder writes its
    pid and command for the message of whoever else asks. The OS releases a flock when its process ends,
    however it ends, so a killed run leaves no stale lock. The file itself stays: deleting it would let a
    process waiting on the deleted file and one creating a new file both hold "the" lock.

    Raises RunLockedError if another process holds it, unless ``wait``: then waits for it."""
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock.read().strip() or "a process that has not written its pid yet"
            if not wait:
                raise RunLockedError(f"{run_dir} is in use by another process ({holder}); try again when it has "
                                     "finished, or add --wait to wait for it") from None
            print(f"{run_dir}: waiting for {holder} to finish", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}: {command_line()}\n")
        lock.flush()
        yield


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Write a whole file or nothing: a temporary file beside it, renamed over it once on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_log(run_dir, log: pd.DataFrame) -> None:
    atomic_write_text(Path(run_dir) / "log.csv", log[LOG_COLUMNS].to_csv(index=False, float_format="%.6g"))


def read_log(run_dir) -> pd.DataFrame:
    """The run's log with LOG_COLUMNS (NaN for a column added after it was written); empty if it has none yet.
    Raises DamagedRunError for a log cut short, which pandas would read with the missing fields as NaN."""
    path = Path(run_dir) / "log.csv"
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in LOG_COLUMNS}).astype({"epoch": "int64"})
    text = path.read_text()
    problem = _log_problem(text)
    if problem:
        raise DamagedRunError(run_dir, f"{path} is damaged: {problem}")
    return pd.read_csv(io.StringIO(text)).reindex(columns=LOG_COLUMNS)


def _log_problem(text: str) -> str | None:
    """What shows that a log's text is not all that write_log wrote, or None."""
    lines = text.splitlines()
    if not text.endswith("\n"):
        return f"line {len(lines) or 1} is cut off (the file ends without a line break)"
    header_fields = lines[0].count(",") + 1
    for number, line in enumerate(lines[1:], start=2):
        if line.count(",") + 1 != header_fields:
            return f"line {number} has {line.count(',') + 1} fields where the header has {header_fields}"
    return None


def epoch_line(config, row, run_name: str | None = None) -> str:
    """One epoch of a log (``row``: a log row) as training prints it; ``config``: the run's TrainConfig; ``run_name``:
    the name to print, where not config's own (a run whose "auto" precision became float32 keeps its profile's)."""
    return (f"{run_name or config.run_name} seed {config.seed} epoch {int(row['epoch'])}/{config.epochs}: test loss "
            f"{row['test_loss']:.2f}, H(y|x) {row['test_entropy']:.3f}, accuracy {row['test_accuracy']:.3f} "
            f"({row['seconds']:.0f} s)")


def write_record(run_dir, record: dict) -> None:
    atomic_write_text(Path(run_dir) / "run.json", json.dumps(record, indent=2, sort_keys=True))


def read_record(run_dir) -> dict | None:
    """{"config": ..., "status": ..., "provenance": ...}, or None for a folder without a run."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedRunError(run_dir, f"{path} is damaged: it is not valid JSON ({error})") from None
    if not isinstance(record, dict) or not {"config", "status"} <= record.keys():
        raise DamagedRunError(run_dir, f"{path} is damaged: it lacks the run's config or status")
    return record


def read_run_files(run_dir) -> dict[str, bytes]:
    """A run as data, to move it between machines without a shared filesystem: log.csv, run.json and the
    files of checkpoints/ (the last checkpoint and its state file), by their paths inside the folder."""
    run_dir = Path(run_dir)
    paths = [run_dir / "log.csv", run_dir / "run.json", *sorted((run_dir / "checkpoints").glob("*"))]
    return {p.relative_to(run_dir).as_posix(): p.read_bytes()
            for p in paths if p.is_file() and not p.name.endswith(".tmp")}


def write_run_files(files: dict[str, bytes], run_dir) -> None:
    """Write a run read by read_run_files into ``run_dir`` in train's own order, each file atomically, so that a
    kill at any instant leaves a run that resumes to the same log: log.csv (rows past the checkpoint are dropped
    on resume), the checkpoint's pieces, its state file (which names them), then run.json (whose status says how
    far the run is). A checkpoint the state file no longer names is removed last."""
    run_dir = Path(run_dir)
    state = "checkpoints/checkpoint"
    pieces = [name for name in files if name.startswith("checkpoints/") and name != state]
    for name in ["log.csv", *pieces, state, "run.json"]:
        if name in files:
            atomic_write_bytes(run_dir / name, files[name])
    if pieces:
        for stale in (run_dir / "checkpoints").glob("ckpt-*"):
            if f"checkpoints/{stale.name}" not in files:
                stale.unlink()
