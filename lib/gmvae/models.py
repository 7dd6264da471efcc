"""The three models of the post, and M2 with a flow posterior, written as TensorFlow Probability distributions.

The post's three share the inference side

    q(y|x)   = Categorical(logits = f(x)),                      f: 784 -> 512 -> 512 -> K
    q(z|x,y) = N(m(x,y), diag v(x,y)),  v = softplus(.),        m, v: [x, onehot(y)] -> 512 -> 512 -> z

and differ in the generative side, with p(y) uniform over K categories:

    M2           p(z|y) = N(0, I)                p(x|z,y) = Bernoulli(g([z, onehot(y)])),   g: -> 512 -> 512 -> 784
    modified M2  p(z|y) = N(0, I)                p(x|z,y) = Bernoulli(g(a(mu(y) + sqrt(v(y)) * z))), g: -> 512 -> 784
    GMVAE        p(z|y) = N(mu(y), diag v(y))    p(x|z)   = Bernoulli(g(z)),                g: -> 512 -> 512 -> 784

where mu is linear and v softplus-linear in onehot(y), and the modified M2's first decoder step `a` is
ReLU (default), the identity, or (relu_layer) a 512-unit ReLU layer in place of the ReLU, as the
original's `custom_layer` offered; g then has one layer more (h -> 512 -> 512 -> 784).

M2 with an inverse autoregressive flow (m2_iaf) asks whether M2 still ignores y when q(z|x,y) is more
expressive than a diagonal Gaussian. Its generative side is M2's; q(z|x,y) is the Gaussian above pushed
through FLOW_STEPS IAF steps (Kingma et al. 2016), the coordinates reversed between steps:

    q(z|x,y):  z_0 ~ N(m(x,y), diag v(x,y)),   z_t = (z_{t-1} - s_t) * exp(-l_t),   z = z_T
               (s_t, l_t)_i = MADE_t(z_{t-1, <i}, h(x,y)),   h = the encoder's last hidden layer (512)

so log q(z|x,y) = log N(z_0) + sum_t sum_i l_t,i, exact and computed with the sample in one pass.

Every method takes y as one-hot vectors whose batch shape broadcasts against x's. The loss passes
all K categories at once as y = eye(K)[:, None, :] (shape [K, 1, K]), so each distribution comes out
with batch shape [K, B]: the K components are one batched computation, not a loop.

Layers whose input is a concatenation [x, onehot(y)] are `ConcatDense`: one Glorot-initialised
kernel over the concatenated input (as the original), applied part by part so that the x part is
computed once per example instead of once per category. The mathematics is unchanged.

A model of your own is a ClusteringVAE subclass in a module of yours that calls :func:`register_model`; the
command line imports such modules from the GMVAE_MODELS environment variable (docs/your_own_model.md).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import itertools
import os
import re
import sys
from pathlib import Path

from gmvae import machine
from gmvae.config import MODELS, MODELS_ENV, TrainConfig
from gmvae.quiet_import import tf, tfp

tfb = tfp.bijectors
tfd = tfp.distributions

IMAGE_PIXELS = 784
FLOW_STEPS = 2     # IAF steps of m2_iaf's q(z|x,y)
FLOW_HIDDEN = 256  # units of each step's one hidden (masked) layer


def _matmul_last(x, kernel):
    """x[..., n] @ kernel[n, m], folding leading axes into one matrix multiply."""
    flat = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [kernel.shape[1]]], axis=0))


class ConcatDense(tf.Module):
    """activation([x_1, ..., x_n] @ W + b) without building the concatenation.

    W is Glorot-uniform over the full concatenated fan-in and stored as one variable per part;
    parts broadcast against each other, so x [B, n1] and y [K, 1, n2] give [K, B, units].
    `compute_dtype` bfloat16 runs the multiplies in bf16 with float32 weights (mixed precision).
    """

    def __init__(self, part_sizes, units, *, seed, activation=None, compute_dtype=tf.float32, name=None):
        super().__init__(name=name)
        kernel = tf.keras.initializers.GlorotUniform(seed=seed)([sum(part_sizes), units])
        splits = tf.split(kernel, list(part_sizes), axis=0)
        self.kernels = [tf.Variable(k, name=f"kernel_{i}") for i, k in enumerate(splits)]
        self.bias = tf.Variable(tf.zeros([units]), name="bias")
        self.activation = activation
        self.compute_dtype = compute_dtype

    def preactivation(self, *parts):
        """[x_1, ..., x_n] @ W + b, before the activation."""
        out = tf.cast(self.bias, self.compute_dtype)
        for part, kernel in zip(parts, self.kernels):
            out = out + _matmul_last(tf.cast(part, self.compute_dtype), tf.cast(kernel, self.compute_dtype))
        return out

    def __call__(self, *parts):
        out = self.preactivation(*parts)
        return self.activation(out) if self.activation else out


class ClusteringVAE(tf.Module):
    """Shared pieces: uniform p(y), the inference networks q(y|x), q(z|x,y), and p(z|y) = N(0, I).

    A model overrides `p_x` (GMVAE also `p_z`, m2_iaf only `q_z`); `gmvae.loss.negative_elbo` is written against
    these five methods only.
    """

    def __init__(self, config: TrainConfig, x_dim: int = IMAGE_PIXELS):
        super().__init__(name=config.model)
        self.k, self.z_dim, self.hidden, self.x_dim = config.k, config.z_dim, config.hidden, x_dim
        self.compute_dtype = tf.bfloat16 if config.precision == "mixed_bfloat16" else tf.float32
        self._seeds = itertools.count(config.seed * 1000)  # one distinct init seed per layer
        relu = tf.nn.relu
        h = self.hidden
        self.qy_layers = [self.dense([x_dim], h, relu), self.dense([h], h, relu), self.dense([h], self.k)]
        self.qz_layers = [self.dense([x_dim, self.k], h, relu), self.dense([h], h, relu)]
        self.qz_mean = self.dense([h], self.z_dim)
        self.qz_var = self.dense([h], self.z_dim, tf.nn.softplus)

    def dense(self, part_sizes, units, activation=None) -> ConcatDense:
        return ConcatDense(part_sizes, units, seed=next(self._seeds), activation=activation,
                           compute_dtype=self.compute_dtype)

    def _float(self, t):
        return tf.cast(t, tf.float32)  # distributions and the loss stay in float32

    def p_y(self) -> tfd.Categorical:
        return tfd.Categorical(logits=tf.zeros([self.k]))

    def p_z(self, y) -> tfd.MultivariateNormalDiag:
        batch = tf.shape(y)[:-1]
        zeros = tf.zeros(tf.concat([batch, [self.z_dim]], axis=0))
        return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))

    def p_x(self, z, y) -> tfd.Independent:
        raise NotImplementedError

    def q_y(self, x) -> tfd.Categorical:
        return tfd.Categorical(logits=self._float(_apply(self.qy_layers, x)))

    def q_z(self, x, y) -> tfd.MultivariateNormalDiag:
        return self._diagonal_gaussian(_apply(self.qz_layers, x, y))

    def _diagonal_gaussian(self, h) -> tfd.MultivariateNormalDiag:
        """N(m, diag v) from the last hidden layer h(x,y) of q(z|x,y)'s network."""
        return tfd.MultivariateNormalDiag(loc=self._float(self.qz_mean(h)), scale_diag=tf.sqrt(self._float(self.qz_var(h))))

    def variance_preactivations(self, x, y) -> dict[str, tf.Tensor]:
        """The inputs s of every softplus variance v = softplus(s) that the loss of x takes, in float32, by name:
        where a NaN can be born. In float32, softplus(s) is 0 below about s = -87.3 (TensorFlow's CPU kernels flush
        subnormal results to 0), and a variance of 0 makes a log-density -inf and the gradient of sqrt(v) infinite.
        q_z: q(z|x,y)'s, [K, B, z_dim] for y [K, 1, K]."""
        return {"q_z": self._float(self.qz_var.preactivation(_apply(self.qz_layers, x, y)))}

    @staticmethod
    def _bernoulli(logits) -> tfd.Independent:
        return tfd.Independent(PixelBernoulli(logits=logits), reinterpreted_batch_ndims=1)


