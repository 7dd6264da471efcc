"""Shapes of every p and q, the layers' structure and initialisation, m2_iaf's flow, with small distinct sizes; then
every network at the post's own sizes, by literal."""

import numpy as np
import pytest
import tensorflow as tf

from gmvae.config import MODELS, TrainConfig
from gmvae.loss import every_category, negative_elbo
from gmvae.models import ConcatDense, build_model

K, Z, HIDDEN, X_DIM, BATCH = 3, 2, 5, 4, 7
SEED = tf.constant([11, 12])


def tiny(model, **changes):
    return build_model(TrainConfig(model=model, k=K, z_dim=Z, hidden=HIDDEN, **changes), x_dim=X_DIM)


def binary_images(n=BATCH, seed=0):
    return tf.constant(np.random.default_rng(seed).integers(0, 2, size=(n, X_DIM)), tf.float32)


@pytest.mark.parametrize("name", MODELS)
def test_distribution_shapes_for_every_category_at_once(name):
    model = tiny(name)
    x, y = binary_images(), every_category(K)

    assert (model.p_y().batch_shape, model.p_y().event_shape) == ([], [])
    assert model.p_y().probs_parameter().shape == [K]
    q_y = model.q_y(x)
    assert (q_y.batch_shape, q_y.event_shape) == ([BATCH], [])
    assert q_y.logits.shape == [BATCH, K]
    q_z = model.q_z(x, y)
    assert (q_z.batch_shape, q_z.event_shape) == ([K, BATCH], [Z])
    p_z = model.p_z(y)
    assert (p_z.batch_shape, p_z.event_shape) == ([K, 1], [Z])
    p_x = model.p_x(q_z.sample(seed=(1, 2)), y)
    assert (p_x.batch_shape, p_x.event_shape) == ([K, BATCH], [X_DIM])


@pytest.mark.parametrize("name", MODELS)
def test_one_category_per_example(name):
    model = tiny(name)
    x = binary_images()
    y = tf.one_hot(np.arange(BATCH) % K, K)                 # [B, K]
    q_z = model.q_z(x, y)
    assert (q_z.batch_shape, q_z.event_shape) == ([BATCH], [Z])
    assert model.p_x(q_z.sample(seed=(3, 4)), y).batch_shape == [BATCH]


def test_mixture_priors_depend_on_y_only_where_the_model_says():
    y = every_category(K)
    assert np.allclose(tiny("m2").p_z(y).mean(), 0) and np.allclose(tiny("m2").p_z(y).stddev(), 1)
    gmvae_prior = tiny("gmvae").p_z(y)
    assert np.all(gmvae_prior.stddev().numpy() > 0)
    means = gmvae_prior.mean().numpy()[:, 0]
    assert not np.allclose(means[0], means[1])               # one Gaussian per category


@pytest.mark.parametrize("first, kernel_shapes", [
    ("relu", [(Z, HIDDEN), (HIDDEN, X_DIM)]),
    ("identity", [(Z, HIDDEN), (HIDDEN, X_DIM)]),
    ("relu_layer", [(Z, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, X_DIM)]),   # h -> 512 -> 512 -> 784
])
def test_modified_m2_decoder_layers(first, kernel_shapes):
    model = tiny("modified_m2", decoder_first=first)
    assert [tuple(layer.kernels[0].shape) for layer in model.px_layers] == kernel_shapes
    z = tf.constant(np.random.default_rng(0).normal(size=(K, BATCH, Z)), tf.float32)
    assert model.p_x(z, every_category(K)).batch_shape == [K, BATCH]


@pytest.mark.parametrize("first, sees_negative_h", [("relu", False), ("identity", True), ("relu_layer", True)])
def test_only_the_relu_decoder_cuts_off_a_negative_h(first, sees_negative_h):
    """relu_layer's first layer takes h = mu(y) + sqrt(v(y)) z itself, as the original's `layer`, not ReLU(h)."""
    model = tiny("modified_m2", decoder_first=first)
    y = every_category(K)
    low, lower = tf.fill([K, BATCH, Z], -100.0), tf.fill([K, BATCH, Z], -200.0)   # h < 0 in every coordinate
    outputs_differ = not np.allclose(model.p_x(low, y).mean(), model.p_x(lower, y).mean())
    assert outputs_differ == sees_negative_h


