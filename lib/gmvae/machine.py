"""What the machine is, and the precision `precision="auto"` picks on it.

bfloat16 matrix products pay only where the hardware multiplies bfloat16 natively: x86 processors with
AVX512_BF16 or AMX_BF16, and GPUs of compute capability 8.0 (Ampere) or later. Elsewhere TensorFlow
converts to float32 and back around every product, which is slower than float32 alone (speed/bench.py).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PRECISION_VARIABLE = "GMVAE_PRECISION"  # overrides the machine's choice for every "auto" run
CONCRETE_PRECISIONS = ("float32", "mixed_bfloat16")
NATIVE_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
# Flags worth recording beside a timing: they decide which kernels oneDNN runs.
REPORTED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
_CPUINFO = Path("/proc/cpuinfo")


def cpu_name_and_flags(cpuinfo: Path = _CPUINFO) -> tuple[str, set[str]]:
    """The processor's model name and its feature flags, from /proc/cpuinfo (Linux); elsewhere
    platform.processor() and no flags."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return platform.processor() or platform.machine(), set()
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor speaks for all
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields:  # a virtual machine's name may be just "AMD EPYC": family and model tell more
        name += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return name, set(fields.get("flags", "").split())


def gpu_has_native_bfloat16(tf) -> bool | None:
    """True/False for the first visible GPU, None if there is none."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
    return tuple(capability) >= (8, 0)


def precision_for(cpu_flags: set[str], gpu_native: bool | None) -> tuple[str, str]:
    """(precision, reason): mixed_bfloat16 where bfloat16 is native (the GPU if there is one, else the
    processor), float32 elsewhere."""
    if gpu_native is not None:
        return ("mixed_bfloat16", "the GPU multiplies bfloat16 natively") if gpu_native else \
            ("float32", "the GPU has no native bfloat16 (compute capability below 8.0)")
    native = [f for f in NATIVE_BFLOAT16_FLAGS if f in cpu_flags]
    if native:
        return "mixed_bfloat16", f"the processor has {' and '.join(native)}"
    return "float32", "the processor has no native bfloat16 (neither avx512_bf16 nor amx_bf16)"


def precision_override() -> str | None:
    """$GMVAE_PRECISION, checked; None if unset."""
    chosen = os.environ.get(PRECISION_VARIABLE)
    if chosen and chosen not in CONCRETE_PRECISIONS:
        raise ValueError(f"{PRECISION_VARIABLE}={chosen!r}: use one of {', '.join(CONCRETE_PRECISIONS)}, "
                         "or unset it to let the machine choose")
    return chosen or None


def auto_precision(tf) -> tuple[str, str]:
    """What "auto" means here: $GMVAE_PRECISION if set (so that `make reproduce` and the notebooks can be told),
    else precision_for this machine."""
    chosen = precision_override()
    if chosen:
        return chosen, f"{PRECISION_VARIABLE}={chosen}"
    return precision_for(cpu_name_and_flags()[1], gpu_has_native_bfloat16(tf))


def usable_cores() -> int:
    """The cores this process may run on: a run pinned to one core (`reproduce`'s jobs, `taskset`) says 1, not the
    machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def describe(tf) -> dict:
    """The machine as run.json and bench records it."""
    name, flags = cpu_name_and_flags()
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "processor": name,
        "flags": [f for f in REPORTED_FLAGS if f in flags],
        "cores": usable_cores(),
        "architecture": platform.machine(),
        "gpus": [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus],
    }


def environment_versions(tf=None) -> dict:
    """What a notebook's last cell reports: the versions of Python, TensorFlow, TensorFlow Probability and gmvae,
    the processor, and the precision "auto" picks here with its reason. ``tf``: TensorFlow's module (default
    imported through gmvae.quiet_import)."""
    from importlib.metadata import version

    from gmvae import __version__

    if tf is None:
        from gmvae.quiet_import import tf
    precision, reason = auto_precision(tf)
    return {
        "Python": platform.python_version(),
        "TensorFlow": tf.__version__,
        "TensorFlow Probability": version("tensorflow-probability"),
        "gmvae": __version__,
        "processor": cpu_name_and_flags()[0],
        "precision (auto)": f"{precision} ({reason})",
    }
