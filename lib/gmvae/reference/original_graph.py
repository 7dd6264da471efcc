"""The original's modified M2 (RuiShu/vae-clustering `modified_m2.py relu`, with tensorbayes as of December 2016),
written again op for op in `tf.compat.v1`: a reference implementation of the original's numerics.

The library's modified M2 (gmvae.models.ModifiedM2 with gmvae.loss.negative_elbo) computes the same loss through
TensorFlow Probability. Where a NaN can be born, the two compute differently; this graph computes as the original:

* every density by tensorbayes' `log_normal(x, mu, var) = -0.5 * sum(log 2pi + log var + (x - mu)^2 / var)`, on
  the sampled z, with no floor on the variance (TFP computes log q(z|x,y) from the noise, and log sqrt(v));
* z = `random_normal(shape, mean, sqrt(var))`, that is mean + sqrt(var) * noise, then the mean subtracted back
  out in `log_normal`;
* variances are softplus outputs; the decoder's first layer is relu(mu(y) + sqrt(v(y)) * z);
* the loss `-H(q(y|x)) + sum_i q(y=i|x) * (L_i - log 0.1)` with q from `tf.nn.softmax`, per example;
* Adam (TF1's AdamOptimizer, epsilon 1e-8) minimizing that per-example loss, that is the gradient of its sum
  over the batch; every tensor float32.

What is ours, not the original's: the batches (gmvae.train.batch_indices: the original's split and batch order),
the binarization (gmvae.data.binarize) and the normal noise come from stateless ops seeded per step, as in the
library, so that a run is deterministic and resumes exactly (the original's stateful `random_uniform` and
`random_normal` give other draws of the same distributions); the initial weights are the library model's for the
same seed (Glorot uniform over each layer's full fan-in and zero biases, as tensorbayes' `Dense`, i.e.
`tf.contrib.layers.fully_connected`, initialised them); evaluation feeds the same images and logs the same columns
as the library's runs. The logged gradient norm is that of the batch mean, as the library's (the summed loss's
divided by the batch size), and `clip_norm` clips on that scale.

The test tests/test_original_graph.py checks that, for the same weights, images and noise, this graph's loss
equals the library's to float32 rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gmvae.config import TrainConfig
from gmvae.data import MNIST, binarize
from gmvae.evaluate import score_in_chunks
from gmvae.models import ModifiedM2, build_model
from gmvae.quiet_import import tf

v1 = tf.compat.v1
LOG_2PI = np.log(2 * np.pi)


def log_normal(x, mu, var):
    """tensorbayes.distributions.log_normal: the diagonal Gaussian's log-density, summed over axis 1."""
    return -0.5 * tf.reduce_sum(LOG_2PI + tf.math.log(var) + tf.square(x - mu) / var, 1)


def log_bernoulli_with_logits(x, logits):
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), 1)


class _Dense:
    """tensorbayes' Dense (tf.contrib.layers.fully_connected): x @ W + b, then the activation; its pre-activation is
    kept, for the drift of the variances."""

    def __init__(self, name: str, fan_in: int, units: int, activation=None):
        with v1.variable_scope(name):
            self.kernel = v1.get_variable("weights", [fan_in, units], tf.float32, v1.zeros_initializer())
            self.bias = v1.get_variable("biases", [units], tf.float32, v1.zeros_initializer())
        self.activation = activation

    def __call__(self, x):
        preactivation = tf.nn.bias_add(tf.matmul(x, self.kernel), self.bias)
        return (self.activation(preactivation) if self.activation else preactivation), preactivation


