"""Clustering metrics on hand-made label arrays whose answers are worked out by hand."""

import math

import numpy as np
import pytest

from gmvae.metrics import ari, cluster_accuracy, confusion, mean_entropy, mutual_information, nmi

LABELS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3, 9])


def test_perfect_clustering_scores_one():
    assert cluster_accuracy(LABELS, LABELS) == 1.0
    assert nmi(LABELS, LABELS) == pytest.approx(1.0)
    assert ari(LABELS, LABELS) == pytest.approx(1.0)


def test_relabelled_clusters_still_score_one():
    # Cluster ids are arbitrary: digit d in cluster 9 - d; ids 4..8 are never used.
    clusters = 9 - LABELS
    assert cluster_accuracy(LABELS, clusters) == 1.0
    assert nmi(LABELS, clusters) == pytest.approx(1.0)
    assert ari(LABELS, clusters) == pytest.approx(1.0)


def test_collapsed_clustering_scores_the_majority_class_rate():
    clusters = np.full(len(LABELS), 4)
    majority_rate = 3 / 10  # digit 3 is the most frequent: 3 of the 10 points
    assert cluster_accuracy(LABELS, clusters) == pytest.approx(majority_rate)
    assert nmi(LABELS, clusters) == pytest.approx(0.0)
    assert ari(LABELS, clusters) == pytest.approx(0.0)


def test_mixed_clustering_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    # cluster 0 holds digits {0, 0, 2} -> labelled 0, 2 right
    # cluster 1 holds digits {0, 1, 1} -> labelled 1, 2 right
    # cluster 2 holds digits {2, 2}    -> labelled 2, 2 right
    # accuracy = (2 + 2 + 2) / 8 = 0.75
    assert cluster_accuracy(labels, clusters) == pytest.approx(0.75)
    assert 0 < nmi(labels, clusters) < 1
    assert 0 < ari(labels, clusters) < 1


def test_a_tied_cluster_counts_its_top_count_once():
    # One cluster with one 0 and one 1: whichever label it gets, one point of two is right.
    assert cluster_accuracy([0, 1], [0, 0]) == pytest.approx(0.5)


def test_mean_entropy_of_uniform_logits_is_log_k():
    assert mean_entropy(np.zeros((5, 10))) == pytest.approx(math.log(10))


def test_mean_entropy_of_a_known_distribution():
    # probabilities (1/2, 1/4, 1/4): H = 1/2 ln 2 + 2 * 1/4 ln 4 = 1.5 ln 2
    logits = np.log([[0.5, 0.25, 0.25]]) + 7.0  # a shift must not matter
    assert mean_entropy(logits) == pytest.approx(1.5 * math.log(2))


def test_mean_entropy_averages_rows():
    logits = np.array([[0.0, 0.0], [50.0, 0.0]])  # ln 2 and (nearly) 0
    assert mean_entropy(logits) == pytest.approx(math.log(2) / 2, abs=1e-12)


def test_mean_entropy_of_confident_and_huge_logits():
    one_hot_ish = np.full((3, 10), -50.0)
    one_hot_ish[:, 0] = 50.0
    assert mean_entropy(one_hot_ish) == pytest.approx(0.0, abs=1e-30)

    huge = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]])  # (nearly) 0 and ln 2
    value = mean_entropy(huge)
    assert math.isfinite(value)
    assert value == pytest.approx(math.log(2) / 2)


def test_mutual_information_is_zero_for_uniform_and_for_collapsed_q():
    assert mutual_information(np.zeros((5, 10))) == 0.0
    collapsed = np.tile([9.0, 0, 0], (4, 1))            # every point sure of category 0
    assert mutual_information(collapsed) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_of_confident_distinct_categories_is_the_marginal_entropy():
    logits = np.full((4, 3), -50.0)
    logits[[0, 1, 2, 3], [0, 0, 1, 2]] = 50.0           # categories used by 2, 1, 1 of 4 points
    assert mutual_information(logits) == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))


