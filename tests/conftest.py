"""Shared test setup: hypothesis profiles, the ``keras`` marker and a seeded rng."""
import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Which path the tests run. Everything runs on the pure-NumPy path (what every process runs
# first in the default auto mode), so the Keras comparisons cost no numba compiles. The tests
# marked ``numba`` (the kernels against the oracle and the NumPy path, threads, the golden
# Keras fixtures) switch to the numba path, compiled before the first call (eager), so each
# kernel is compiled once per run, by tests that check it. LSTM_NP_DISABLE_JIT=1 keeps even
# those on NumPy (CI's second pass); tests/test_jit.py covers the auto mode.
os.environ.setdefault("LSTM_NP_JIT", "off")

# deadline=None: a numba compile or a Keras model build exceeds hypothesis's 200 ms default.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

HAVE_KERAS = (importlib.util.find_spec("keras") is not None
              and importlib.util.find_spec("tensorflow") is not None)
HAVE_TF_KERAS = HAVE_KERAS and importlib.util.find_spec("tf_keras") is not None


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="TensorFlow/Keras not installed (pip install -e '.[keras]')")
    skip_k2 = pytest.mark.skip(reason="tf-keras not installed (pip install -e '.[keras]')")
    for item in items:
        if "keras" in item.keywords and not HAVE_KERAS:
            item.add_marker(skip)
        if "tf_keras" in item.keywords and not HAVE_TF_KERAS:
            item.add_marker(skip_k2)


@pytest.fixture(autouse=True)
def _numba_path(request):
    """Tests marked ``numba`` run on the numba path (eager) unless the JIT is disabled."""
    from lstm_np import _jit
    if request.node.get_closest_marker("numba") is None or not _jit.HAVE_NUMBA or \
            _jit.env_flag("LSTM_NP_DISABLE_JIT"):
        yield
        return
    before = _jit.mode()
    _jit.set_mode("eager")
    try:
        yield
    finally:
        _jit.set_mode(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="module", params=[
    pytest.param("k3", id="keras3"),
    pytest.param("k2", id="tf_keras", marks=pytest.mark.tf_keras)])
def K(request):
    """``(keras module, is_keras2)``: Keras 3, then tf-keras (Keras 2 semantics)."""
    if request.param == "k3":
        import keras
        return keras, False
    import tf_keras
    return tf_keras, True
