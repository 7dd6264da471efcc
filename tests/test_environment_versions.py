"""The versions cell of the notebooks: gmvae.machine.environment_versions."""

from __future__ import annotations

import sys
from importlib.metadata import version
from types import SimpleNamespace

from gmvae import __version__, machine

# TensorFlow as environment_versions reads it, with no GPU and a version that no installed TensorFlow has
FAKE_TF = SimpleNamespace(__version__="0.0.fake",
                          config=SimpleNamespace(list_physical_devices=lambda kind: []))


def test_the_versions_are_the_running_ones_and_precision_is_what_auto_picks(monkeypatch, machine_auto_precision):
    monkeypatch.setattr(machine, "auto_precision", machine_auto_precision)
    monkeypatch.delenv(machine.PRECISION_VARIABLE, raising=False)
    found = machine.environment_versions(FAKE_TF)
    name, flags = machine.cpu_name_and_flags()
    assert found == {
        "Python": ".".join(str(part) for part in sys.version_info[:3]),
        "TensorFlow": "0.0.fake",
        "TensorFlow Probability": version("tensorflow-probability"),
        "gmvae": __version__,
        "processor": name,
        "precision (auto)": "{} ({})".format(*machine.precision_for(flags, None)),
    }
    monkeypatch.setenv(machine.PRECISION_VARIABLE, "mixed_bfloat16")
    assert machine.environment_versions(FAKE_TF)["precision (auto)"] == "mixed_bfloat16 (GMVAE_PRECISION=mixed_bfloat16)"