def test_concat_dense_equals_a_dense_layer_on_the_concatenation():
    layer = ConcatDense([X_DIM, K], HIDDEN, seed=0)
    layer.bias.assign(np.arange(HIDDEN, dtype=np.float32))
    x = np.random.default_rng(0).normal(size=(BATCH, X_DIM)).astype(np.float32)
    y = np.eye(K, dtype=np.float32)[:, None, :]
    kernel = np.concatenate([k.numpy() for k in layer.kernels])
    expected = np.stack([np.concatenate([x, np.repeat(y[i], BATCH, 0)], axis=1) @ kernel + layer.bias.numpy()
                         for i in range(K)])
    np.testing.assert_allclose(layer(x, y).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_glorot_uniform_weights_over_the_full_fan_in_and_zero_biases():
    model = build_model(TrainConfig(model="gmvae"))
    first = model.qz_layers[0]                                # [x, onehot(y)] -> 512
    kernel = np.concatenate([k.numpy() for k in first.kernels])
    limit = np.sqrt(6 / (784 + 10 + 512))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert np.var(kernel) == pytest.approx(limit**2 / 3, rel=0.02)
    assert all(np.all(v.numpy() == 0) for v in model.trainable_variables if "bias" in v.name)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = tiny("gmvae"), tiny("gmvae"), tiny("gmvae", seed=1)
    assert all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(a.trainable_variables, b.trainable_variables))
    assert not np.array_equal(a.qy_layers[0].kernels[0].numpy(), c.qy_layers[0].kernels[0].numpy())


@pytest.mark.parametrize("name", ["gmvae", "m2_iaf"])
def test_mixed_bfloat16_keeps_float32_weights_and_distributions(name):
    model = tiny(name, precision="mixed_bfloat16")
    assert all(v.dtype == tf.float32 for v in model.trainable_variables)
    q_z = model.q_z(binary_images(), every_category(K))
    assert q_z.dtype == tf.float32


# ---- m2_iaf: q(z|x,y) is the Gaussian pushed through inverse autoregressive flow steps ----

def iaf_by_hand(model, u, h):
    """The flow written out from its networks: each step u <- (u - shift) * exp(-log_scale), where
    (shift, log_scale) = network(u, h); the coordinates reversed between steps."""
    for step, network in enumerate(model.flow_networks):
        if step:
            u = u[..., ::-1]
        shift, log_scale = tf.unstack(network(u, conditional_input=h), axis=-1)
        u = (u - shift) * tf.exp(-log_scale)
    return u


def test_flow_density_of_its_own_sample_is_the_change_of_variables():
    """log q(z) = log N(u; m, v) - log|det dz/du|, the Jacobian by autodiff on the hand-written flow."""
    z_dim = 3                                                   # a 3 x 3 Jacobian with off-diagonal terms
    model = build_model(TrainConfig(model="m2_iaf", k=K, z_dim=z_dim, hidden=HIDDEN), x_dim=X_DIM)
    x, y = binary_images(), every_category(K)
    q_z = model.q_z(x, y)
    z, log_q = q_z.experimental_sample_and_log_prob(seed=SEED)   # [K, B, z_dim], [K, B]
    assert (z.shape, log_q.shape) == ([K, BATCH, z_dim], [K, BATCH])

    u = tf.reshape(q_z.distribution.sample(seed=SEED), [-1, z_dim])   # the Gaussian draw the flow starts from
    h = tf.reshape(model.qz_layers[1](model.qz_layers[0](x, y)), [K * BATCH, HIDDEN])
    with tf.GradientTape() as tape:
        tape.watch(u)
        z_by_hand = iaf_by_hand(model, u, h)
    jacobian = tape.batch_jacobian(z_by_hand, u).numpy().astype(np.float64)      # [K * B, z_dim, z_dim]
    mean = q_z.distribution.mean().numpy().reshape(-1, z_dim)
    var = q_z.distribution.variance().numpy().reshape(-1, z_dim)
    u = u.numpy().astype(np.float64)
    log_base = np.sum(-0.5 * np.log(2 * np.pi * var) - (u - mean) ** 2 / (2 * var), axis=-1)
    expected = log_base - np.linalg.slogdet(jacobian)[1]

    np.testing.assert_allclose(z.numpy().reshape(-1, z_dim), z_by_hand.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_q.numpy().ravel(), expected, rtol=1e-5, atol=1e-5)
    assert np.abs(np.linalg.slogdet(jacobian)[1]).max() > 0.1     # the flow is not volume-preserving here
    # log_prob at a given point inverts the flow, one coordinate at a time, and must agree.
    np.testing.assert_allclose(model.q_z(x, y).log_prob(z).numpy(), log_q.numpy(), rtol=1e-5, atol=1e-5)