class OriginalModifiedM2Graph:
    """The graph of modified_m2.py (method relu) on a batch x of intensities, binarized with seeds[0]; z's noise
    for y = i from seeds[1] folded with i. Tensors: `xb` (the binarized batch), `z`, `zm`, `zv` (lists over y),
    `loss` [B] (the original's per-example loss), its terms `reconstruction`, `kl_z`, `kl_y` [B], `qy_logit` [B, K],
    and the smallest inputs of the softplus variances and the smallest log q(y|x) (`smallest`)."""

    def __init__(self, config: TrainConfig, x_dim: int = 784):
        k, z_dim, hidden = config.k, config.z_dim, config.hidden
        self.x = v1.placeholder(tf.float32, [None, x_dim], name="x")
        self.seeds = v1.placeholder(tf.int32, [2, 2], name="seeds")
        with v1.variable_scope("qy"):
            qy_layers = [_Dense("layer1", x_dim, hidden, tf.nn.relu), _Dense("layer2", hidden, hidden, tf.nn.relu),
                         _Dense("logit", hidden, k)]
        with v1.variable_scope("qz"):
            qz_layers = [_Dense("layer1", x_dim + k, hidden, tf.nn.relu), _Dense("layer2", hidden, hidden, tf.nn.relu)]
            zm_layer, zv_layer = _Dense("zm", hidden, z_dim), _Dense("zv", hidden, z_dim, tf.nn.softplus)
        with v1.variable_scope("z_transform"):
            ym_layer, yv_layer = _Dense("zm", k, z_dim), _Dense("zv", k, z_dim, tf.nn.softplus)
        with v1.variable_scope("px"):
            px_layers = [_Dense("layer2", z_dim, hidden, tf.nn.relu), _Dense("logit", hidden, x_dim)]
        self.layers = {"qy": qy_layers, "qz": [*qz_layers, zm_layer, zv_layer], "z_transform": [ym_layer, yv_layer],
                       "px": px_layers}

        self.xb = xb = binarize(self.x, self.seeds[0])
        h = xb
        for layer in qy_layers:
            h, _ = layer(h)
        qy_logit = h
        qy = tf.nn.softmax(qy_logit)
        y_ = tf.fill(tf.stack([tf.shape(xb)[0], k]), 0.0)
        log_p_y = np.log(1.0 / k)  # np.log(0.1) in the original, whose K is 10
        z, zms, zvs, reconstructions, kl_zs, losses, zv_inputs, yv_inputs = [], [], [], [], [], [], [], []
        for i in range(k):
            y = y_ + tf.constant(np.eye(k)[i], tf.float32)
            h = tf.concat([xb, y], 1)
            for layer in qz_layers:
                h, _ = layer(h)
            zm, _ = zm_layer(h)
            zv, zv_input = zv_layer(h)
            noise_seed = tf.random.experimental.stateless_fold_in(self.seeds[1], i)
            z.append(tf.random.stateless_normal(tf.shape(zm), noise_seed, mean=zm, stddev=tf.sqrt(zv)))
            zms.append(zm)
            zvs.append(zv)
            ym, _ = ym_layer(y)
            yv, yv_input = yv_layer(y)
            h = tf.nn.relu(ym + tf.sqrt(yv) * z[i])
            for layer in px_layers:
                h, _ = layer(h)
            reconstruction = -log_bernoulli_with_logits(xb, h)
            kl_z = log_normal(z[i], zm, zv) - log_normal(z[i], tf.constant(0.0), tf.constant(1.0))
            losses.append(reconstruction + kl_z - log_p_y)  # shared_subgraphs.labeled_loss
            reconstructions.append(reconstruction)
            kl_zs.append(kl_z)
            zv_inputs.append(zv_input)
            yv_inputs.append(yv_input)
        self.z, self.zm, self.zv = z, zms, zvs  # per value of y
        negative_entropy = tf.reduce_sum(qy * tf.nn.log_softmax(qy_logit), 1)  # -cross_entropy_with_logits(qy_logit, qy)
        self.loss = tf.add_n([negative_entropy] + [qy[:, i] * losses[i] for i in range(k)])
        self.reconstruction = tf.add_n([qy[:, i] * reconstructions[i] for i in range(k)])
        self.kl_z = tf.add_n([qy[:, i] * kl_zs[i] for i in range(k)])
        self.kl_y = negative_entropy - log_p_y * tf.reduce_sum(qy, 1)
        self.qy_logit = qy_logit
        self.smallest = {"q_z": tf.reduce_min(tf.stack(zv_inputs)), "decoder": tf.reduce_min(tf.stack(yv_inputs)),
                         "log_q_y": tf.reduce_min(tf.nn.log_softmax(qy_logit))}

    def assignments(self, weights: dict) -> list[tuple[tf.Variable, np.ndarray]]:
        """(variable, value) pairs that give this graph the weights of library_weights(a library modified M2)."""
        return [pair for scope, layers in self.layers.items()
                for mine, (kernel, bias) in zip(layers, weights[scope], strict=True)
                for pair in ((mine.kernel, kernel), (mine.bias, bias))]