class PixelBernoulli(tfd.Bernoulli):
    """TFP's Bernoulli with log p(x) = x * s - softplus(s) for logits s: one softplus over the decoder's [K, B, 784]
    outputs where TFP's takes two (log p = -softplus(-s) and log(1 - p) = -softplus(s) apart). The same density; it
    rounds differently, and makes a GMVAE step 1.5-5 % (float32) and 10-14 % (bfloat16) faster (docs/performance.md)."""

    def _log_prob(self, event):
        logits = self._logits_parameter_no_checks()
        return tf.cast(event, logits.dtype) * logits - tf.math.softplus(logits)


def _apply(layers, *inputs):
    """Run a stack of layers; the first takes the (possibly several) inputs as its parts."""
    h = layers[0](*inputs)
    for layer in layers[1:]:
        h = layer(h)
    return h


class M2(ClusteringVAE):
    """Kingma et al.'s M2: p(y) p(z) p(x|z,y), the decoder fed [z, onehot(y)]."""

    def __init__(self, config: TrainConfig, x_dim: int = IMAGE_PIXELS):
        super().__init__(config, x_dim)
        h = self.hidden
        self.px_layers = [
            self.dense([self.z_dim, self.k], h, tf.nn.relu),
            self.dense([h], h, tf.nn.relu),
            self.dense([h], self.x_dim),
        ]

    def p_x(self, z, y):
        return self._bernoulli(self._float(_apply(self.px_layers, z, y)))


