"""One training configuration, with the post's settings as defaults (the original's code)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

# The models a TrainConfig accepts: the four built in, and any that gmvae.models.register_model adds (a list, so
# that every module that imported it sees the additions).
MODELS = ["m2", "modified_m2", "gmvae", "m2_iaf"]
# Modules (files ending in .py, or importable names) that define and register models of your own, separated by
# os.pathsep: the command line imports them before it reads its arguments (docs/your_own_model.md).
MODELS_ENV = "GMVAE_MODELS"
DECODER_FIRST = ("relu", "identity", "relu_layer")  # modified M2's first decoder nonlinearity
PRECISIONS = ("auto", "float32", "mixed_bfloat16")  # auto: mixed_bfloat16 where bfloat16 is native (gmvae.machine)
FIRST_PASSES = ("file_order", "shuffled")  # order of the first pass over the training images
# tfp: the library's models and loss; original_graph: the original's modified M2 written again op for op in
# tf.compat.v1 (gmvae.reference.original_graph), a reference for the original's numerics
IMPLEMENTATIONS = ("tfp", "original_graph")
# Runs recorded before a field existed trained with these values (Keras' default epsilon until the field
# came; a shuffled first pass until the original's file order became the default; the plain ELBO).
VALUES_BEFORE_FIELD = {"adam_epsilon": 1e-7, "first_pass": "shuffled", "kl_y_weight": 1.0, "implementation": "tfp"}
# Fields whose "auto" matches whatever a stored run chose.
AUTO_FIELDS = ("precision",)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "gmvae"            # m2 | modified_m2 | gmvae | m2_iaf (M2 with a flow posterior q(z|x,y)) | a
                                    # model of your own (gmvae.models.register_model)
    epochs: int = 1000              # the post's schedule
    seed: int = 0                   # weights, data order, binarization and z noise all derive from it
    k: int = 10                     # categories of y
    z_dim: int = 64
    hidden: int = 512               # width of every hidden layer
    decoder_first: str = "relu"     # modified M2 only: relu | identity | relu_layer
    batch_size: int = 100
    first_pass: str = "file_order"  # file_order: TF 0.12's next_batch, as the original; shuffled: every pass permuted
    iters_per_epoch: int = 500      # the original's "epoch": 500 x 100 = 50,000 examples
    learning_rate: float = 1e-3     # Adam
    adam_epsilon: float = 1e-10     # the original's 1e-8 on the batch's summed loss = 1e-10 on its mean
    clip_norm: float | None = None  # global gradient-norm clipping; the post did not clip
    kl_y_weight: float = 1.0        # eta: weight of KL(q(y|x) || p(y)) in the training objective (logged losses keep 1);
                                    # 1 = the ELBO, 0 = nothing pushes q(y|x) towards uniform
    train_eval_size: int = 10_000   # random training images scored after each epoch, as the original
    test_eval_size: int = 10_000    # test images scored after each epoch (10,000 = all of them)
    precision: str = "auto"         # mixed_bfloat16: bf16 matmuls, float32 weights and loss; auto: that where the
                                    # hardware has native bf16, else float32; a run resumes in its own precision
    implementation: str = "tfp"     # tfp | original_graph (the original's modified M2 in tf.compat.v1, float32 only)

    def __post_init__(self):
        problems = []
        if self.model not in MODELS:
            problems.append(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if self.decoder_first not in DECODER_FIRST:
            problems.append(f"decoder_first must be one of {', '.join(DECODER_FIRST)}, not {self.decoder_first!r}")
        if self.first_pass not in FIRST_PASSES:
            problems.append(f"first_pass must be one of {', '.join(FIRST_PASSES)}, not {self.first_pass!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.implementation not in IMPLEMENTATIONS:
            problems.append(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, not {self.implementation!r}")
        elif self.implementation == "original_graph":
            problems += self._original_graph_problems()
        if self.epochs < 0:
            problems.append(f"epochs must be 0 or more, not {self.epochs}")
        for name in ("k", "z_dim", "hidden", "batch_size", "iters_per_epoch", "train_eval_size", "test_eval_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be positive, not {self.learning_rate}")
        if self.adam_epsilon <= 0:
            problems.append(f"adam_epsilon must be positive, not {self.adam_epsilon}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            problems.append(f"clip_norm must be positive or None, not {self.clip_norm}")
        if self.kl_y_weight < 0:
            problems.append(f"kl_y_weight must be 0 or more, not {self.kl_y_weight}")
        if problems:
            raise ValueError("; ".join(problems))

    def _original_graph_problems(self) -> list[str]:
        """What the original's graph cannot train: it is the modified M2 with the ReLU, in float32, on the ELBO."""
        wanted = {"model": "modified_m2", "decoder_first": "relu", "precision": "float32", "kl_y_weight": 1.0}
        return [f"implementation original_graph trains {name}={value!r} only, not {getattr(self, name)!r}"
                for name, value in wanted.items() if getattr(self, name) != value]

    @property
    def run_name(self) -> str:
        """Folder name of the run's model variant: results/runs/<run_name>/seed<k>, e.g. m2_eta0 for M2
        trained with kl_y_weight 0, modified_m2_clip for modified M2 with clipped gradients, modified_m2_float32 for
        modified M2 trained in float32 (the profiles' runs take the machine's precision, "auto")."""
        name = self.model
        if self.model == "modified_m2" and self.decoder_first != "relu":
            name += f"_{self.decoder_first}"
        if self.kl_y_weight != 1:
            name += f"_eta{self.kl_y_weight:g}"
        if self.clip_norm is not None:
            name += "_clip"
        if self.implementation == "original_graph":  # always float32
            return name + "_original_graph"
        if self.precision == "float32":  # asked for, or what "auto" became on a machine without native bfloat16
            name += "_float32"
        return name

    def differences(self, stored: dict) -> list[str]:
        """Fields (but epochs, which a run may extend, and "auto" fields) where a stored configuration differs
        from this one."""
        stored = {**VALUES_BEFORE_FIELD, **stored}
        return [f"{name}={stored[name]!r} (wanted {value!r})" for name, value in dataclasses.asdict(self).items()
                if name != "epochs" and name in stored and stored[name] != value
                and not (name in AUTO_FIELDS and value == "auto")]

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, fields: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"unknown configuration fields: {', '.join(sorted(unknown))}")
        return cls(**{**VALUES_BEFORE_FIELD, **fields})
