"""What must vary: the data order, the binarization and z noise of every step, and the evaluation's subset and noise
change from epoch to epoch and from seed to seed, and are the same again for the same seed and epoch (which is
what makes a resumed run exact)."""

import numpy as np
import pytest
import tensorflow as tf

from gmvae import train as train_module
from gmvae.config import TrainConfig
from gmvae.data import MNIST
from gmvae.evaluate import Scorer
from gmvae.models import build_model
from gmvae.train import batch_indices, make_train_step, step_seeds

TINY = TrainConfig(model="gmvae", k=3, z_dim=2, hidden=8, batch_size=10, iters_per_epoch=5, precision="float32")
N_TRAIN = 55_000   # the original's training images


# ---- data order ----

def test_the_first_epoch_reads_the_file_in_order_whatever_the_seed():
    # At the post's sizes: epoch 1 is images 0..49,999; epoch 2 ends the first pass (50,000..54,999) and begins a
    # permuted second pass.
    for seed in (0, 1):
        config = TrainConfig(seed=seed)
        np.testing.assert_array_equal(batch_indices(config, 1, N_TRAIN), np.arange(50_000).reshape(500, 100))
        second = batch_indices(config, 2, N_TRAIN).ravel()
        np.testing.assert_array_equal(second[:5000], np.arange(50_000, N_TRAIN))
        assert not np.array_equal(second[5000:], np.arange(45_000))


@pytest.mark.parametrize("first_pass, epoch", [("file_order", 3), ("shuffled", 1), ("shuffled", 3)])
def test_permuted_passes_differ_between_seeds_and_repeat_for_the_same_seed(first_pass, epoch):
    """Epoch 3 reads the end of the second pass and the start of the third; a shuffled first pass is permuted too."""
    def order(seed):
        return batch_indices(TrainConfig(seed=seed, first_pass=first_pass), epoch, N_TRAIN)

    np.testing.assert_array_equal(order(0), order(0))
    assert np.mean(order(0) == order(1)) < 0.01   # two independent permutations agree at about 1 place in 55,000


# ---- the noise of each training step ----

def test_step_seeds_differ_between_epochs_steps_and_seeds_and_repeat_for_the_same_ones():
    config = TrainConfig()
    seeds = step_seeds(config, 1)
    assert seeds.shape == (500, 2, 2)                             # per step: binarization, then z noise
    assert len({tuple(pair) for pair in seeds.reshape(-1, 2)}) == 1000   # no two alike, within a step or across
    np.testing.assert_array_equal(step_seeds(config, 1), seeds)
    assert not np.any(step_seeds(config, 2) == seeds)
    assert not np.any(step_seeds(config.replace(seed=1), 1) == seeds)


def test_a_steps_first_seed_binarizes_the_batch_and_its_second_draws_z():
    class NoUpdate:   # the weights stay put, so a step's objective depends on its batch and seeds alone
        def apply_gradients(self, pairs):
            pass

    grey = np.full((TINY.batch_size, 784), 0.5, np.float32)
    binary = np.tile([0.0, 1.0], (TINY.batch_size, 392)).astype(np.float32)
    step = make_train_step(build_model(TINY), NoUpdate(), tf.constant(np.concatenate([grey, binary])), TINY)

    def objective(images, seeds):
        rows = np.arange(TINY.batch_size) + (0 if images == "grey" else TINY.batch_size)
        return float(step(rows, np.array(seeds, np.int32))[0])

    start, new_binarization, new_z = [[1, 2], [3, 4]], [[1, 5], [3, 4]], [[1, 2], [3, 5]]
    assert objective("grey", start) == objective("grey", start)
    assert objective("grey", new_binarization) != objective("grey", start)
    assert objective("grey", new_z) != objective("grey", start)
    # Pixels of 0 and 1 binarize to themselves: there only the z noise can change the objective.
    assert objective("binary", new_binarization) == objective("binary", start)
    assert objective("binary", new_z) != objective("binary", start)


# ---- evaluation ----

class RecordingScorer:
    """Stands in for gmvae.evaluate.Scorer: records which images it was given (by label) and with which seed."""

    def __init__(self):
        self.calls = []

    def score(self, images, labels, seed, smallest=False):
        self.calls.append((labels.copy(), seed))
        keys = ("entropy", "loss", "recon", "kl_z", "kl_y", "mutual_information", "accuracy", "nmi", "ari")
        return dict.fromkeys(keys, 0.0)


# Labels are the images' indices, so a call's labels say which images it scored.
INDEXED = MNIST(train_x=np.zeros((50, 784), np.float32), train_y=np.arange(50),
                test_x=np.zeros((30, 784), np.float32), test_y=np.arange(30))
EVALUATED = TINY.replace(train_eval_size=20, test_eval_size=10)


def evaluation(seed, epoch):
    """(train images, train seed), (test images, test seed) of one epoch's evaluation."""
    scorer = RecordingScorer()
    train_module._evaluate(scorer, INDEXED, EVALUATED.replace(seed=seed), epoch)
    return scorer.calls


def test_each_epoch_scores_its_own_random_training_images_with_its_own_noise():
    (subset, train_seed), (test_images, test_seed) = evaluation(seed=0, epoch=1)
    assert len(subset) == 20 and len(set(subset)) == 20            # drawn without replacement
    np.testing.assert_array_equal(test_images, np.arange(10))       # the first test images, in order
    assert train_seed != test_seed
    for other in (evaluation(seed=0, epoch=2), evaluation(seed=1, epoch=1)):
        (other_subset, other_train_seed), (other_test_images, other_test_seed) = other
        assert set(other_subset) != set(subset)
        np.testing.assert_array_equal(other_test_images, test_images)
        assert other_train_seed != train_seed and other_test_seed != test_seed
    (again, again_train_seed), (_, again_test_seed) = evaluation(seed=0, epoch=1)
    np.testing.assert_array_equal(again, subset)
    assert (again_train_seed, again_test_seed) == (train_seed, test_seed)


def test_a_score_is_a_function_of_its_seed():
    scorer = Scorer(build_model(TINY))
    images, labels = np.full((20, 784), 0.5, np.float32), np.arange(20) % 10
    assert scorer.score(images, labels, seed=5) == scorer.score(images, labels, seed=5)
    assert scorer.score(images, labels, seed=6)["loss"] != scorer.score(images, labels, seed=5)["loss"]
