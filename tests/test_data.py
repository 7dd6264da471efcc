"""MNIST loading: the real file, where the file is looked for, bad files, the download, and binarization.

Every test runs with no MNIST settings from the environment, a home directory under tmp_path and
MNIST_URL pointing at a closed local port, so nothing here reads the user's cache or the network.
Downloads are served by a local HTTP server on 127.0.0.1.
"""

import functools
import hashlib
import os
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler

import numpy as np
import pytest
import tensorflow as tf

from gmvae import data
from gmvae.data import DataError

REAL_MNIST = os.environ.get("GMVAE_MNIST")  # read before the autouse fixture clears it


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("GMVAE_MNIST", "GMVAE_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data, "MNIST_URL", "http://127.0.0.1:9/not-served")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def accept(monkeypatch, path):
    """Let a test file pass the hash check."""
    monkeypatch.setitem(data.KNOWN_SHA256, sha256(path), "test file")


def write_fake_mnist(path, drop=(), **replace):
    """A keras-layout mnist.npz of blank images; training label i is i % 10, so the split can be checked."""
    arrays = {key: np.zeros(shape, dtype) for key, (shape, dtype) in data.EXPECTED_ARRAYS.items()}
    arrays["y_train"] = (np.arange(60000) % 10).astype(np.uint8)
    arrays.update(replace)
    for key in drop:
        del arrays[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


# --- the real file ---------------------------------------------------------------------------------

@pytest.mark.needs_mnist
@pytest.mark.skipif(not REAL_MNIST, reason="the real file is read through GMVAE_MNIST (the cache alone is not enough here)")
def test_real_file_loads_with_the_original_split(monkeypatch):
    monkeypatch.setenv("GMVAE_MNIST", REAL_MNIST)
    mnist = data.load_mnist(download=False)

    assert mnist.train_x.shape == (55000, 784) and mnist.train_x.dtype == np.float32
    assert mnist.test_x.shape == (10000, 784) and mnist.test_x.dtype == np.float32
    assert mnist.train_y.shape == (55000,) and mnist.train_y.dtype == np.int64
    assert mnist.test_y.shape == (10000,) and mnist.test_y.dtype == np.int64
    for pixels in (mnist.train_x, mnist.test_x):
        assert pixels.min() == 0.0 and pixels.max() == 1.0
    with np.load(REAL_MNIST) as raw:
        np.testing.assert_array_equal(mnist.train_y, raw["y_train"][5000:])
        np.testing.assert_array_equal(mnist.test_y, raw["y_test"])
        np.testing.assert_allclose(mnist.train_x[0], raw["x_train"][5000].reshape(-1) / 255, rtol=1e-6)


def test_fake_file_from_the_cache_loads_with_the_original_split(monkeypatch, tmp_path):
    monkeypatch.setenv("GMVAE_CACHE_DIR", str(tmp_path / "cache"))
    x_train = np.zeros((60000, 28, 28), np.uint8)
    x_train[5000] = 255  # the first training image kept
    path = write_fake_mnist(tmp_path / "cache" / "mnist.npz", x_train=x_train)
    accept(monkeypatch, path)

    mnist = data.load_mnist(download=False)

    assert mnist.train_x.shape == (55000, 784)
    assert mnist.train_x[0].min() == 1.0 and mnist.train_x[1:].max() == 0.0
    np.testing.assert_array_equal(mnist.train_y, np.arange(5000, 60000) % 10)


# --- where the file is looked for ------------------------------------------------------------------

def test_explicit_path_beats_env_var_beats_cache(monkeypatch, tmp_path):
    explicit, from_env, cached = tmp_path / "explicit.npz", tmp_path / "env.npz", tmp_path / "cache" / "mnist.npz"
    for path in (explicit, from_env, cached):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"only its place matters here")
    monkeypatch.setenv("GMVAE_CACHE_DIR", str(cached.parent))
    monkeypatch.setenv("GMVAE_MNIST", str(from_env))

    assert data.resolve_mnist_path(explicit, download=False) == explicit
    assert data.resolve_mnist_path(download=False) == from_env
    monkeypatch.delenv("GMVAE_MNIST")
    assert data.resolve_mnist_path(download=False) == cached


def test_cache_is_gmvae_cache_dir_then_xdg_then_home(monkeypatch, tmp_path):
    assert data.cache_path() == tmp_path / "home" / ".cache" / "gmvae" / "mnist.npz"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_path() == tmp_path / "xdg" / "gmvae" / "mnist.npz"
    monkeypatch.setenv("GMVAE_CACHE_DIR", str(tmp_path / "mine"))
    assert data.cache_path() == tmp_path / "mine" / "mnist.npz"


def test_nothing_found_without_download_says_how_to_provide_the_file():
    with pytest.raises(DataError) as error:
        data.resolve_mnist_path(download=False)
    assert "GMVAE_MNIST=/path/to/mnist.npz" in str(error.value)
    assert str(data.cache_path()) in str(error.value)


def test_env_var_naming_a_missing_file_is_reported(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    monkeypatch.setenv("GMVAE_MNIST", str(missing))
    with pytest.raises(DataError, match="GMVAE_MNIST") as error:
        data.load_mnist()
    assert str(missing) in str(error.value)


# --- bad files -------------------------------------------------------------------------------------

def truncated(path, monkeypatch):
    whole = write_fake_mnist(path).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    accept(monkeypatch, path)  # so that reading the npz, not the hash check, is what fails


def unknown_hash(path, monkeypatch):
    write_fake_mnist(path)


def wrong_shape(path, monkeypatch):
    accept(monkeypatch, write_fake_mnist(path, x_train=np.zeros((100, 28, 28), np.uint8)))


def wrong_dtype(path, monkeypatch):
    accept(monkeypatch, write_fake_mnist(path, x_test=np.zeros((10000, 28, 28), np.float32)))


def missing_key(path, monkeypatch):
    accept(monkeypatch, write_fake_mnist(path, drop=("y_test",)))


@pytest.mark.parametrize(
    "make_bad_file, hint",
    [
        (None, "does not exist"),
        (truncated, "truncated"),
        (unknown_hash, "sha256"),
        (wrong_shape, "x_train is uint8 (100, 28, 28)"),
        (wrong_dtype, "x_test is float32"),
        (missing_key, "no array 'y_test'"),
    ],
    ids=["missing", "truncated", "unknown_hash", "wrong_shape", "wrong_dtype", "missing_key"],
)
def test_a_bad_file_is_one_data_error_naming_it(make_bad_file, hint, monkeypatch, tmp_path):
    path = tmp_path / "mnist.npz"
    if make_bad_file:
        make_bad_file(path, monkeypatch)
    with pytest.raises(DataError) as error:
        data.load_mnist(path)
    message = str(error.value)
    assert str(path) in message and hint in message
    assert "GMVAE_MNIST" in message  # what to do: not the cache's file, so point elsewhere


def test_a_bad_cached_file_says_to_re_download(monkeypatch, tmp_path):
    monkeypatch.setenv("GMVAE_CACHE_DIR", str(tmp_path / "cache"))
    truncated(data.cache_path(), monkeypatch)
    with pytest.raises(DataError, match="re-download") as error:
        data.load_mnist()
    assert error.value.__cause__ is not None  # the low-level error is kept for whoever digs deeper


# --- download --------------------------------------------------------------------------------------

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(monkeypatch, tmp_path):
    """(folder served, its base URL) on 127.0.0.1, shut down after the test."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a proxy configured on CI must not see local requests
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    served = tmp_path / "served"
    served.mkdir()
    server = HTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def served_npz(local_server):
    """URL and bytes of a small npz on the local server (its hash is not yet accepted)."""
    served, base_url = local_server
    np.savez(served / "mnist.npz", pixels=np.arange(1000, dtype=np.uint8))
    return f"{base_url}/mnist.npz", served / "mnist.npz"


def test_download_places_the_verified_file(served_npz, monkeypatch, tmp_path):
    url, original = served_npz
    accept(monkeypatch, original)
    dest = tmp_path / "cache" / "mnist.npz"

    assert data.download_mnist(dest, url) == dest
    assert dest.read_bytes() == original.read_bytes()
    assert os.listdir(dest.parent) == ["mnist.npz"]  # no temporary file left beside it


def test_download_with_an_unknown_hash_leaves_nothing(served_npz, tmp_path):
    url, _ = served_npz
    dest = tmp_path / "cache" / "mnist.npz"
    with pytest.raises(DataError, match="sha256"):
        data.download_mnist(dest, url)
    assert os.listdir(dest.parent) == []


def test_a_failed_download_is_a_data_error_and_leaves_nothing(local_server, tmp_path):
    _, base_url = local_server
    dest = tmp_path / "cache" / "mnist.npz"
    with pytest.raises(DataError, match="could not download") as error:
        data.download_mnist(dest, f"{base_url}/missing.npz")
    assert "GMVAE_MNIST" in str(error.value)
    assert os.listdir(dest.parent) == []


def test_an_empty_cache_is_filled_by_downloading_mnist_url(served_npz, monkeypatch, tmp_path):
    url, original = served_npz
    accept(monkeypatch, original)
    monkeypatch.setenv("GMVAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "MNIST_URL", url)

    path = data.resolve_mnist_path()

    assert path == tmp_path / "cache" / "mnist.npz"
    assert path.read_bytes() == original.read_bytes()


# --- binarization ----------------------------------------------------------------------------------

SEED = tf.constant([1, 2])


def test_binarize_gives_zeros_and_ones_with_the_input_as_probability():
    x = tf.fill([100_000], 0.3)
    bits = data.binarize(x, SEED).numpy()
    assert bits.dtype == np.float32
    assert set(np.unique(bits)) <= {0.0, 1.0}
    assert abs(bits.mean() - 0.3) < 0.01
    # u is drawn from [0, 1): a blank pixel never fires, a full one always does
    edges = data.binarize(tf.constant([0.0, 1.0] * 500), SEED).numpy()
    np.testing.assert_array_equal(edges, [0.0, 1.0] * 500)


def test_binarize_is_a_function_of_its_seed():
    x = tf.fill([1000], 0.5)
    np.testing.assert_array_equal(data.binarize(x, SEED), data.binarize(x, tf.constant([1, 2])))
    assert not np.array_equal(data.binarize(x, SEED), data.binarize(x, tf.constant([1, 3])))


def test_binarize_works_inside_tf_function_with_an_unknown_batch_size():
    traced = tf.function(
        data.binarize,
        input_signature=[tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([2], tf.int32)],
    )
    x = tf.random.stateless_uniform([7, 784], [0, 0])
    np.testing.assert_array_equal(traced(x, SEED), data.binarize(x, SEED))
