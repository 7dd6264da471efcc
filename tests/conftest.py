"""Tests that need the real MNIST file are marked `needs_mnist`. Without the file they are skipped, and the
run says so once, before any test, with their number; in CI (CI=true), which always has the file, the
run stops instead of skipping them."""

from __future__ import annotations

import os

import pytest

from gmvae.data import cache_path

NO_MNIST = ("no MNIST: set GMVAE_MNIST=/path/to/mnist.npz (CI uses ../shared/data/mnist.npz) or put "
            "mnist.npz in ~/.cache/gmvae/")


def mnist_available() -> bool:
    return bool(os.environ.get("GMVAE_MNIST")) or cache_path().is_file()


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_mnist: reads the real MNIST file (GMVAE_MNIST or the cache)")


def pytest_collection_modifyitems(config, items):
    needing = [item for item in items if item.get_closest_marker("needs_mnist")]
    if not needing or mnist_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"{len(needing)} tests need MNIST and CI must run them all: {NO_MNIST}")
    for item in needing:
        item.add_marker(pytest.mark.skip(reason=NO_MNIST))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"SKIPPING {len(needing)} of {len(items)} tests: {NO_MNIST}", yellow=True, bold=True)


@pytest.fixture(scope="session", autouse=True)
def auto_precision_is_float32():
    """precision="auto" (the default) means float32 in the tests' own process on every machine, so that their
    numbers do not depend on whether the processor has bfloat16 (gmvae.machine.precision_for is tested
    on its own). Subprocesses that must match an in-process run set the precision explicitly."""
    from gmvae import machine

    real = machine.auto_precision
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(machine, "auto_precision", lambda tf: ("float32", "the tests' default"))
        yield real


@pytest.fixture
def machine_auto_precision(auto_precision_is_float32):
    """gmvae.machine.auto_precision as it is outside the tests."""
    return auto_precision_is_float32
