"""The machine as the notebooks' versions cell and run.json describe it: gmvae.machine."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from types import SimpleNamespace

import pytest

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


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_run_json_counts_the_cores_a_pinned_run_may_use():
    """A run pinned to one core (reproduce's jobs, taskset) records 1 core, not the machine's count."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # this thread only, restored below
    try:
        assert machine.describe(FAKE_TF)["cores"] == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert machine.describe(FAKE_TF)["cores"] == len(allowed)
