"""TensorFlow and TensorFlow Probability, imported without TensorFlow's start-up chatter.

Importing TensorFlow writes a dozen lines straight to file descriptor 2 (oneDNN's notice, CUDA probes, "could
not find cuda drivers", a cuInit error on machines without a GPU), before its own log level applies. The
modules of gmvae import TensorFlow from here: the import and the first device probe run with descriptor 2
pointed at a temporary file, which is shown only if the import fails; later INFO lines are off
(TF_CPP_MIN_LOG_LEVEL=1 unless set). GMVAE_TF_LOGS=1 shows everything.
"""

from __future__ import annotations

import os
import sys
import tempfile

SHOW_LOGS_VARIABLE = "GMVAE_TF_LOGS"


def _import_quietly():
    if os.environ.get(SHOW_LOGS_VARIABLE) == "1" or "tensorflow" in sys.modules:
        import tensorflow
        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow
            tensorflow.config.list_physical_devices("GPU")  # the CUDA probe speaks here, once
        except BaseException:
            os.dup2(saved_stderr, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
    return tensorflow


tf = _import_quietly()
import tensorflow_probability as tfp  # noqa: E402  (after TensorFlow, which it imports)

__all__ = ["tf", "tfp"]
