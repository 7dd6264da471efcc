"""What the numbers of a log row and the drawn samples mean: the row scores the test images and training
images it names, clipping bounds the step, mixed bfloat16 computes in bfloat16, scoring in chunks keeps
labels with their images, each cluster's samples land in its row, and training lowers the loss."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from gmvae import evaluate, runs, train as train_module
from gmvae.config import MODELS, TrainConfig
from gmvae.data import MNIST
from gmvae.evaluate import Scorer, cluster_samples
from gmvae.loss import negative_elbo
from gmvae.models import ConcatDense, build_model
from gmvae.train import make_train_step, train
from test_train import TINY, synthetic_mnist

K, Z, HIDDEN, X_DIM = 3, 2, 5, 6
SEEDS = np.array([[1, 2], [3, 4]], np.int32)  # a train step's binarization and z-noise seeds


def tiny(model, **changes):
    return build_model(TrainConfig(model=model, k=K, z_dim=Z, hidden=HIDDEN, **changes), x_dim=X_DIM)


def binary_images(n, x_dim=X_DIM, ink=0.5, seed=0):
    """0/1 pixels, which binarization leaves as they are: a score's only noise is then its z draws."""
    return (np.random.default_rng(seed).random((n, x_dim)) < ink).astype(np.float32)


# ---- a log row ----

TEST_COLUMNS = {"test_loss": "loss", "test_recon": "recon", "test_kl_z": "kl_z", "test_kl_y": "kl_y",
                "test_entropy": "entropy", "test_mutual_information": "mutual_information",
                "test_accuracy": "accuracy", "test_nmi": "nmi", "test_ari": "ari"}


def test_a_log_row_holds_the_scores_of_the_test_images_and_of_training_images(tmp_path, monkeypatch):
    """Mostly inked training images labelled 0-4, mostly blank test images labelled 5-9. The row is compared
    with a Scorer of the saved checkpoint run directly on the images, with the seeds training scored them with."""
    calls = []

    class RecordingScorer(Scorer):
        def score(self, images, labels, seed, **options):
            calls.append((images, labels, seed))
            return super().score(images, labels, seed, **options)

    monkeypatch.setattr(train_module, "Scorer", RecordingScorer)
    data = MNIST(train_x=binary_images(60, 784, ink=0.7, seed=1), train_y=np.arange(60) % 5,
                 test_x=binary_images(25, 784, ink=0.2, seed=2), test_y=5 + np.arange(25) % 5)
    config = TINY.replace(epochs=1, train_eval_size=40, test_eval_size=20)
    row = train(config, tmp_path, data=data, progress=False).iloc[0]
    scorer = Scorer(evaluate.load_trained(tmp_path)[0])

    test_calls = [call for call in calls if np.array_equal(call[0], data.test_x[:20])]
    assert len(calls) == 2 and len(test_calls) == 1, "one score of the first 20 test images, one of training images"
    (_, test_labels, test_seed), = test_calls
    np.testing.assert_array_equal(test_labels, data.test_y[:20])
    test = scorer.score(data.test_x[:20], data.test_y[:20], test_seed)
    assert {column: row[column] for column in TEST_COLUMNS} == pytest.approx(
        {column: test[key] for column, key in TEST_COLUMNS.items()}, rel=1e-6)

    (train_images, train_labels, train_seed), = [call for call in calls if call is not test_calls[0]]
    training_pairs = {(image.tobytes(), label) for image, label in zip(data.train_x, data.train_y)}
    assert len(train_images) == 40
    assert all((image.tobytes(), label) in training_pairs for image, label in zip(train_images, train_labels))
    train_score = scorer.score(train_images, train_labels, train_seed)
    assert (row["train_loss"], row["train_entropy"]) == pytest.approx((train_score["loss"], train_score["entropy"]),
                                                                      rel=1e-6)
    assert abs(row["train_entropy"] - row["test_entropy"]) > 0.01  # the two sets do score differently


# ---- the train step ----

def test_log_rows_past_the_checkpoint_are_dropped_on_resume(tmp_path):
    """A kill after the log row is written and before the checkpoint is saved leaves a row the checkpoint does
    not have; resuming must retrain that epoch, not keep the stale row beside the new one."""
    data = synthetic_mnist()
    straight = train(TINY, tmp_path / "straight", data=data, progress=False)
    run = tmp_path / "killed"
    train(TINY.replace(epochs=2), run, data=data, progress=False)
    log = runs.read_log(run)
    runs.write_log(run, pd.concat([log, log.iloc[[-1]].assign(epoch=3, test_loss=-1.0)], ignore_index=True))
    resumed = train(TINY, run, data=data, progress=False)
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"), straight.drop(columns="seconds"))