def test_mutual_information_by_hand():
    probs = np.array([[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]])
    h = lambda p: -(p * np.log(p)).sum(axis=-1)
    expected = h(probs.mean(axis=0)) - h(probs).mean()   # ln 2 - (2 H(0.8) + ln 2) / 3
    assert mutual_information(np.log(probs)) == pytest.approx(expected)
    assert math.isnan(mutual_information(np.array([[np.nan, 0.0]])))


def test_confusion_counts_cluster_by_digit():
    labels = [0, 1, 1, 2, 2, 2]
    clusters = [1, 1, 0, 1, 1, 0]
    expected = np.array([
        [0, 1, 1],  # cluster 0: one 1, one 2
        [1, 1, 2],  # cluster 1: one 0, one 1, two 2s
    ])
    np.testing.assert_array_equal(confusion(labels, clusters, k=2, n_labels=3), expected)
    assert confusion(labels, clusters).shape == (10, 10)


@pytest.mark.parametrize(
    "labels, clusters, message",
    [
        ([0, 1, 2], [0, 1], "^labels and clusters differ in length: 3 and 2$"),
        ([[0, 1]], [[0, 1]], r"^labels must be 1-D, not shape \(1, 2\)$"),
        ([0, 1], [[0, 1]], r"^clusters must be 1-D, not shape \(1, 2\)$"),
        ([0.0, 1.0], [0, 1], "^labels must hold integers, not float64$"),
        ([0, 1], [0, -1], "^clusters must be non-negative; got -1$"),
        ([], [], "^labels is empty$"),
    ],
)
def test_bad_inputs_raise_clear_errors(labels, clusters, message):
    for metric in (cluster_accuracy, nmi, ari, confusion):
        with pytest.raises(ValueError, match=message):
            metric(labels, clusters)


def test_confusion_rejects_ids_beyond_its_size():
    with pytest.raises(ValueError, match="k=2"):
        confusion([0, 1], [0, 2], k=2, n_labels=3)
    with pytest.raises(ValueError, match="n_labels=3"):
        confusion([0, 3], [0, 1], k=2, n_labels=3)


@pytest.mark.parametrize("shape", [(10,), (0, 10), (5, 0), (2, 5, 10)])
def test_logits_must_be_a_non_empty_points_by_categories_array(shape):
    for metric in (mean_entropy, mutual_information):
        with pytest.raises(ValueError, match=r"^logits must be a non-empty 2-D array \[points, categories\]"):
            metric(np.zeros(shape))


def test_one_category_has_no_entropy_and_no_information():
    assert mean_entropy(np.zeros((5, 1))) == 0.0 and mutual_information(np.zeros((5, 1))) == 0.0


def test_float32_logits_are_scored_in_float64():
    """I(x; y) of a nearly uniform q(y|x) is the difference of two entropies close to ln 10; in float32 it would
    lose its last digits to rounding (about 1e-7), in float64 it agrees with the float64 computation."""
    logits = np.random.default_rng(0).normal(0.0, 1e-3, (1000, 10)).astype(np.float32)
    exact = logits.astype(np.float64)
    assert mutual_information(logits) == pytest.approx(mutual_information(exact), abs=1e-15, rel=1e-12)
    assert mean_entropy(logits) == pytest.approx(mean_entropy(exact), abs=1e-15, rel=1e-15)


def test_mean_entropy_rejects_a_flat_array_and_passes_nan_through():
    with pytest.raises(ValueError, match="2-D"):
        mean_entropy(np.zeros(10))
    assert math.isnan(mean_entropy(np.array([[0.0, 0.0], [0.0, np.nan]])))  # a diverged model logs NaN


# ---- One worked example per published number, by hand to four digits ----
# Ten points, two digits, four clusters; as a table of counts (row: cluster, column: digit):
#
#               digit 0  digit 1   size   majority   right
#   cluster 0      3        0        3       0         3
#   cluster 1      2        1        3       0         2      two clusters share the majority digit 0, so a
#   cluster 2      1        2        3       1         2      one-to-one (Hungarian) matching would score less
#   cluster 3      0        1        1       1         1
#   total          6        4       10                 8
WORKED_CLUSTERS = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2])
WORKED_LABELS = np.array([0, 0, 0, 1, 0, 0, 1, 0, 1, 1])


