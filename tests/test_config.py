"""TrainConfig's checks, names and stored form, each by literal: a run's folder name, the refusal of a folder
trained otherwise and run.json's text all come from here."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gmvae.config import VALUES_BEFORE_FIELD, TrainConfig


@pytest.mark.parametrize("field, value, message", [
    ("model", "m3", "model must be one of m2, modified_m2, gmvae, m2_iaf, not 'm3'"),
    ("decoder_first", "tanh", "decoder_first must be one of relu, identity, relu_layer, not 'tanh'"),
    ("first_pass", "random", "first_pass must be one of file_order, shuffled, not 'random'"),
    ("precision", "float16", "precision must be one of auto, float32, mixed_bfloat16, not 'float16'"),
    ("epochs", -1, "epochs must be 0 or more, not -1"),
    ("k", 0, "k must be at least 1, not 0"),
    ("z_dim", 0, "z_dim must be at least 1, not 0"),
    ("hidden", 0, "hidden must be at least 1, not 0"),
    ("batch_size", 0, "batch_size must be at least 1, not 0"),
    ("iters_per_epoch", 0, "iters_per_epoch must be at least 1, not 0"),
    ("train_eval_size", 0, "train_eval_size must be at least 1, not 0"),
    ("test_eval_size", 0, "test_eval_size must be at least 1, not 0"),
    ("learning_rate", 0.0, "learning_rate must be positive, not 0.0"),
    ("adam_epsilon", 0.0, "adam_epsilon must be positive, not 0.0"),
    ("clip_norm", 0.0, "clip_norm must be positive or None, not 0.0"),
    ("kl_y_weight", -0.5, "kl_y_weight must be 0 or more, not -0.5"),
])
def test_each_bad_value_is_refused_with_its_own_message(field, value, message):
    with pytest.raises(ValueError) as refused:
        TrainConfig(**{field: value})
    assert str(refused.value) == message


def test_every_problem_is_named_at_once_and_the_smallest_good_values_pass():
    with pytest.raises(ValueError) as refused:
        TrainConfig(epochs=-1, k=0, learning_rate=-1.0)
    assert str(refused.value) == ("epochs must be 0 or more, not -1; k must be at least 1, not 0; "
                                  "learning_rate must be positive, not -1.0")
    smallest = dict(epochs=0, k=1, z_dim=1, hidden=1, batch_size=1, iters_per_epoch=1, train_eval_size=1,
                    test_eval_size=1, learning_rate=1e-30, adam_epsilon=1e-30, clip_norm=1e-30, kl_y_weight=0.0)
    assert dataclasses.asdict(TrainConfig(**smallest)).items() >= smallest.items()


@pytest.mark.parametrize("changes, name", [
    ({"model": "m2"}, "m2"),
    ({"model": "gmvae", "decoder_first": "identity"}, "gmvae"),  # only modified M2 has decoder variants
    ({"model": "modified_m2"}, "modified_m2"),
    ({"model": "modified_m2", "decoder_first": "identity"}, "modified_m2_identity"),
    ({"model": "modified_m2", "decoder_first": "relu_layer"}, "modified_m2_relu_layer"),
    ({"model": "m2", "kl_y_weight": 0.0}, "m2_eta0"),
    ({"model": "m2", "kl_y_weight": 0.25}, "m2_eta0.25"),
    ({"model": "modified_m2", "clip_norm": 480.0}, "modified_m2_clip"),
    ({"model": "modified_m2", "precision": "float32"}, "modified_m2_float32"),
    ({"model": "modified_m2", "precision": "mixed_bfloat16"}, "modified_m2"),
    ({"model": "modified_m2", "decoder_first": "identity", "kl_y_weight": 2.0, "clip_norm": 1.0},
     "modified_m2_identity_eta2_clip"),
])
def test_the_run_name_names_every_departure_from_the_model(changes, name):
    assert TrainConfig(**changes).run_name == name


def test_differences_name_each_field_stored_otherwise_but_the_epochs_and_an_auto_precision():
    wanted = TrainConfig(model="m2", epochs=200, learning_rate=1e-3)
    stored = dataclasses.asdict(TrainConfig(model="m2", epochs=50, learning_rate=3e-4, precision="float32"))
    assert wanted.differences(stored) == ["learning_rate=0.0003 (wanted 0.001)"]
    assert wanted.replace(precision="float32").differences(dataclasses.asdict(TrainConfig(model="m2"))) == [
        "precision='auto' (wanted 'float32')"]
    # a field the stored run did not record counts as its value before the field existed
    old = {name: value for name, value in stored.items() if name not in VALUES_BEFORE_FIELD}
    assert wanted.replace(learning_rate=3e-4).differences(old) == [
        "first_pass='shuffled' (wanted 'file_order')", "adam_epsilon=1e-07 (wanted 1e-10)"]


def test_from_dict_fills_fields_recorded_later_and_refuses_unknown_ones():
    assert TrainConfig.from_dict({"model": "m2"}) == TrainConfig(model="m2", **VALUES_BEFORE_FIELD)
    with pytest.raises(ValueError) as refused:
        TrainConfig.from_dict({"model": "m2", "width": 3, "beta": 1})
    assert str(refused.value) == "unknown configuration fields: beta, width"


def test_the_stored_form_is_sorted_indented_json_that_reads_back():
    text = TrainConfig(model="m2", seed=3).to_json()
    assert text.splitlines()[:3] == ["{", '  "adam_epsilon": 1e-10,', '  "batch_size": 100,']
    assert TrainConfig.from_dict(json.loads(text)) == TrainConfig(model="m2", seed=3)


def test_replace_checks_the_new_values():
    assert TrainConfig().replace(seed=4).seed == 4
    with pytest.raises(ValueError, match="^epochs must be 0 or more, not -2$"):
        TrainConfig().replace(epochs=-2)
