"""The loss against an independent numpy computation of the formula in `gmvae.loss`'s docstring, term by term."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from gmvae.config import TrainConfig
from gmvae.loss import every_category, negative_elbo
from gmvae.models import build_model

K, Z, HIDDEN, X_DIM, BATCH = 3, 2, 5, 4, 7
SEED = tf.constant([11, 12])


def tiny(model, k=K):
    return build_model(TrainConfig(model=model, k=k, z_dim=Z, hidden=HIDDEN), x_dim=X_DIM)


def binary_images(seed=0):
    return np.random.default_rng(seed).integers(0, 2, size=(BATCH, X_DIM)).astype(np.float32)


def randomise_biases(model, seed=0):
    """Zero biases would hide a bias bug; give every layer some."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        if "bias" in v.name:
            v.assign(rng.normal(size=v.shape).astype(np.float32))


# ---- the formula in numpy, written from `gmvae.loss`'s docstring without TensorFlow Probability ----

def dense(layer, *parts, activation=None):
    out = np.concatenate([np.broadcast_to(p, np.broadcast_shapes(*(q.shape[:-1] for q in parts)) + p.shape[-1:])
                          for p in parts], axis=-1) @ np.concatenate([k.numpy() for k in layer.kernels]).astype(np.float64)
    out = out + layer.bias.numpy()
    return {"relu": lambda a: np.maximum(a, 0), "softplus": lambda a: np.logaddexp(0, a), None: lambda a: a}[activation](out)


def log_normal(z, mean, var):
    return np.sum(-0.5 * np.log(2 * np.pi * var) - (z - mean) ** 2 / (2 * var), axis=-1)


def log_bernoulli(x, logits):
    return np.sum(x * -np.logaddexp(0, -logits) + (1 - x) * -np.logaddexp(0, logits), axis=-1)


def decoder_logits(model, name, z, y):
    layers = model.px_layers
    if name == "m2":
        h = dense(layers[0], z, y, activation="relu")
    elif name == "modified_m2":
        h = dense(model.h_mean, y) + np.sqrt(dense(model.h_var, y, activation="softplus")) * z
        h = dense(layers[0], np.maximum(h, 0), activation="relu")
    else:
        h = dense(layers[0], z, activation="relu")
    for layer in layers[1:-1]:
        h = dense(layer, h, activation="relu")
    return dense(layers[-1], h)


def numpy_loss(model, name, x, z):
    """Per-example (loss, reconstruction, kl_z, kl_y, entropy) for z [K, B, Z] drawn from q(z|x,y)."""
    k = model.k
    h = dense(model.qy_layers[1], dense(model.qy_layers[0], x, activation="relu"), activation="relu")
    logits = dense(model.qy_layers[2], h)
    log_q_y = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    q_y = np.exp(log_q_y)
    reconstruction = kl_z = 0
    for c in range(k):
        y = np.eye(k)[c][None, :]
        h = dense(model.qz_layers[1], dense(model.qz_layers[0], x, y, activation="relu"), activation="relu")
        mean, var = dense(model.qz_mean, h), dense(model.qz_var, h, activation="softplus")
        if name == "gmvae":
            prior_mean, prior_var = dense(model.pz_mean, y), dense(model.pz_var, y, activation="softplus")
        else:
            prior_mean, prior_var = 0.0, 1.0
        reconstruction = reconstruction - q_y[:, c] * log_bernoulli(x, decoder_logits(model, name, z[c], y))
        kl_z = kl_z + q_y[:, c] * (log_normal(z[c], mean, var) - log_normal(z[c], prior_mean, prior_var))
    kl_y = np.sum(q_y * (log_q_y - np.log(1 / k)), axis=1)
    entropy = -np.sum(q_y * log_q_y, axis=1)
    return reconstruction + kl_z + kl_y, reconstruction, kl_z, kl_y, entropy


@pytest.mark.parametrize("name", ["m2", "modified_m2", "gmvae"])
def test_loss_equals_the_formula_computed_by_hand(name):
    model = tiny(name)
    randomise_biases(model)
    x = binary_images()
    terms = negative_elbo(model, tf.constant(x), SEED)
    # The same stateless seed gives negative_elbo's z; everything else is recomputed in numpy.
    z = model.q_z(tf.constant(x), every_category(K)).sample(seed=SEED).numpy().astype(np.float64)
    expected = numpy_loss(model, name, x.astype(np.float64), z)
    for got, want in zip([terms.loss, terms.reconstruction, terms.kl_z, terms.kl_y, terms.entropy], expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=2e-5)
    assert terms.logits.shape == [BATCH, K]


@pytest.mark.parametrize("name", ["m2", "gmvae", "m2_iaf"])
def test_one_category_reduces_to_a_plain_vae(name):
    model = tiny(name, k=1)
    x = tf.constant(binary_images())
    terms = negative_elbo(model, x, SEED)
    y = tf.ones([BATCH, 1])
    q_z = model.q_z(x, y)
    z = model.q_z(x, every_category(1)).sample(seed=SEED)[0]
    plain = -model.p_x(z, y).log_prob(x) + q_z.log_prob(z) - model.p_z(y).log_prob(z)
    np.testing.assert_allclose(terms.loss.numpy(), plain.numpy(), rtol=1e-6)


def test_the_flow_density_of_the_sample_needs_no_inversion():
    """Inverting m2_iaf's flow takes one network pass per coordinate of z (a while loop); the loss
    takes log q(z|x,y) along the sample's own path instead."""
    model = tiny("m2_iaf")
    loss = tf.function(lambda x: negative_elbo(model, x, SEED).loss)
    graph = loss.get_concrete_function(tf.constant(binary_images())).graph
    assert not [op.type for op in graph.get_operations() if "While" in op.type]


def test_single_sample_kl_over_z_is_unbiased():
    """Averaged over many draws, the sampled KL over z matches the closed form for Gaussians."""
    model = tiny("gmvae")
    x = tf.constant(np.repeat(binary_images()[:1], 20_000, axis=0))
    terms = negative_elbo(model, x, SEED)
    y = every_category(K)
    closed_form = tfp.distributions.kl_divergence(model.q_z(x[:1], y), model.p_z(y))[:, 0]  # [K]
    q_y = tf.nn.softmax(model.q_y(x[:1]).logits)[0]
    expected = float(tf.reduce_sum(q_y * closed_form))
    assert float(tf.reduce_mean(terms.kl_z)) == pytest.approx(expected, rel=0.02, abs=0.02)