class ModifiedM2(ClusteringVAE):
    """M2 whose first decoder layer is a Gaussian mixture: h = mu(y) + sqrt(v(y)) * z, v > 0."""

    def __init__(self, config: TrainConfig, x_dim: int = IMAGE_PIXELS):
        super().__init__(config, x_dim)
        h = self.hidden
        self.decoder_first = config.decoder_first
        self.h_mean = self.dense([self.k], self.z_dim)
        self.h_var = self.dense([self.k], self.z_dim, tf.nn.softplus)
        # h -> 512 -> 784; relu_layer puts a 512-unit ReLU layer where the ReLU on h was: h -> 512 -> 512 -> 784
        fan_ins = [self.z_dim, h] if config.decoder_first == "relu_layer" else [self.z_dim]
        self.px_layers = [*(self.dense([n], h, tf.nn.relu) for n in fan_ins), self.dense([h], self.x_dim)]

    def variance_preactivations(self, x, y):
        """q(z|x,y)'s, and the decoder's v(y) ("decoder", [K, 1, z_dim])."""
        return {**super().variance_preactivations(x, y), "decoder": self._float(self.h_var.preactivation(y))}

    def p_x(self, z, y):
        h = self.h_mean(y) + tf.sqrt(self.h_var(y)) * tf.cast(z, self.compute_dtype)
        if self.decoder_first == "relu":
            h = tf.nn.relu(h)
        return self._bernoulli(self._float(_apply(self.px_layers, h)))


class GMVAE(ClusteringVAE):
    """The real Gaussian mixture VAE: p(y) p(z|y) p(x|z), with p(z|y) = N(mu(y), diag v(y))."""

    def __init__(self, config: TrainConfig, x_dim: int = IMAGE_PIXELS):
        super().__init__(config, x_dim)
        h = self.hidden
        self.pz_mean = self.dense([self.k], self.z_dim)
        self.pz_var = self.dense([self.k], self.z_dim, tf.nn.softplus)
        self.px_layers = [
            self.dense([self.z_dim], h, tf.nn.relu),
            self.dense([h], h, tf.nn.relu),
            self.dense([h], self.x_dim),
        ]

    def p_z(self, y):
        return tfd.MultivariateNormalDiag(loc=self._float(self.pz_mean(y)), scale_diag=tf.sqrt(self._float(self.pz_var(y))))

    def variance_preactivations(self, x, y):
        """q(z|x,y)'s, and p(z|y)'s v(y) ("prior", [K, 1, z_dim])."""
        return {**super().variance_preactivations(x, y), "prior": self._float(self.pz_var.preactivation(y))}

    def p_x(self, z, y):
        del y  # x depends on y only through z
        return self._bernoulli(self._float(_apply(self.px_layers, z)))


class M2IAF(M2):
    """M2 whose q(z|x,y) is its diagonal Gaussian followed by inverse autoregressive flow steps.

    Each step is TFP's masked autoregressive flow inverted, so that sampling is its one-pass direction;
    its MADE network reads z's earlier coordinates and, as conditional input, the encoder's last hidden
    layer h(x,y). The flow runs in float32 whatever the precision, like the distributions and the loss.
    """

    def __init__(self, config: TrainConfig, x_dim: int = IMAGE_PIXELS):
        super().__init__(config, x_dim)
        self.flow_networks = [self._made() for _ in range(FLOW_STEPS)]

    def _made(self) -> tfb.AutoregressiveNetwork:
        network = tfb.AutoregressiveNetwork(
            params=2, event_shape=[self.z_dim], conditional=True, conditional_event_shape=[self.hidden],
            hidden_units=[FLOW_HIDDEN], kernel_initializer=self._glorot_uniform)
        network.build([None, self.z_dim])  # variables exist before the optimizer and checkpoints look for them
        return network

    def _glorot_uniform(self, shape, dtype=None):
        """A fresh init seed per kernel, as the other layers have: reproducible and independent."""
        return tf.keras.initializers.GlorotUniform(seed=next(self._seeds))(shape, dtype)

    def q_z(self, x, y) -> tfd.TransformedDistribution:
        h = _apply(self.qz_layers, x, y)
        return tfd.TransformedDistribution(self._diagonal_gaussian(h), self._flow(self._float(h)))

    def _flow(self, h) -> tfb.Chain:
        """The IAF steps with h bound as their conditional input, the coordinates reversed between steps."""
        reverse = tfb.Permute(permutation=list(range(self.z_dim))[::-1])
        bijectors = []  # in the order they apply
        for network in self.flow_networks:
            if bijectors:
                bijectors.append(reverse)
            made = _once_per_input(functools.partial(network, conditional_input=h))
            bijectors.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)))
        return tfb.Chain(bijectors[::-1])  # Chain applies its last bijector first