def test_flow_moves_the_gaussian_sample_and_its_weights_are_trained():
    model = tiny("m2_iaf")
    x, y = binary_images(), every_category(K)
    q_z = model.q_z(x, y)
    assert not np.allclose(q_z.sample(seed=SEED), q_z.distribution.sample(seed=SEED), atol=0.01)
    flow_variables = [v for network in model.flow_networks for v in network.trainable_variables]
    assert len(flow_variables) == 2 * 6     # per step: 2 masked kernels and biases, 2 conditional kernels
    assert {v.ref() for v in flow_variables} <= {v.ref() for v in model.trainable_variables}  # the optimizer's list
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(negative_elbo(model, x, SEED).loss)
    for v, gradient in zip(flow_variables, tape.gradient(loss, flow_variables)):
        assert np.abs(gradient.numpy()).max() > 0, v.name


# ---- the post's sizes (the models' docstring), at full size and by literal ----

RELU, SOFTPLUS, LINEAR = tf.nn.relu, tf.nn.softplus, None


def layer_sizes(layers):
    """Per layer: the kernel of each input part (a concatenation has several), the bias, the activation."""
    return [([tuple(k.shape) for k in layer.kernels], tuple(layer.bias.shape), layer.activation) for layer in layers]


ENCODER = {
    # q(y|x): 784 -> 512 -> 512 -> 10 logits
    "q_y": [([(784, 512)], (512,), RELU), ([(512, 512)], (512,), RELU), ([(512, 10)], (10,), LINEAR)],
    # q(z|x,y): [x, onehot(y)] (794) -> 512 -> 512 -> mean (linear, 64) and variance (softplus, 64)
    "q_z": [([(784, 512), (10, 512)], (512,), RELU), ([(512, 512)], (512,), RELU),
            ([(512, 64)], (64,), LINEAR), ([(512, 64)], (64,), SOFTPLUS)],
}
M2_DECODER = {  # [z, onehot(y)] (74) -> 512 -> 512 -> 784 logits
    "p_x": [([(64, 512), (10, 512)], (512,), RELU), ([(512, 512)], (512,), RELU), ([(512, 784)], (784,), LINEAR)],
}
MIXTURE = [([(10, 64)], (64,), LINEAR), ([(10, 64)], (64,), SOFTPLUS)]  # mu(y) linear, v(y) softplus-linear, 64 each
MODIFIED_M2_DECODER = {"h": MIXTURE,   # h = mu(y) + sqrt(v(y)) z; then h -> 512 -> 784
                       "p_x": [([(64, 512)], (512,), RELU), ([(512, 784)], (784,), LINEAR)]}
DECODERS = {
    ("m2", "relu"): M2_DECODER,
    ("m2_iaf", "relu"): M2_DECODER,
    ("modified_m2", "relu"): MODIFIED_M2_DECODER,
    ("modified_m2", "identity"): MODIFIED_M2_DECODER,
    ("modified_m2", "relu_layer"): {"h": MIXTURE,   # a 512-unit ReLU layer in place of the ReLU: h -> 512 -> 512 -> 784
                                    "p_x": [([(64, 512)], (512,), RELU), ([(512, 512)], (512,), RELU),
                                            ([(512, 784)], (784,), LINEAR)]},
    ("gmvae", "relu"): {"p_z": MIXTURE,   # p(z|y) = N(mu(y), diag v(y)); then z (64) -> 512 -> 512 -> 784
                        "p_x": [([(64, 512)], (512,), RELU), ([(512, 512)], (512,), RELU),
                                ([(512, 784)], (784,), LINEAR)]},
}


def networks(model):
    """The model's layers by the network they make up."""
    found = {"q_y": model.qy_layers, "q_z": [*model.qz_layers, model.qz_mean, model.qz_var], "p_x": model.px_layers}
    if hasattr(model, "h_mean"):
        found["h"] = [model.h_mean, model.h_var]
    if hasattr(model, "pz_mean"):
        found["p_z"] = [model.pz_mean, model.pz_var]
    return found


@pytest.mark.parametrize("name, decoder_first", DECODERS, ids=lambda v: v)
def test_every_network_has_the_posts_layer_sizes(name, decoder_first):
    model = build_model(TrainConfig(model=name, decoder_first=decoder_first))   # the default sizes: the post's
    found = networks(model)
    assert {net: layer_sizes(layers) for net, layers in found.items()} == {**ENCODER, **DECODERS[name, decoder_first]}
    # ... and no weights besides these (m2_iaf's flow is its own addition to M2).
    listed = {v.ref() for layers in found.values() for layer in layers for v in layer.trainable_variables}
    flow = {v.ref() for network in getattr(model, "flow_networks", []) for v in network.trainable_variables}
    assert {v.ref() for v in model.trainable_variables} == listed | flow