def test_the_worked_example_is_the_table_above():
    np.testing.assert_array_equal(confusion(WORKED_LABELS, WORKED_CLUSTERS, k=4, n_labels=2),
                                  [[3, 0], [2, 1], [1, 2], [0, 1]])


def test_cluster_accuracy_by_hand_labels_each_cluster_with_its_majority_digit():
    # (3 + 2 + 2 + 1) / 10 = 0.8; a one-to-one matching (cluster 0 -> 0, cluster 2 -> 1) would give 5 / 10.
    assert cluster_accuracy(WORKED_LABELS, WORKED_CLUSTERS) == pytest.approx(0.8000, abs=5e-5)


def test_nmi_by_hand_normalises_by_the_arithmetic_mean_of_the_entropies():
    # In nats (NMI itself does not depend on the base):
    #   H(digit)   = -(0.6 ln 0.6 + 0.4 ln 0.4)                         = 0.3065 + 0.3665          = 0.6730
    #   H(cluster) = -(3 * 0.3 ln 0.3 + 0.1 ln 0.1)                     = 1.0836 + 0.2303          = 1.3138
    #   H(joint)   = -(0.3 ln 0.3 + 2 * 0.2 ln 0.2 + 3 * 0.1 ln 0.1)    = 0.3612 + 0.6438 + 0.6908 = 1.6958
    #   I          = H(digit) + H(cluster) - H(joint)                   = 0.6730 + 1.3138 - 1.6958 = 0.2911
    #   NMI        = I / ((0.6730 + 1.3138) / 2) = 0.2911 / 0.9934                                 = 0.2930
    # The other normalisations: geometric mean 0.3096, max 0.2216, min 0.4325.
    assert nmi(WORKED_LABELS, WORKED_CLUSTERS) == pytest.approx(0.2930, abs=5e-5)


def test_ari_by_hand():
    # Pairs within a cell:    C(3,2) + C(2,2) + C(2,2)          = 3 + 1 + 1      = 5  (cells of 1 hold no pair)
    # Pairs within a cluster: C(3,2) * 3 + C(1,2)               = 9
    # Pairs within a digit:   C(6,2) + C(4,2)                   = 15 + 6         = 21
    # Expected cell pairs:    9 * 21 / C(10,2) = 189 / 45       = 4.2
    # ARI = (5 - 4.2) / ((9 + 21) / 2 - 4.2) = 0.8 / 10.8       = 0.0741
    # (the unadjusted Rand index, pairs on which the two agree: (5 + (45 - 9 - 21 + 5)) / 45 = 25 / 45 = 0.5556)
    assert ari(WORKED_LABELS, WORKED_CLUSTERS) == pytest.approx(0.0741, abs=5e-5)


# q(y|x) of eight points over three categories:
WORKED_PROBS = np.array([[1 / 2, 1 / 4, 1 / 4]] * 3 + [[1 / 4, 1 / 2, 1 / 4]] * 3 + [[1 / 3, 1 / 3, 1 / 3]] * 2)


def test_mean_entropy_by_hand_in_nats():
    # H(1/2, 1/4, 1/4) = 1/2 ln 2 + 2 * 1/4 ln 4 = 1.5 ln 2 = 1.0397 (six points);  H(uniform) = ln 3 = 1.0986 (two)
    # mean = (6 * 1.0397 + 2 * 1.0986) / 8 = (6.2383 + 2.1972) / 8 = 1.0544  (in bits it would be 1.5212)
    assert mean_entropy(np.log(WORKED_PROBS)) == pytest.approx(1.0544, abs=5e-5)


def test_mutual_information_by_hand_in_nats():
    # mean q(y|x) = ((3/2 + 3/4 + 2/3) / 8, same, (3/4 + 3/4 + 2/3) / 8) = (35/96, 35/96, 26/96)
    # H(mean)     = -(2 * 35/96 ln(35/96) + 26/96 ln(26/96)) = 2 * 0.3646 * 1.0090 + 0.2708 * 1.3063 = 1.0895
    # I(x; y)     = H(mean) - mean H = 1.0895 - 1.0544 = 0.0351
    assert mutual_information(np.log(WORKED_PROBS)) == pytest.approx(0.0351, abs=5e-5)