def _once_per_input(network):
    """`network`, computed once per input tensor: TFP's flow asks for a step's shift and log-scale twice
    per sample, for the value and for the log-determinant, and would otherwise run the network twice."""
    outputs = {}

    def shift_and_log_scale(z):
        if z.ref() not in outputs:
            outputs[z.ref()] = network(z)
        return outputs[z.ref()]

    return shift_and_log_scale


MODEL_CLASSES = {"m2": M2, "modified_m2": ModifiedM2, "gmvae": GMVAE, "m2_iaf": M2IAF}
BUILT_IN_MODELS = tuple(MODEL_CLASSES)
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*")


def register_model(name: str, model_class: type) -> None:
    """Make ``name`` a model: TrainConfig(model=name) accepts it, build_model builds ``model_class`` for it, the
    command line's --model takes it, and its runs are named after it (results/runs/<name>/seed<k>/).

    ``model_class`` is a ClusteringVAE that overrides the methods it changes (`p_x`, and `p_z` or `q_z`) and
    builds its layers with `self.dense`; the loss, training, scoring and figures take it as they take the
    built-in models. ``name``: lower-case letters, digits and underscores, not a built-in model's name or a
    profile's run name. Registering a name again replaces its class (a module imported twice)."""
    from gmvae.reproduction.profiles import PROFILES

    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ValueError(f"a model's name is lower-case letters, digits and underscores, starting with a letter: "
                         f"not {name!r}")
    taken = set(BUILT_IN_MODELS) | {run for profile in PROFILES.values() for run in profile.seeds}
    if name in taken:
        raise ValueError(f"{name!r} is a built-in model or a profile's run name; choose another name")
    if not (isinstance(model_class, type) and issubclass(model_class, ClusteringVAE)):
        raise TypeError(f"register_model({name!r}, ...) needs a subclass of gmvae.models.ClusteringVAE, "
                        f"not {model_class!r}")
    MODEL_CLASSES[name] = model_class
    if name not in MODELS:
        MODELS.append(name)


def load_model_modules(spec: str | None = None) -> list[str]:
    """Import the modules that ``spec`` (default: the GMVAE_MODELS environment variable) names, separated by
    os.pathsep: a path to a .py file, or a module's importable name. Each registers its models when imported
    (:func:`register_model`); a file is imported once however often it is named. Returns the names of the models
    registered so far beyond the built-in ones. ValueError if a file is missing or an import fails."""
    spec = os.environ.get(MODELS_ENV, "") if spec is None else spec
    for entry in filter(None, (part.strip() for part in spec.split(os.pathsep))):
        try:
            if entry.endswith(".py") or os.sep in entry:
                path = Path(entry).expanduser().resolve()
                if not path.is_file():
                    raise FileNotFoundError(f"no file {path}")
                module_name = f"gmvae_models_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}_{path.stem}"
                if module_name not in sys.modules:
                    module_spec = importlib.util.spec_from_file_location(module_name, path)
                    module = importlib.util.module_from_spec(module_spec)
                    sys.modules[module_name] = module
                    try:
                        module_spec.loader.exec_module(module)
                    except BaseException:
                        del sys.modules[module_name]
                        raise
            else:
                importlib.import_module(entry)
        except Exception as error:  # the user's module: any error it raises is reported, in one line
            raise ValueError(f"{MODELS_ENV}: {entry}: {type(error).__name__}: {error}") from error
    return [name for name in MODEL_CLASSES if name not in BUILT_IN_MODELS]


def build_model(config: TrainConfig, x_dim: int = IMAGE_PIXELS) -> ClusteringVAE:
    """The model of config (a built-in one or one of :func:`register_model`); precision "auto" becomes the machine's
    choice (training resolves it first, so that run.json records it)."""
    if config.precision == "auto":
        config = config.replace(precision=machine.auto_precision(tf)[0])
    return MODEL_CLASSES[config.model](config, x_dim)
