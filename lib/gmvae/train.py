"""The training loop: Adam on the negative ELBO (its KL over y times kl_y_weight), a log row and a checkpoint per epoch.

Everything random derives from the configuration's seed and the epoch/step number (stateless
sampling), so a run's only state is its weights, the optimizer and the epoch counter. That makes
resuming exact: a run killed at any moment and started again with the same arguments resumes from
its last checkpoint and writes the same log as a run that was never interrupted (but the seconds).

One process at a time trains in a run folder (runs.locked); reading a finished run takes no lock.

Order of writes after each epoch: log, checkpoint, run.json; a kill at any instant leaves each readable.
The log and run.json are replaced by a rename (runs.atomic_write_text). TensorFlow 2.21's
CheckpointManager.save is not atomic as a whole but is where it matters (read in checkpoint_management.py
and functional_saver.py, its file operations watched with strace): it writes ckpt-N's data and index into
checkpoints/ckpt-N_temp/ (temporary files renamed into place); MergeV2Checkpoints renames the data to
checkpoints/ckpt-N.data-* and writes checkpoints/ckpt-N.index in place; only then does
update_checkpoint_state_internal point the state file checkpoints/checkpoint at ckpt-N, atomically
(file_io.atomic_write_string_to_file: a temporary file renamed over it), and ckpt-(N-1) is deleted after.
So the state file always names a complete checkpoint, and the pieces of an unfinished ckpt-N are
overwritten by the resumed run's own save of ckpt-N (at worst a temporary file stays in ckpt-N_temp/).
Nothing is fsynced, TensorFlow's files nor ours: a power cut, unlike a kill, can leave damage, which
evaluate.latest_checkpoint and runs.read_log/read_record report.
On resume the checkpoint is the truth: log rows past it (written before a kill) are dropped.
"""

from __future__ import annotations

import dataclasses
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gmvae import machine, runs
from gmvae.config import TrainConfig
from gmvae.data import MNIST, binarize, load_mnist
from gmvae.evaluate import Scorer, latest_checkpoint
from gmvae.loss import every_category, negative_elbo
from gmvae.models import build_model
from gmvae.quiet_import import tf, tfp

# Independent random streams, each np.random.default_rng([seed, STREAM, ...]).
_DATA_ORDER, _STEP_NOISE, _EVALUATION = 0, 1, 2


