"""How well the discrete latent y clusters the digits, and how much it is used.

``labels`` are true digits and ``clusters`` are argmax q(y|x), both 1-D arrays of non-negative ints of
the same length. NumPy, SciPy and scikit-learn only: no TensorFlow, so plots can use these too.
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from scipy.special import log_softmax
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def cluster_accuracy(labels, clusters) -> float:
    """Fraction of points whose cluster's majority digit is their own digit (Dilokthanakul et al. 2016, 4.2).

    Each cluster is labelled with the most frequent true label among its members; ties go to the
    lowest label, which does not change the number, since a tied cluster scores its top count either way.
    """
    labels, clusters = _check_labels_and_clusters(labels, clusters)
    counts = _counts(labels, clusters, clusters.max() + 1, labels.max() + 1)
    return float(counts.max(axis=1).sum() / len(labels))


def nmi(labels, clusters) -> float:
    """Normalized mutual information (arithmetic mean normalization, scikit-learn's default)."""
    return float(normalized_mutual_info_score(*_check_labels_and_clusters(labels, clusters)))


def ari(labels, clusters) -> float:
    """Adjusted Rand index."""
    return float(adjusted_rand_score(*_check_labels_and_clusters(labels, clusters)))


def mean_entropy(logits) -> float:
    """Mean over rows of the entropy, in nats, of softmax(logits); ln K means y is unused.

    NaN logits give NaN rather than an error: a diverged run (modified M2 does) logs NaN and goes on.
    """
    return float(_entropies(_log_probs(logits)).mean())


def mutual_information(logits) -> float:
    """I(x; y) in nats of q(y|x) over the points: H(mean q(y|x)) - mean H(q(y|x)), between 0 and ln K.

    0 both when q(y|x) is uniform and when every point goes to one category: in either case y says
    nothing about x. NaN logits give NaN, as in mean_entropy.
    """
    log_probs = _log_probs(logits)
    marginal = scipy.stats.entropy(np.exp(log_probs).mean(axis=0))
    # max: rounding can leave -1e-16 where the two entropies are equal (max keeps a NaN first argument).
    return float(max(marginal - _entropies(log_probs).mean(), 0.0))


def _log_probs(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must be a non-empty 2-D array [points, categories], not shape {logits.shape}")
    # log_softmax subtracts the row maximum, so huge logits neither overflow nor give 0 * -inf.
    return log_softmax(logits, axis=1)


def _entropies(log_probs: np.ndarray) -> np.ndarray:
    return -(np.exp(log_probs) * log_probs).sum(axis=1)


def confusion(labels, clusters, k=10, n_labels=10) -> np.ndarray:
    """Counts [k, n_labels]: row c, column d is how many points of digit d fell in cluster c."""
    labels, clusters = _check_labels_and_clusters(labels, clusters)
    if clusters.max() >= k:
        raise ValueError(f"cluster ids must be below k={k}; got {clusters.max()}")
    if labels.max() >= n_labels:
        raise ValueError(f"labels must be below n_labels={n_labels}; got {labels.max()}")
    return _counts(labels, clusters, k, n_labels)


def _counts(labels: np.ndarray, clusters: np.ndarray, k: int, n_labels: int) -> np.ndarray:
    return np.bincount(clusters * n_labels + labels, minlength=k * n_labels).reshape(k, n_labels)


def _check_labels_and_clusters(labels, clusters) -> tuple[np.ndarray, np.ndarray]:
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    for name, values in (("labels", labels), ("clusters", clusters)):
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D, not shape {values.shape}")
        if len(values) == 0:
            raise ValueError(f"{name} is empty")
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, not {values.dtype}")
        if values.min() < 0:
            raise ValueError(f"{name} must be non-negative; got {values.min()}")
    if len(labels) != len(clusters):
        raise ValueError(f"labels and clusters differ in length: {len(labels)} and {len(clusters)}")
    return labels.astype(np.int64), clusters.astype(np.int64)