def library_weights(model: ModifiedM2) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The library model's (kernel, bias) per layer, in the original graph's scopes and order; a layer's kernel over
    a concatenated input ([x, onehot(y)]) is its parts' kernels stacked, which is what the original had."""
    layers = {"qy": model.qy_layers, "qz": [*model.qz_layers, model.qz_mean, model.qz_var],
              "z_transform": [model.h_mean, model.h_var], "px": model.px_layers}
    return {scope: [(np.concatenate([k.numpy() for k in layer.kernels]), layer.bias.numpy()) for layer in group]
            for scope, group in layers.items()}


class OriginalGraphTrainer:
    """The original's graph, its Adam and a Saver, in a session of their own: the trainer gmvae.train's loop uses
    for runs of implementation "original_graph" (the same methods as gmvae.train.LibraryTrainer)."""

    def __init__(self, config: TrainConfig, data: MNIST, checkpoint_dir: Path):
        self.data = data
        self.checkpoint_dir = Path(checkpoint_dir)
        initial = library_weights(build_model(config.replace(implementation="tfp"), data.train_x.shape[1]))
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.net = OriginalModifiedM2Graph(config, data.train_x.shape[1])
            batch_size = config.batch_size
            # the original's Adam minimized the summed loss with epsilon 1e-8: the config's epsilon is on the mean
            optimizer = v1.train.AdamOptimizer(config.learning_rate, epsilon=config.adam_epsilon * batch_size)
            grads_and_vars = optimizer.compute_gradients(self.net.loss)
            gradients = [g for g, _ in grads_and_vars]
            self.gradient_norm = tf.linalg.global_norm(gradients) / batch_size  # the batch mean's, as logged
            if config.clip_norm is not None:
                gradients, _ = tf.clip_by_global_norm(gradients, config.clip_norm * batch_size)
            self._gradients = gradients
            self.train_op = optimizer.apply_gradients(zip(gradients, [v for _, v in grads_and_vars]))
            self._checked, self._checks = [], None  # made by check_step
            self.objective = tf.reduce_mean(self.net.loss)
            self.epoch = v1.get_variable("epoch", [], tf.int64, v1.zeros_initializer(), trainable=False)
            self._completed = v1.placeholder(tf.int64, [])
            self._set_epoch = self.epoch.assign(self._completed)
            self.saver = v1.train.Saver(max_to_keep=1)
            self.session = v1.Session(graph=self.graph)
            self.session.run(v1.global_variables_initializer())
        self.assign(self.net.assignments(initial))
        self.scorer = _GraphScorer(self)

    def assign(self, pairs) -> None:
        """Set variables of the graph: (variable, value) pairs."""
        with self.graph.as_default():
            values = {v1.placeholder(variable.dtype.base_dtype, variable.shape): (variable, value)
                      for variable, value in pairs}
            self.session.run([variable.assign(p) for p, (variable, _) in values.items()],
                             {p: value for p, (_, value) in values.items()})

    def restore(self, checkpoint_path: str) -> int:
        with self.graph.as_default():
            self.saver.restore(self.session, checkpoint_path)
        return int(self.session.run(self.epoch))

    def train_epoch(self, indices: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One Adam step per row of indices, each fed its batch of intensities; stops after the first non-finite
        objective (the last one returned)."""
        objectives, gradient_norms = [], []
        for batch, step_seeds in zip(indices, seeds):
            objective, gradient_norm = self.train_step(batch, step_seeds)
            objectives.append(objective)
            gradient_norms.append(gradient_norm)
            if not np.isfinite(objective):
                break
        return np.asarray(objectives, np.float32), np.asarray(gradient_norms, np.float32)

    def train_step(self, indices: np.ndarray, seeds: np.ndarray) -> tuple[float, float]:
        """One Adam step: (objective, gradient norm)."""
        _, objective, gradient_norm = self.session.run([self.train_op, self.objective, self.gradient_norm],
                                                       self._feed(indices, seeds))
        return objective, gradient_norm

    def _feed(self, indices, seeds) -> dict:
        return {self.net.x: self.data.train_x[indices], self.net.seeds: seeds}

    def check_step(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        """A step's forward and backward pass, not applied, with a CheckNumerics op on each float tensor it computes:
        tf.errors.InvalidArgumentError names the first one the executor finds Inf or NaN."""
        if self._checks is None:
            with self.graph.as_default():
                self._checked = _float_ancestors([self.objective, self.gradient_norm, *self._gradients])
                self._checks = tf.group(*[tf.debugging.check_numerics(t, f"{t.name} is not finite")
                                          for t in self._checked])
        self.session.run(self._checks, self._feed(indices, seeds))

    def non_finite_births(self, indices: np.ndarray, seeds: np.ndarray) -> list[dict]:
        """The checked tensors of a step (check_step) that are not finite although every input of their
        op is: where the non-finite values are born, whichever check the executor happened to run first. The step's
        ops are stateless, so computing them again gives the values the check saw."""
        values = self.session.run(self._checked, self._feed(indices, seeds))
        finite = {t.name: bool(np.all(np.isfinite(v))) for t, v in zip(self._checked, values)}
        births = []
        for tensor, value in zip(self._checked, values):
            inputs = [t.name for t in tensor.op.inputs if t.name in finite]
            if not finite[tensor.name] and all(finite[name] for name in inputs):
                births.append({"tensor": tensor.name, "op": tensor.op.type, "inputs": inputs,
                               "nan": bool(np.isnan(value).any()), "inf": bool(np.isinf(value).any())})
        return births

    def smallest_values(self, indices: np.ndarray, seeds: np.ndarray) -> dict:
        """As gmvae.train.LibraryTrainer.smallest_values, on one step's batch."""
        return {name: float(value) for name, value in self.session.run(self.net.smallest,
                                                                       self._feed(indices, seeds)).items()}

    def save(self, epoch: int) -> None:
        self.session.run(self._set_epoch, {self._completed: epoch})
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with self.graph.as_default():  # the Saver works in its own graph only
            self.saver.save(self.session, str(self.checkpoint_dir / "ckpt"), global_step=epoch)

    def forward(self, images: np.ndarray, seeds: np.ndarray):
        """(loss, reconstruction, kl_z, kl_y, logits) per example and the smallest values, as gmvae.evaluate's."""
        net = self.net
        terms, smallest = self.session.run(
            [(net.loss, net.reconstruction, net.kl_z, net.kl_y, net.qy_logit), net.smallest],
            {net.x: images, net.seeds: seeds})
        return terms, smallest


def _float_ancestors(tensors) -> list[tf.Tensor]:
    """The float outputs of every op that `tensors` are computed from (variables are read, never assigned)."""
    seen, stack, found = set(), [t.op for t in tensors], []
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        found += [t for t in op.outputs if t.dtype.is_floating]
        stack += [t.op for t in op.inputs]
    return found


class _GraphScorer:
    """gmvae.evaluate.Scorer's scores, from the original's graph."""

    def __init__(self, trainer: OriginalGraphTrainer, chunk_size: int = 1000):
        self.trainer = trainer
        self.chunk_size = chunk_size

    def score(self, images: np.ndarray, labels: np.ndarray, seed, *, smallest: bool = False) -> dict:
        """As gmvae.evaluate.Scorer.score; the smallest values come with the graph's forward pass at no cost."""
        scores = score_in_chunks(self.trainer.forward, images, labels, seed, self.chunk_size)
        return scores if smallest else {k: v for k, v in scores.items() if not k.endswith("_min")}
