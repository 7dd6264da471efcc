"""Where a run's NaN is born: the epoch that turned non-finite, trained again from the checkpoint before it with
TensorFlow's numeric checks, step by step, naming the first op whose output is not finite and the values that fed
it just before that step.

    python -m gmvae nan-check RUN_DIR      writes RUN_DIR/nan_check.json

Each step's forward and backward pass runs first with the checks and without its update, then the step runs as
training ran it; so the failing step starts from the weights the run had there. The library's models are checked
with `tf.debugging.enable_check_numerics` (every op of the traced pass), the original's graph
(gmvae.reference.original_graph) with its graph-mode equivalent, a CheckNumerics op on every float tensor, and its
report adds each tensor that is not finite although its op's inputs are (where the NaN is born). Training keeps the
checkpoint of the epoch before a NaN (gmvae.train), but git keeps no checkpoints: run the check on the machine that
trained the run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.data import MNIST, load_mnist
from gmvae.evaluate import latest_checkpoint
from gmvae.quiet_import import tf
from gmvae.train import batch_indices, make_trainer, step_seeds

REPORT = "nan_check.json"
STACK_FRAMES_KEPT = 6  # of the op's creation, the innermost in gmvae's own files


def check_run(run_dir, *, data: MNIST | None = None, data_path=None) -> dict:
    """Check the epoch in which the run in run_dir turned non-finite; write and return the report."""
    run_dir = Path(run_dir)
    record = runs.read_record(run_dir)
    if record is None:
        raise FileNotFoundError(f"{run_dir} holds no run (no run.json)")
    nan_epoch = record["status"].get("nan_epoch")
    if nan_epoch is None:
        raise ValueError(f"{run_dir}: the run never turned non-finite (run.json has no nan_epoch); nothing to check")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint: git keeps none, so the check runs where the run trained")
    config = TrainConfig.from_dict(record["config"])
    data = data if data is not None else load_mnist(data_path)
    report = {"epoch": nan_epoch, **first_non_finite_step(config, data, checkpoint, nan_epoch)}
    runs.atomic_write_text(run_dir / REPORT, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def first_non_finite_step(config: TrainConfig, data: MNIST, checkpoint: str, epoch: int) -> dict:
    """Train `epoch` from `checkpoint` (saved after epoch - 1) with numeric checks: the first failing step, its op and
    the smallest variances and log q(y|x) on its batch just before it (or that no step failed)."""
    tf.config.experimental.enable_op_determinism()
    indices, seeds = batch_indices(config, epoch, len(data.train_x)), step_seeds(config, epoch)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = make_trainer(config, data, Path(scratch))  # saves nothing: the run's checkpoint stays as it is
        restored = trainer.restore(checkpoint)
        if restored != epoch - 1:
            raise ValueError(f"the checkpoint is of epoch {restored}, not {epoch - 1}, the epoch before the NaN")
        gradient_norm = None
        for step, (batch, step_seed) in enumerate(zip(indices, seeds), start=1):
            before = _readable(trainer.smallest_values(batch, step_seed))
            try:
                with _numeric_checks(config):
                    trainer.check_step(batch, step_seed)
            except tf.errors.InvalidArgumentError as error:
                found = describe_check_failure(error)
                if config.implementation == "original_graph":
                    found["born_at"] = trainer.non_finite_births(batch, step_seed)
                return {"step": step, "first_non_finite": found, "before_the_step": before,
                        "previous_gradient_norm": gradient_norm}
            objective, gradient_norm = (float(v) for v in trainer.train_step(batch, step_seed))  # as training ran it
            if not np.isfinite(objective):
                return {"step": step, "first_non_finite": {"op": None, "message": "the objective is not finite, but "
                                                           "no checked op reported it"}, "before_the_step": before,
                        "previous_gradient_norm": gradient_norm}
    return {"step": None, "first_non_finite": None, "before_the_step": None, "previous_gradient_norm": gradient_norm,
            "note": f"all {len(indices)} steps stayed finite under the checks: the NaN did not recur"}


class _numeric_checks:
    """tf.debugging.enable_check_numerics while the block runs, for the library's models: their check_step is traced
    in it, the training step outside it (XLA, which compiles the step's update, has no kernel for the checks); the
    original's graph has its own checks."""

    def __init__(self, config: TrainConfig):
        self.library = config.implementation != "original_graph"

    def __enter__(self):
        if self.library:
            tf.debugging.enable_check_numerics(stack_height_limit=60, path_length_limit=200)

    def __exit__(self, *exc):
        if self.library:
            tf.debugging.disable_check_numerics()


def _readable(smallest: dict) -> dict:
    """The smallest inputs of the softplus variances with the float32 variances they give, and the smallest
    log q(y|x)."""
    out = {}
    for name, value in smallest.items():
        if name == "log_q_y":
            out["log_q_y_min"] = value
        else:
            out[f"{name}_var_input_min"] = value
            out[f"{name}_var_min_float32"] = float(tf.nn.softplus(tf.constant(value, tf.float32)))
    return out


def describe_check_failure(error: tf.errors.InvalidArgumentError) -> dict:
    """The failing op's type and name, the checked tensor where the graph names it, and where gmvae created the op."""
    message = error.message
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    found = {"message": lines[0] if lines else "", "op": None, "tensor": None}
    if "graph op" in message:  # enable_check_numerics: '!!! Detected Infinity or NaN in output 0 of graph op "Sqrt" ...'
        found["op"] = message.split("graph op", 1)[1].split('"')[1]
    checked = getattr(error, "op", None)
    if checked is not None and checked.type == "CheckNumerics":  # the graph's checks name the tensor they watch
        tensor = checked.inputs[0]
        found.update(op=tensor.op.type, tensor=tensor.name)
    frames = [line for line in lines if line.startswith('File "') and "/gmvae/" in line]
    found["created_at"] = [line.replace(line[line.index('"') + 1:line.index("/gmvae/") + 1], "")
                           for line in frames][-STACK_FRAMES_KEPT:]  # paths from the package, on any machine
    return found