def test_clipping_scales_the_step_down_to_clip_norm():
    """SGD with rate 1 moves the weights by minus the gradients it is given: unclipped, by more than
    clip_norm; clipped, by exactly clip_norm in the same direction."""
    train_x = tf.constant(synthetic_mnist().train_x)
    steps, reported = {}, {}
    for clip_norm in (None, 0.05):
        config = TINY.replace(clip_norm=clip_norm)
        model = build_model(config)
        before = [v.numpy() for v in model.trainable_variables]
        _, reported[clip_norm] = make_train_step(model, tf.keras.optimizers.SGD(learning_rate=1.0), train_x, config)(
            np.arange(config.batch_size), SEEDS)
        steps[clip_norm] = [v.numpy() - b for v, b in zip(model.trainable_variables, before)]
    unclipped_norm = float(tf.linalg.global_norm(steps[None]))
    assert unclipped_norm > 10 * 0.05
    # the step reports the norm before clipping, clipped or not
    assert float(reported[None]) == float(reported[0.05]) == pytest.approx(unclipped_norm, rel=1e-5)
    assert float(tf.linalg.global_norm(steps[0.05])) == pytest.approx(0.05, rel=1e-4)
    for clipped, unclipped in zip(steps[0.05], steps[None]):
        np.testing.assert_allclose(clipped, unclipped * 0.05 / unclipped_norm, rtol=1e-3, atol=1e-7)


# the variants of the post's models run with the slow tests: each costs seconds of tracing
LOWERING_CONFIGS = [TrainConfig(model="m2"), TrainConfig(model="modified_m2"), TrainConfig(model="gmvae"),
                    TrainConfig(model="m2_iaf"),
                    *(pytest.param(config, marks=pytest.mark.slow) for config in (
                        TrainConfig(model="m2", kl_y_weight=0.0),
                        *(TrainConfig(model="modified_m2", decoder_first=first) for first in ("identity", "relu_layer"))))]


@pytest.mark.parametrize("config", LOWERING_CONFIGS, ids=lambda config: config.run_name)
def test_thirty_steps_on_a_fixed_batch_lower_the_training_objective(config):
    """Ten noisy copies of two 16-pixel patterns, the same batch and noise every step: the objective the
    step returns (the training objective, kl_y weighted by eta) falls by more than a quarter."""
    rng = np.random.default_rng(0)
    patterns = binary_images(2, 16)
    batch = np.abs(patterns[np.arange(10) % 2] - (rng.random((10, 16)) < 0.1)).astype(np.float32)
    config = config.replace(k=K, z_dim=Z, hidden=8, batch_size=10, learning_rate=0.01)
    model = build_model(config, x_dim=16)
    train_step = make_train_step(model, train_module.make_optimizer(config), tf.constant(batch), config)
    objectives = [float(train_step(np.arange(10), SEEDS)[0]) for _ in range(30)]
    assert objectives[-1] < 0.75 * objectives[0]


# ---- mixed bfloat16 ----

@pytest.mark.parametrize("name", MODELS)
def test_mixed_bfloat16_computes_in_bfloat16_and_its_loss_is_close_to_float32s(name):
    bf16, f32 = tiny(name, precision="mixed_bfloat16"), tiny(name)
    layers = [m for m in bf16.submodules if isinstance(m, ConcatDense)]
    assert len(layers) >= 7
    for layer in layers:
        assert layer(*[tf.ones([1, kernel.shape[0]]) for kernel in layer.kernels]).dtype == tf.bfloat16, layer.name
    x, seed = tf.constant(binary_images(7)), tf.constant([11, 12])
    ours, reference = (float(tf.reduce_mean(negative_elbo(m, x, seed).loss)) for m in (bf16, f32))
    assert 0 < abs(ours - reference) / reference < 1e-2


# ---- scoring and sampling ----

def test_scoring_in_chunks_of_3_equals_scoring_in_one_chunk():
    """Labels are the clusters' own digits (cluster c is digit c + 7), so an image scored beside another's
    label lowers the accuracy. Only the loss terms but kl_y (which is exact) depend on the chunks' z draws."""
    model = tiny("gmvae")
    images = binary_images(11)                            # chunks of 3, 3, 3 and 2
    clusters = model.q_y(images).logits.numpy().argmax(axis=1)
    assert len(set(clusters)) >= 2
    one_chunk = Scorer(model).score(images, clusters + 7, seed=0)
    chunks_of_3 = Scorer(model, chunk_size=3).score(images, clusters + 7, seed=0)
    assert one_chunk["accuracy"] == one_chunk["nmi"] == pytest.approx(1.0)
    for key in ("accuracy", "nmi", "ari", "entropy", "mutual_information", "kl_y"):
        # float32 matrix products round differently for batches of 3 and of 11: equal to about 1e-6
        assert chunks_of_3[key] == pytest.approx(one_chunk[key], rel=1e-5), key


def test_the_samples_of_each_cluster_land_in_its_row():
    """A GMVAE whose prior means lie far apart with tiny variances: every sample in row c is the decoder's
    image of mean c."""
    model = build_model(TrainConfig(model="gmvae", k=K, z_dim=Z, hidden=HIDDEN))
    means = np.array([[-20.0, 0.0], [0.0, 0.0], [0.0, 20.0]], np.float32)
    model.pz_mean.kernels[0].assign(means)
    model.pz_var.bias.assign(np.full(Z, -20.0, np.float32))   # variance softplus(-20) = 2e-9
    samples = cluster_samples(model, n_per_cluster=4)
    assert samples.shape == (K, 4, 28, 28)
    images = model.p_x(means, None).mean().numpy().reshape(K, 28, 28)
    assert min(np.abs(images[a] - images[b]).max() for a, b in ((0, 1), (0, 2), (1, 2))) > 0.01
    for c in range(K):
        for sample in samples[c]:
            np.testing.assert_allclose(sample, images[c], atol=1e-4, err_msg=f"row {c}")