def batch_indices(config: TrainConfig, epoch: int, n_train: int) -> np.ndarray:
    """[iters_per_epoch, batch_size] training indices of a (1-based) epoch.

    Batches walk through an endless sequence of passes over the training set, as the original's
    `next_batch` did; an epoch of 500 x 100 examples is not a pass over the 55,000. TensorFlow 0.12's
    `next_batch` read the first pass in file order and permuted only the later ones
    (`first_pass="file_order"`); `"shuffled"` permutes every pass.
    """
    per_epoch = config.iters_per_epoch * config.batch_size
    first, last = (epoch - 1) * per_epoch, epoch * per_epoch
    passes = range(first // n_train, (last - 1) // n_train + 1)
    stream = np.concatenate([_pass_order(config, p, n_train) for p in passes])
    offset = first - passes[0] * n_train
    return stream[offset:offset + per_epoch].reshape(config.iters_per_epoch, config.batch_size)


def _pass_order(config: TrainConfig, pass_number: int, n_train: int) -> np.ndarray:
    if pass_number == 0 and config.first_pass == "file_order":
        return np.arange(n_train)
    return np.random.default_rng([config.seed, _DATA_ORDER, pass_number]).permutation(n_train)


def step_seeds(config: TrainConfig, epoch: int) -> np.ndarray:
    """[iters_per_epoch, 2, 2] stateless seeds per step: binarization, then z noise."""
    rng = np.random.default_rng([config.seed, _STEP_NOISE, epoch])
    return rng.integers(0, 2**31 - 1, size=(config.iters_per_epoch, 2, 2), dtype=np.int32)


def training_objective(model, x, seed, kl_y_weight: float) -> tf.Tensor:
    """The batch mean the gradients follow: the negative ELBO with its KL over y weighted by eta =
    kl_y_weight. At 1 it is exactly the mean of ELBOTerms.loss, which evaluation logs whatever eta."""
    terms = negative_elbo(model, x, seed)
    return tf.reduce_mean(terms.reconstruction + terms.kl_z + kl_y_weight * terms.kl_y)


def make_train_step(model, optimizer, train_x: tf.Tensor, config: TrainConfig):
    """One Adam step on a batch: `train_step(indices [B], seeds [2, 2]) -> (training objective, gradient norm)`,
    the norm the global one of the gradients before any clipping.

    Only the optimizer update is compiled with XLA: it fuses Adam's ~8 elementwise passes per
    variable into one, saving 2-5 % of the step on 2 CPU cores for ~3 s of compilation per run.
    XLA for the whole step was slower (its matmuls and stateless random numbers are slower than
    TensorFlow's kernels, and its random numbers differ from theirs, so the data noise would change).
    """
    variables = model.trainable_variables
    objective_and_gradients = make_objective_and_gradients(model, train_x, config)

    @tf.function(jit_compile=True)
    def update(gradients):
        optimizer.apply_gradients(zip(gradients, variables))

    @tf.function
    def train_step(indices, seeds):
        objective, gradients = objective_and_gradients(indices, seeds)
        if config.clip_norm is None:
            gradient_norm = tf.linalg.global_norm(gradients)
        else:
            gradients, gradient_norm = tf.clip_by_global_norm(gradients, config.clip_norm)
        update(gradients)
        return objective, gradient_norm

    return train_step


def make_objective_and_gradients(model, train_x: tf.Tensor, config: TrainConfig):
    """A step's forward and backward pass, without the update: `(indices [B], seeds [2, 2]) -> (training objective,
    gradients of the trainable variables)`."""
    def objective_and_gradients(indices, seeds):
        x = binarize(tf.gather(train_x, indices), seeds[0])
        with tf.GradientTape() as tape:
            objective = training_objective(model, x, seeds[1], config.kl_y_weight)
        return objective, tape.gradient(objective, model.trainable_variables)

    return objective_and_gradients


def make_train_epoch(train_step):
    """All steps of an epoch in one call: `train_epoch(indices [S, B], seeds [S, 2, 2]) -> (objectives, gradient
    norms)`, each [S], stopping after the first non-finite objective (which is the last one returned).

    One compiled loop instead of a Python call per step, which saves the per-step dispatch (docs/performance.md).
    In float32 it gives the same weights bit for bit (tests/test_train.py); in
    mixed_bfloat16 it does not: the loop's graph rounds some bfloat16 products differently from the first epoch
    on (docs/precision.md).
    """
    @tf.function
    def train_epoch(indices, seeds):
        objectives = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        gradient_norms = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in tf.range(tf.shape(indices)[0]):
            objective, gradient_norm = train_step(indices[i], seeds[i])
            objectives = objectives.write(i, objective)
            gradient_norms = gradient_norms.write(i, gradient_norm)
            if not tf.math.is_finite(objective):
                break
        return objectives.stack(), gradient_norms.stack()

    return train_epoch


def gradient_norm_summary(gradient_norms: np.ndarray) -> dict:
    """An epoch's global gradient norms (before clipping) as log columns: median and maximum of the finite ones,
    so that a clipping threshold can be set from typical values and the spikes the post suspects before a NaN
    show (in the NaN epoch too)."""
    finite = gradient_norms[np.isfinite(gradient_norms)]
    if not len(finite):
        return {"grad_norm_median": np.nan, "grad_norm_max": np.nan}
    return {"grad_norm_median": float(np.median(finite)), "grad_norm_max": float(np.max(finite))}


def make_optimizer(config: TrainConfig) -> tf.keras.optimizers.Adam:
    """Adam as the original ran it: it minimized the batch's summed loss with epsilon 1e-8; Adam's update
    is invariant to the loss's scale but for epsilon, so on our mean loss that is epsilon 1e-8 / batch."""
    return tf.keras.optimizers.Adam(config.learning_rate, epsilon=config.adam_epsilon)


def resolve_precision(config: TrainConfig, record: dict | None) -> tuple[TrainConfig, str]:
    """config with precision "auto" made concrete, and why: a run that has begun keeps its own precision
    (bfloat16 and float32 runs differ in their last bits, so a resumed run would not match an uninterrupted
    one); a new run takes the machine's (gmvae.machine.auto_precision)."""
    if config.precision != "auto":
        return config, "as configured"
    if record is not None:
        return config.replace(precision=record["config"].get("precision", "float32")), \
            "auto: the precision this run began in"
    precision, reason = machine.auto_precision(tf)
    return config.replace(precision=precision), f"auto: {reason}; --precision float32 to override"


class RunMismatchError(ValueError):
    """The output folder holds a run of another configuration."""


def _check_compatible(record: dict | None, config: TrainConfig, out_dir: Path) -> None:
    differing = config.differences(record["config"]) if record else []
    if differing:
        raise RunMismatchError(
            f"{out_dir} holds a run with a different configuration ({'; '.join(differing)}); "
            "choose another output folder, or add --retrain to move this run aside and start afresh")


def train(config: TrainConfig, out_dir, *, data: MNIST | None = None, data_path=None, progress: bool = True,
          retrain: bool = False, wait: bool = False, after_epoch: Callable[[Path], None] | None = None) -> pd.DataFrame:
    """Train (or resume, or extend) the run in out_dir up to config.epochs; returns its log.

    retrain: first move the folder's run aside (runs.set_aside) and train from epoch 1.
    wait: if another process is training in out_dir, wait for it instead of raising runs.RunLockedError.
    after_epoch: called with out_dir once each epoch's log, checkpoint and record are written (a Ray task sends
    the folder to its driver there; gmvae.reproduction.ray_training).
    Raises runs.DamagedRunError for a file of the run that cannot be read, and leaves it as it is.
    """
    out_dir = Path(out_dir)
    if not retrain:
        status, log = _read_run(config, out_dir)
        if _nothing_to_train(status, config, out_dir):
            return log  # works without checkpoints too (a clone with committed logs)
    with runs.locked(out_dir, wait=wait):
        if retrain and (aside := runs.set_aside(out_dir)):
            print(f"{out_dir}: moved the previous run into {aside}; training from epoch 1")
        status, log = _read_run(config, out_dir)  # again: another process may have trained it meanwhile
        if _nothing_to_train(status, config, out_dir):
            return log
        return _resume_and_train(config, out_dir, status, log, data, data_path, progress, after_epoch)


def _read_run(config: TrainConfig, out_dir: Path) -> tuple[dict, pd.DataFrame]:
    record = runs.read_record(out_dir)
    _check_compatible(record, config, out_dir)
    status = record["status"] if record else {"completed_epochs": 0, "nan_epoch": None, "train_seconds": 0.0}
    return status, runs.read_log(out_dir)


def _nothing_to_train(status: dict, config: TrainConfig, out_dir: Path) -> bool:
    if status["nan_epoch"] is not None:
        print(f"{out_dir}: stopped at epoch {status['nan_epoch']} when the loss became non-finite; not training further")
        return True
    return status["completed_epochs"] >= config.epochs


class LibraryTrainer:
    """The library's model of the config (gmvae.models), Adam and the compiled epoch, checkpointed with the epoch
    number: what the loop trains. gmvae.reference.original_graph.OriginalGraphTrainer has the same methods."""

    def __init__(self, config: TrainConfig, data: MNIST, checkpoint_dir: Path):
        self.model = build_model(config)
        optimizer = make_optimizer(config)
        optimizer.build(self.model.trainable_variables)  # slots exist before a restore fills them
        self._epoch = tf.Variable(0, dtype=tf.int64)
        self._checkpoint = tf.train.Checkpoint(model=self.model, optimizer=optimizer, epoch=self._epoch)
        self._manager = tf.train.CheckpointManager(self._checkpoint, checkpoint_dir, max_to_keep=1)
        self._train_x = tf.constant(data.train_x)
        self.train_step = make_train_step(self.model, optimizer, self._train_x, config)
        # traced on its first call: under tf.debugging.enable_check_numerics in gmvae.nan_check
        self.check_step = tf.function(make_objective_and_gradients(self.model, self._train_x, config))
        self._train_epoch = make_train_epoch(self.train_step)
        self.scorer = Scorer(self.model)

    def restore(self, checkpoint_path: str) -> int:
        """Weights, optimizer and epoch from a checkpoint; returns the epoch it was saved after."""
        self._checkpoint.restore(checkpoint_path).assert_consumed()
        return int(self._epoch.numpy())

    def train_epoch(self, indices: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(objectives, gradient norms) of the epoch's steps, stopping after the first non-finite objective."""
        objectives, gradient_norms = self._train_epoch(indices, seeds)
        return objectives.numpy(), gradient_norms.numpy()

    def save(self, epoch: int) -> None:
        self._epoch.assign(epoch)
        self._manager.save()

    def smallest_values(self, indices: np.ndarray, seeds: np.ndarray) -> dict:
        """On one step's batch (binarized as the step does): the smallest input of each softplus variance and the
        smallest log q(y|x) (gmvae.models.ClusteringVAE.variance_preactivations)."""
        x = binarize(tf.gather(self._train_x, indices), seeds[0])
        smallest = {name: float(tf.reduce_min(s))
                    for name, s in self.model.variance_preactivations(x, every_category(self.model.k)).items()}
        return {**smallest, "log_q_y": float(tf.reduce_min(tf.nn.log_softmax(self.model.q_y(x).logits)))}


def make_trainer(config: TrainConfig, data: MNIST, checkpoint_dir: Path):
    """The trainer of config's implementation: the library's models, or the original's graph (a reference)."""
    if config.implementation == "original_graph":
        from gmvae.reference.original_graph import OriginalGraphTrainer

        return OriginalGraphTrainer(config, data, checkpoint_dir)
    return LibraryTrainer(config, data, checkpoint_dir)


def _resume_and_train(config: TrainConfig, out_dir: Path, status: dict, log: pd.DataFrame, data: MNIST | None,
                      data_path, progress: bool, after_epoch: Callable[[Path], None] | None) -> pd.DataFrame:
    """The rest of train(), run while holding the folder's lock: restore the checkpoint, then train,
    writing log, checkpoint and record each epoch."""
    checkpoint_path = latest_checkpoint(out_dir)  # before anything heavy: a damaged one stops us here
    run_name = config.run_name  # as asked for: "auto" that becomes float32 does not rename the run
    config, why = resolve_precision(config, runs.read_record(out_dir))
    print(f"{out_dir}: precision {config.precision} ({why}); {machine.describe(tf)['processor']}", flush=True)
    record = {"config": dataclasses.asdict(config), "status": status, "provenance": provenance()}
    tf.config.experimental.enable_op_determinism()
    data = data if data is not None else load_mnist(data_path)
    trainer = make_trainer(config, data, out_dir / "checkpoints")
    start = 0
    if checkpoint_path:
        start = trainer.restore(checkpoint_path)
    elif len(log):
        print(f"{out_dir}: its log has {len(log)} epochs but no checkpoint to continue from (checkpoints are not "
              "committed to git); training from epoch 1, which rewrites the same rows on the same machine")
    log = log[log["epoch"] <= start].reset_index(drop=True)
    status["completed_epochs"] = start
    status["finished"] = start >= config.epochs
    runs.write_record(out_dir, record)

    bar = tqdm(total=(config.epochs - start) * config.iters_per_epoch, disable=not progress,
               desc=f"{run_name} seed {config.seed}", unit="step", dynamic_ncols=True)
    for epoch in range(start + 1, config.epochs + 1):
        began = time.perf_counter()
        objectives, gradient_norms = trainer.train_epoch(batch_indices(config, epoch, len(data.train_x)),
                                                         step_seeds(config, epoch))
        bar.update(len(objectives))
        row = {"epoch": epoch, **gradient_norm_summary(gradient_norms)}
        if np.all(np.isfinite(objectives)):
            row.update(_evaluate(trainer.scorer, data, config, epoch))
        finite = np.isfinite(row.get("test_loss", np.nan)) and np.isfinite(row.get("train_loss", np.nan))
        row["seconds"] = time.perf_counter() - began
        log = pd.concat([log, pd.DataFrame([row])], ignore_index=True).reindex(columns=runs.LOG_COLUMNS)
        runs.write_log(out_dir, log)
        status["train_seconds"] += row["seconds"]
        if not finite:
            # Keep the last finite checkpoint; the NaN row in the log and nan_epoch mark where it broke.
            status.update(nan_epoch=epoch, finished=True)
            runs.write_record(out_dir, record)
            if after_epoch:
                after_epoch(out_dir)
            bar.close()
            print(f"{out_dir}: loss became non-finite in epoch {epoch}; stopped, last finite checkpoint is epoch {epoch - 1}")
            return log
        trainer.save(epoch)  # a kill inside it leaves the previous checkpoint in force (module docstring)
        status.update(completed_epochs=epoch, finished=epoch >= config.epochs)
        runs.write_record(out_dir, record)
        if after_epoch:
            after_epoch(out_dir)
        bar.set_postfix(epoch=epoch, test_loss=f"{row['test_loss']:.1f}", acc=f"{row['test_accuracy']:.3f}")
        if not progress:  # one line an epoch instead of the bar (papermill runs, log files)
            print(runs.epoch_line(config, row, run_name), flush=True)
    bar.close()
    return log


# What defines a run's result; changes elsewhere (results/, README) do not make the code "dirty".
CODE_PATHS = ("lib", "notebooks", "pyproject.toml", "requirements.txt")


def code_version(repo_dir) -> str | None:
    """The checked-out commit, with "-dirty" if a tracked file under CODE_PATHS differs from it;
    None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        changed = git("status", "--porcelain", "--untracked-files=no", "--", *(f":(top){p}" for p in CODE_PATHS)).stdout.strip()
    except OSError:
        return None
    return head.stdout.strip() + ("-dirty" if changed else "")


def provenance() -> dict:
    """What produced a run: command (see runs.command_line), code version, library versions, machine."""
    package_dir = Path(__file__).resolve().parent
    return {
        "command": runs.command_line(),
        "git_commit": code_version(package_dir.parents[1]),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
        "machine": machine.describe(tf),
    }


def _evaluate(scorer: Scorer, data: MNIST, config: TrainConfig, epoch: int) -> dict:
    """Test metrics on the first test_eval_size test images, train metrics on a random subset."""
    rng = np.random.default_rng([config.seed, _EVALUATION, epoch])
    subset = rng.choice(len(data.train_x), size=min(config.train_eval_size, len(data.train_x)), replace=False)
    train = scorer.score(data.train_x[subset], data.train_y[subset], rng.integers(2**31))
    n_test = min(config.test_eval_size, len(data.test_x))
    test = scorer.score(data.test_x[:n_test], data.test_y[:n_test], rng.integers(2**31), smallest=True)
    return {
        "train_entropy": train["entropy"], "test_entropy": test["entropy"],
        "train_loss": train["loss"], "test_loss": test["loss"],
        "test_recon": test["recon"], "test_kl_z": test["kl_z"], "test_kl_y": test["kl_y"],
        "test_mutual_information": test["mutual_information"],
        "test_accuracy": test["accuracy"], "test_nmi": test["nmi"], "test_ari": test["ari"],
        **{name: value for name, value in test.items() if name.endswith("_min")},
    }
