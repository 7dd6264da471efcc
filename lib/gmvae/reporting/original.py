"""The original's published training logs and the post's figures, shipped with the package.

``original_material/`` holds, unchanged, the ``logs/`` and ``images/`` of RuiShu/vae-clustering at
commit 14525a9 (MIT License, copyright 2016 Rui Shu; LICENSE and README.md beside them), and
SHA256SUMS, against which every file is checked before use.

The logs are CSV with fixed-width columns ``tr_ent, tr_loss, t_ent, t_loss, t_acc, epoch``, written
with ``{:10.2e}``: three significant digits, so 1.03e+02 stands for anything from 102.5 to 103.5
(:func:`half_unit`). :func:`load_original_logs` returns them in the long form of
:func:`gmvae.reporting.plots.load_runs`, with ``source = "original"``, ``seed`` the replicate number of the
file name and the run names of this project (ORIGINAL_RUN_NAMES). A run that diverged logs ``nan`` losses
from its first NaN epoch on (``nan_epoch``); its accuracy there is argmax over NaN logits, not a
measurement, so every metric of those rows is NaN here.

pandas and hashlib only: no TensorFlow, so figures and tables are drawn offline from this material.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MATERIAL_DIR = Path(__file__).resolve().parent / "original_material"

# The original's script names (log file name before ".log.<replicate>") -> this project's run names.
# Variants the post does not discuss keep their own names.
ORIGINAL_RUN_NAMES = {
    "m2": "m2",
    "modified_m2_method=relu": "modified_m2",
    "modified_m2_method=identity": "modified_m2_identity",
    "modified_m2_method=layer": "modified_m2_relu_layer",
    "gmvae": "gmvae",
    "gmvae_k=16": "gmvae_k16",
}
K_OF_SCRIPT = {"gmvae_k=16": 16}  # every other script used K = 10

# The post's figures (first 200 epochs, drawn by the original's experiments.ipynb), by the figure of
# ours they stand beside.
POST_FIGURES = {
    "m2": "images/m2.png",
    "modified_m2": "images/modified_m2_method=relu.png",
    "gmvae": "images/gmvae.png",
    "overlay": "images/combined.png",
}
POST_HORIZON = 200  # epochs shown in the post's figures

# The original's column names -> ours.
_COLUMNS = {"tr_ent": "train_entropy", "tr_loss": "train_loss", "t_ent": "test_entropy",
            "t_loss": "test_loss", "t_acc": "test_accuracy", "epoch": "epoch"}
_LOG_NAME = re.compile(r"^(?P<script>.+)\.log\.(?P<replicate>\d+)$")


def expected_hashes(material_dir=MATERIAL_DIR) -> dict[str, str]:
    """{relative path: sha256} from SHA256SUMS."""
    sums = Path(material_dir) / "SHA256SUMS"
    hashes = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            hashes[name.strip()] = digest
    return hashes


def check_file(relative: str, material_dir=MATERIAL_DIR) -> str | None:
    """None if the file is present with its SHA256SUMS hash, else one line saying what is wrong."""
    material_dir = Path(material_dir)
    expected = expected_hashes(material_dir).get(relative)
    path = material_dir / relative
    if expected is None:
        return f"{path}: not listed in {material_dir / 'SHA256SUMS'}"
    if not path.is_file():
        return f"{path}: missing (reinstall gmvae or restore it with git checkout)"
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        return (f"{path}: sha256 {actual[:12]}... differs from {expected[:12]}... in SHA256SUMS "
                f"(altered; restore it with git checkout)")
    return None


def _warn(message: str) -> None:
    print(f"warning: {message}; drawing without it", file=sys.stderr)


def read_log(path) -> pd.DataFrame:
    """One original log as a frame with our column names; the metrics of NaN-loss rows set to NaN."""
    log = pd.read_csv(path, skipinitialspace=True)
    log.columns = [c.strip() for c in log.columns]
    log = log.rename(columns=_COLUMNS)[list(_COLUMNS.values())].astype(float)
    diverged = ~np.isfinite(log["test_loss"]) | ~np.isfinite(log["train_loss"])
    log.loc[diverged, [c for c in log.columns if c != "epoch"]] = np.nan
    log["epoch"] = log["epoch"].astype(int)
    return log


def load_original_logs(run_names=None, material_dir=MATERIAL_DIR) -> pd.DataFrame:
    """Every original log (or those of ``run_names``) in the long form of plots.load_runs.

    Columns: epoch, the five logged metrics, ``run_name``, ``seed`` (replicate), ``nan_epoch`` (first
    epoch with a NaN loss, else NaN), ``k``, ``iters_per_epoch`` (500), ``batch_size`` (100), ``source``
    ("original"). A file that is missing or altered is left out with one warning line on stderr.
    """
    material_dir = Path(material_dir)
    wanted = None if run_names is None else set([run_names] if isinstance(run_names, str) else run_names)
    frames = []
    for relative in sorted(expected_hashes(material_dir)):
        match = _LOG_NAME.match(Path(relative).name)
        if not relative.startswith("logs/") or match is None:
            continue
        script = match["script"]
        run_name = ORIGINAL_RUN_NAMES.get(script, script)
        if wanted is not None and run_name not in wanted:
            continue
        problem = check_file(relative, material_dir)
        if problem:
            _warn(problem)
            continue
        log = read_log(material_dir / relative)
        nan_epochs = log.loc[log["test_loss"].isna(), "epoch"]
        log["run_name"] = run_name
        log["seed"] = int(match["replicate"])
        log["nan_epoch"] = float(nan_epochs.min()) if len(nan_epochs) else np.nan
        log["k"] = K_OF_SCRIPT.get(script, 10)
        log["iters_per_epoch"] = 500
        log["batch_size"] = 100
        log["source"] = "original"
        frames.append(log)
    if not frames:
        return pd.DataFrame(columns=[*_COLUMNS.values(), "run_name", "seed", "nan_epoch", "k", "iters_per_epoch",
                                     "batch_size", "source"])
    return pd.concat(frames, ignore_index=True)


def post_figure(name: str, material_dir=MATERIAL_DIR) -> Path | None:
    """Path of the post's figure for ``name`` (a key of POST_FIGURES), or None with a warning if it is
    missing or altered."""
    relative = POST_FIGURES[name]
    problem = check_file(relative, material_dir)
    if problem:
        _warn(problem)
        return None
    return Path(material_dir) / relative


def half_unit(value: float) -> float:
    """Half a unit of the last digit the original logged for ``value`` (``{:.2e}``): 0.5 for 103, 0.0005 for 0.289."""
    if not math.isfinite(value):
        return float("nan")
    exponent = int(f"{value:.2e}".split("e")[1])
    return 0.5 * 10.0 ** (exponent - 2)
