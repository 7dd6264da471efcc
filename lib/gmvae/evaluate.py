"""Scoring a model on a set of images, and what the notebooks ask of a trained model.

Evaluation binarizes afresh, as training does (`data.py`), so a score is itself a
one-sample estimate; its noise comes from the seed it is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gmvae import metrics, runs
from gmvae.config import TrainConfig
from gmvae.data import binarize
from gmvae.loss import every_category, negative_elbo
from gmvae.models import ClusteringVAE, build_model
from gmvae.quiet_import import tf


class Scorer:
    """Mean loss terms, H(y|x) and clustering metrics of a model on images, in compiled chunks."""

    def __init__(self, model: ClusteringVAE, chunk_size: int = 1000):
        self.model = model
        self.chunk_size = chunk_size
        # One trace for every chunk size (the last chunk is usually shorter).
        signature = [tf.TensorSpec([None, model.x_dim], tf.float32), tf.TensorSpec([2, 2], tf.int32)]
        self._forward = tf.function(self._forward_chunk, input_signature=signature)
        # the smallest values run q(z|x,y)'s network again (a third more time): only where they are logged
        self._forward_with_smallest = tf.function(self._forward_chunk_with_smallest, input_signature=signature)

    def _forward_chunk(self, x, seeds):
        terms = negative_elbo(self.model, binarize(x, seeds[0]), seeds[1])
        return (terms.loss, terms.reconstruction, terms.kl_z, terms.kl_y, terms.logits), {}

    def _forward_chunk_with_smallest(self, x, seeds):
        x = binarize(x, seeds[0])
        terms = negative_elbo(self.model, x, seeds[1])
        smallest = {name: tf.reduce_min(s)
                    for name, s in self.model.variance_preactivations(x, every_category(self.model.k)).items()}
        smallest["log_q_y"] = tf.reduce_min(tf.nn.log_softmax(terms.logits))
        return (terms.loss, terms.reconstruction, terms.kl_z, terms.kl_y, terms.logits), smallest

    def score(self, images: np.ndarray, labels: np.ndarray, seed, *, smallest: bool = False) -> dict:
        """images [N, 784] intensities in [0, 1]; seed: anything np.random.default_rng accepts. ``smallest``: also
        the smallest variances and log q(y|x) (the log's drift columns)."""
        forward = self._forward_with_smallest if smallest else self._forward
        return score_in_chunks(forward, images, labels, seed, self.chunk_size)


def score_in_chunks(forward, images: np.ndarray, labels: np.ndarray, seed, chunk_size: int) -> dict:
    """The scores of Scorer.score from ``forward(chunk of images, seeds [2, 2]) -> ((loss, reconstruction, kl_z,
    kl_y, logits), {name: smallest value})``, per-example arrays and scalars: the seeds are drawn per chunk from
    ``seed`` (binarization, then z noise), the smallest values are minima over the chunks."""
    rng = np.random.default_rng(seed)
    parts, smallest = [], {}
    for start in range(0, len(images), chunk_size):
        chunk_seeds = rng.integers(0, 2**31 - 1, size=(2, 2), dtype=np.int32)
        terms, chunk_smallest = forward(images[start:start + chunk_size], chunk_seeds)
        parts.append([np.asarray(t) for t in terms])
        for name, value in chunk_smallest.items():
            smallest[name] = min(smallest.get(name, np.inf), float(value))
    loss, reconstruction, kl_z, kl_y, logits = (np.concatenate(p) for p in zip(*parts))
    clusters = logits.argmax(axis=1)
    return {
        **_smallest_values(smallest),
        "loss": float(loss.mean()),
        "recon": float(reconstruction.mean()),
        "kl_z": float(kl_z.mean()),
        "kl_y": float(kl_y.mean()),
        "entropy": metrics.mean_entropy(logits),
        "mutual_information": metrics.mutual_information(logits),
        "accuracy": metrics.cluster_accuracy(labels, clusters),
        "nmi": metrics.nmi(labels, clusters),
        "ari": metrics.ari(labels, clusters),
    }


def _smallest_values(smallest: dict) -> dict:
    """The smallest variance of each softplus (from its smallest input; softplus is increasing) and the smallest
    log q(y|x), if forward gave them. Each variance in float64, so that a value float32 would hold as 0 (below
    1.2e-38: TensorFlow's CPU kernels flush subnormals) still shows how small it is."""
    if not smallest:
        return {}
    values = {f"{name}_var_min": float(np.logaddexp(0.0, s)) for name, s in smallest.items() if name != "log_q_y"}
    return {**values, "log_q_y_min": smallest["log_q_y"]}


def latest_checkpoint(run_dir) -> str | None:
    """The prefix of the run's latest checkpoint, after reading every tensor of it; None if it has none.
    Raises runs.DamagedRunError if it cannot be read (e.g. a data file cut short)."""
    state_file = Path(run_dir) / "checkpoints" / "checkpoint"
    if not state_file.exists():
        return None  # never saved, or a clone (checkpoints are not committed)
    prefix = tf.train.latest_checkpoint(str(state_file.parent))
    if prefix is None:
        raise runs.DamagedRunError(run_dir, f"{state_file} is damaged: it does not parse or it names a checkpoint "
                                            "whose .index file is missing")
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)  # checks the tensor's length and checksum
    except (tf.errors.OpError, IndexError) as error:  # IndexError: a data file cut short
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise runs.DamagedRunError(run_dir, f"checkpoint {prefix} cannot be read ({detail})") from None
    return prefix


def load_trained(run_dir) -> tuple[ClusteringVAE, TrainConfig]:
    """The model of a run folder at its last checkpoint; runs.DamagedRunError if a file of it cannot be read."""
    record = runs.read_record(run_dir)
    checkpoint = latest_checkpoint(run_dir)
    if record is None or checkpoint is None:
        raise FileNotFoundError(f"{run_dir} has no trained run (checkpoints are not kept in git: train it first)")
    config = TrainConfig.from_dict(record["config"])
    model = build_model(config)
    tf.train.Checkpoint(model=model).read(checkpoint).expect_partial()
    return model, config


def cluster_assignments(model: ClusteringVAE, images: np.ndarray, seed=0, chunk_size: int = 1000) -> np.ndarray:
    """argmax q(y|x) for each image (binarized with `seed`), as int64 [N]."""
    rng = np.random.default_rng(seed)
    clusters = []
    for start in range(0, len(images), chunk_size):
        x = binarize(tf.constant(images[start:start + chunk_size]), rng.integers(0, 2**31 - 1, size=2, dtype=np.int32))
        clusters.append(model.q_y(x).logits.numpy().argmax(axis=1))
    return np.concatenate(clusters)


def cluster_samples(model: ClusteringVAE, n_per_cluster: int = 10, seed=0) -> np.ndarray:
    """Pixel probabilities E[x|z] of digits generated from each category: z ~ p(z|y), [K, n, 28, 28]."""
    y = every_category(model.k)                                       # [K, 1, K]
    z = model.p_z(y).sample(n_per_cluster, seed=tf.constant([seed, 0]))  # [n, K, 1, z_dim]
    z = tf.transpose(z[:, :, 0, :], [1, 0, 2])                        # [K, n, z_dim]
    return model.p_x(z, y).mean().numpy().reshape(model.k, n_per_cluster, 28, 28)
