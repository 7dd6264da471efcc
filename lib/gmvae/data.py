"""MNIST for the reproduction: find, download, verify and load ``mnist.npz``; binarize batches.

The file has the Keras layout (x_train uint8 (60000, 28, 28), y_train, x_test, y_test). It is looked
for, in order: the ``path`` argument; the ``GMVAE_MNIST`` environment variable; the per-user cache
(``$GMVAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/gmvae``, else ``~/.cache/gmvae``, file ``mnist.npz``);
failing all three it is downloaded into the cache. Every file is checked against KNOWN_SHA256 before
use, and every problem with it ends in one DataError naming the file and saying what to do.

The split is the original's (TensorFlow's old tutorial split): the last 55,000 training images train,
the first 5,000 (a validation set the post never used) are dropped, and all 10,000 test images score.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gmvae.quiet_import import tf

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"

# sha256 -> what the file is. A module-level dict so tests can accept a fake file's hash.
KNOWN_SHA256 = {
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1": "canonical Keras mnist.npz (MNIST_URL)",
    "da231c08013e217002c4f393e0f38583bf5a62a5ead805d541bdacd45803e00f": (
        "MNIST with its training images recovered from a PNG export: test images and all labels official, "
        "97.2 % of training pixels exact and the rest one grey level (1/255) off"),
}

EXPECTED_ARRAYS = {  # key -> (shape, dtype) of the Keras layout
    "x_train": ((60000, 28, 28), np.uint8),
    "y_train": ((60000,), np.uint8),
    "x_test": ((10000, 28, 28), np.uint8),
    "y_test": ((10000,), np.uint8),
}

VALIDATION_SIZE = 5000  # the first training images, held out (and unused) by the original split
DOWNLOAD_TIMEOUT_SECONDS = 60  # per socket operation, not for the whole download
CACHE_FILE_NAME = "mnist.npz"


class DataError(RuntimeError):
    """The MNIST file is missing, unreadable or not the expected one; the message says what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays elementwise has no single truth value
class MNIST:
    train_x: np.ndarray  # float32 [55000, 784] in [0, 1]: the last 55,000 training images
    train_y: np.ndarray  # int64 [55000]
    test_x: np.ndarray   # float32 [10000, 784] in [0, 1]
    test_y: np.ndarray   # int64 [10000]


def cache_path() -> Path:
    """Where the per-user cache keeps (or would keep) mnist.npz; read from the environment each call."""
    if os.environ.get("GMVAE_CACHE_DIR"):
        cache_dir = Path(os.environ["GMVAE_CACHE_DIR"])
    elif os.environ.get("XDG_CACHE_HOME"):
        cache_dir = Path(os.environ["XDG_CACHE_HOME"]) / "gmvae"
    else:
        cache_dir = Path.home() / ".cache" / "gmvae"
    return cache_dir.expanduser() / CACHE_FILE_NAME


def resolve_mnist_path(path=None, *, download=True) -> Path:
    """The mnist.npz to use: ``path``, else $GMVAE_MNIST, else the cache, else a fresh download."""
    for given, source in ((path, "the path argument"), (os.environ.get("GMVAE_MNIST"), "GMVAE_MNIST")):
        if given:
            given = Path(given).expanduser()
            if not given.is_file():
                raise DataError(
                    f"MNIST file {given} (given by {source}) does not exist: point GMVAE_MNIST or the path "
                    f"argument at a keras-layout mnist.npz."
                )
            return given
    cached = cache_path()
    if cached.is_file():
        return cached
    if not download:
        raise DataError(
            f"no MNIST file found and downloading is off. Provide one: set GMVAE_MNIST=/path/to/mnist.npz, "
            f"or put a keras-layout mnist.npz at {cached} (or allow the download of {MNIST_URL})."
        )
    # MNIST_URL read at call time, not bound as a default, so it can be redirected (tests, mirrors).
    return download_mnist(cached, MNIST_URL)


