"""A run's folder on disk: its CSV log and its JSON record (configuration and status).

    <run_dir>/log.csv       one row per completed epoch (LOG_COLUMNS)
    <run_dir>/run.json      {"config": {...TrainConfig...}, "status": {...}, "provenance": {...}}
    <run_dir>/checkpoints/  TensorFlow checkpoints (not committed)

Files are replaced atomically (write a temporary file, then rename), so a process killed mid-write
leaves the previous complete version. Only pandas and json here: plots read runs without TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
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


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_log(run_dir, log: pd.DataFrame) -> None:
    atomic_write_text(Path(run_dir) / "log.csv", log[LOG_COLUMNS].to_csv(index=False, float_format="%.6g"))


def read_log(run_dir) -> pd.DataFrame:
    """The run's log with LOG_COLUMNS (NaN for a column added after it was written); empty if it has none yet."""
    path = Path(run_dir) / "log.csv"
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in LOG_COLUMNS}).astype({"epoch": "int64"})
    return pd.read_csv(path).reindex(columns=LOG_COLUMNS)


def epoch_line(config, row) -> str:
    """One epoch of a log (``row``: a log row) as training prints it; ``config``: the run's TrainConfig."""
    return (f"{config.run_name} seed {config.seed} epoch {int(row['epoch'])}/{config.epochs}: test loss "
            f"{row['test_loss']:.2f}, H(y|x) {row['test_entropy']:.3f}, accuracy {row['test_accuracy']:.3f} "
            f"({row['seconds']:.0f} s)")


def write_record(run_dir, record: dict) -> None:
    atomic_write_text(Path(run_dir) / "run.json", json.dumps(record, indent=2, sort_keys=True))


def read_record(run_dir) -> dict | None:
    """{"config": ..., "status": ..., "provenance": ...}, or None for a folder without a run."""
    path = Path(run_dir) / "run.json"
    return json.loads(path.read_text()) if path.exists() else None
