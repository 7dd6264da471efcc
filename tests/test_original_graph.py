"""The original's modified M2 written again in tf.compat.v1 (gmvae.reference.original_graph): its loss equals the
library's for the same weights, images and noise; it trains through the library's loop, deterministically, and
resumes to the uninterrupted log."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from gmvae.config import TrainConfig
from gmvae.data import binarize
from gmvae.loss import every_category, negative_elbo
from gmvae.models import build_model
from gmvae.reference.original_graph import OriginalGraphTrainer
from gmvae.train import train

from test_train import synthetic_mnist, without_time

SMALL = TrainConfig(model="modified_m2", epochs=2, k=3, z_dim=2, hidden=8, batch_size=10, iters_per_epoch=4,
                    train_eval_size=40, test_eval_size=30, precision="float32", implementation="original_graph")


def both_losses(config, images, seed=(5, 6)):
    """The library's loss terms and the graph's, for the library model's initial weights (which the graph takes),
    the same binarized images and the same z: the library's own sample, fed into the graph in place of its draw."""
    trainer = OriginalGraphTrainer(config, synthetic_mnist(n_train=len(images)), "unused")
    model = build_model(config.replace(implementation="tfp"), images.shape[1])
    x = binarize(tf.constant(images), tf.constant([1, 2]))
    library = negative_elbo(model, x, tf.constant(seed))
    z = model.q_z(x, every_category(config.k)).experimental_sample_and_log_prob(seed=tf.constant(seed))[0].numpy()
    net = trainer.net
    feed = {net.xb: x.numpy(), **{net.z[i]: z[i] for i in range(config.k)}}
    graph = trainer.session.run({"loss": net.loss, "reconstruction": net.reconstruction, "kl_z": net.kl_z,
                                 "kl_y": net.kl_y, "logits": net.qy_logit}, feed)
    return library, graph


@pytest.mark.parametrize("config", [SMALL, SMALL.replace(k=10, z_dim=64, hidden=512)], ids=["small", "post sizes"])
def test_the_graphs_loss_equals_the_librarys_to_float32_rounding(config):
    images = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    library, graph = both_losses(config, images)
    np.testing.assert_allclose(graph["logits"], library.logits.numpy(), rtol=1e-5, atol=1e-5)
    for term in ("loss", "reconstruction", "kl_z", "kl_y"):
        ours = getattr(library, term).numpy()
        np.testing.assert_allclose(graph[term], ours, rtol=2e-6 * config.k, atol=1e-4, err_msg=term)
    assert np.abs(library.kl_z.numpy()).min() > 1e-3  # the z terms are not vanishing, so they were compared


def test_the_graph_draws_z_as_mean_plus_sqrt_variance_times_noise():
    """Its own draw: z - m over sqrt(v) is standard normal, seeded by the fed seeds (same seeds, same z)."""
    trainer = OriginalGraphTrainer(SMALL.replace(z_dim=64), synthetic_mnist(), "unused")
    net = trainer.net
    images = np.random.default_rng(1).random((200, 784), dtype=np.float32)
    run = lambda seeds: trainer.session.run(net.z[0], {net.x: images, net.seeds: seeds})  # noqa: E731
    seeds = np.array([[1, 2], [3, 4]], np.int32)
    first, again, other = run(seeds), run(seeds), run(seeds + 1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    mean, variance = trainer.session.run([net.zm[0], net.zv[0]], {net.x: images, net.seeds: seeds})
    noise = (first - mean) / np.sqrt(variance)
    assert abs(noise.mean()) < 0.045 and abs(noise.std() - 1) < 0.03  # 5 standard errors of 12,800 draws


@pytest.mark.slow
def test_training_is_deterministic_and_resumes_to_the_uninterrupted_log(tmp_path):
    data = synthetic_mnist()
    whole = train(SMALL.replace(epochs=3), tmp_path / "whole", data=data, progress=False)
    again = train(SMALL.replace(epochs=3), tmp_path / "again", data=data, progress=False)
    train(SMALL.replace(epochs=1), tmp_path / "resumed", data=data, progress=False)
    resumed = train(SMALL.replace(epochs=3), tmp_path / "resumed", data=data, progress=False)
    pd.testing.assert_frame_equal(without_time(again), without_time(whole))
    pd.testing.assert_frame_equal(without_time(resumed), without_time(whole))
    assert whole["test_loss"].diff().iloc[1:].abs().min() > 0  # every epoch differs
    assert np.isfinite(whole[["q_z_var_min", "decoder_var_min", "log_q_y_min", "grad_norm_max"]]).all().all()
    other_seed = train(SMALL.replace(epochs=3, seed=1), tmp_path / "other", data=data, progress=False)
    assert (other_seed["test_loss"] != whole["test_loss"]).all()


def test_the_graph_trains_only_the_originals_modified_m2():
    with pytest.raises(ValueError, match="implementation original_graph trains model='modified_m2' only, not 'gmvae'"):
        SMALL.replace(model="gmvae")
    with pytest.raises(ValueError, match="precision='float32' only"):
        SMALL.replace(precision="mixed_bfloat16")
    assert SMALL.run_name == "modified_m2_original_graph"