def download_mnist(dest: Path, url: str = MNIST_URL) -> Path:
    """Download ``url`` to ``dest`` through a temporary file, renamed into place only if its sha256 is known."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            size = int(response.headers.get("Content-Length", 0)) or None
            with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {dest.name}") as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() not in KNOWN_SHA256:
            raise DataError(
                f"the download of {url} has sha256 {digest.hexdigest()}, not that of a known mnist.npz; "
                f"nothing was written to {dest}. Run again, or download a keras-layout mnist.npz yourself "
                f"and set GMVAE_MNIST=/path/to/mnist.npz."
            )
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as err:  # URLError and timeouts are OSErrors
        tmp.unlink(missing_ok=True)
        if isinstance(err, urllib.error.HTTPError):
            err.close()  # it holds the open response; its message needs only the status
        raise DataError(
            f"could not download {url} to {dest}: {err}. Check the network and run again, or download a "
            f"keras-layout mnist.npz yourself and set GMVAE_MNIST=/path/to/mnist.npz."
        ) from err
    except BaseException:  # a bad hash or an interrupt: leave nothing that looks like a download
        tmp.unlink(missing_ok=True)
        raise
    return dest


def load_mnist(path=None, *, download=True) -> MNIST:
    """Find, verify and load MNIST as flat float32 pixels in [0, 1] with the original's split."""
    path = resolve_mnist_path(path, download=download)
    check_sha256(path)
    arrays = read_npz(path)
    validate_arrays(arrays, path)
    return MNIST(
        train_x=_flat_pixels(arrays["x_train"][VALIDATION_SIZE:]),
        train_y=arrays["y_train"][VALIDATION_SIZE:].astype(np.int64),
        test_x=_flat_pixels(arrays["x_test"]),
        test_y=arrays["y_test"].astype(np.int64),
    )


def check_sha256(path: Path) -> None:
    """Raise DataError unless the file's sha256 is one of KNOWN_SHA256."""
    try:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as err:
        raise DataError(f"cannot read MNIST file {path}: {err}. {_remedy(path)}") from err
    if digest not in KNOWN_SHA256:
        raise DataError(f"MNIST file {path} has sha256 {digest}, which is not that of a known mnist.npz. {_remedy(path)}")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, read fully now so a corrupt member fails here, as a DataError."""
    try:
        # Our own handle: np.load leaks the one it opens when the zip is unreadable.
        with open(path, "rb") as f, np.load(f) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"MNIST file {path} is not a readable .npz (truncated or corrupt?): {err}. {_remedy(path)}") from err


def validate_arrays(arrays: dict, path) -> None:
    """Raise DataError unless ``arrays`` has the Keras layout (keys, shapes, dtypes of EXPECTED_ARRAYS)."""
    problems = []
    for key, (shape, dtype) in EXPECTED_ARRAYS.items():
        if key not in arrays:
            problems.append(f"no array {key!r}")
        elif arrays[key].shape != shape or arrays[key].dtype != dtype:
            problems.append(f"{key} is {arrays[key].dtype} {arrays[key].shape}, not {np.dtype(dtype)} {shape}")
    if problems:
        raise DataError(f"MNIST file {path} is not a keras-layout mnist.npz: {'; '.join(problems)}. {_remedy(Path(path))}")


def binarize(x: tf.Tensor, seed) -> tf.Tensor:
    """Dynamic binarization: each pixel is 1 with probability its intensity. Stateless: same seed, same output."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed, dtype=x.dtype) < x, x.dtype)


def _flat_pixels(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def _remedy(path: Path) -> str:
    """What to do about a bad file: a cached download can be fetched again; any other file must be replaced."""
    if Path(path).expanduser().absolute() == cache_path().absolute():
        return "Delete it and run again to re-download it."
    return "Point GMVAE_MNIST (or the path argument) at an intact keras-layout mnist.npz."
