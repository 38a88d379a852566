"""Extreme values against real Keras, on the numba and on the pure-NumPy path.

* Every activation at extreme inputs (``|x|`` up to the float max, and +-inf): no NumPy
  warning of any kind (overflow, invalid, divide-by-zero; underflow to 0 is harmless and
  ignored), the two paths agree, and both agree with ``keras.activations``.
* LSTM / GRU / SimpleRNN layers fed saturating inputs (``|x|`` up to 1e4) with large
  weights (kernel scale 100, recurrent kernel and bias scale 10), float32 and float64:
  finite outputs, no warning, and agreement with Keras ``predict`` within :data:`TOL`.

Both paths run in child processes (``tests/jit_paths.py``) with ``warnings`` turned into
errors and ``np.errstate(over=, invalid=, divide="raise")`` around lstm_np's calls.
"""
import numpy as np
import pytest

import lstm_np as ln
from lstm_np.activations import ACTIVATIONS

from .jit_paths import run_on_both_paths
from .keras_builders import keras_floatx, keras_rnn_model

pytestmark = pytest.mark.keras

#: Saturated gates are exactly 0 or 1 in both libraries, so the outputs are mostly exact;
#: the error comes from summation order in x @ kernel, whose terms reach 1e6 (an ulp of
#: 0.06 in float32), and from the few pre-activations that still fall in the steep part.
#: Measured max abs error: float32 < 1e-6, float64 < 1e-15 (the bounds leave room).
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-12, atol=1e-12)}
#: TF's float64 erf-form gelu is accurate to ~4e-9 (as in test_keras_parity).
TOL_ACT = {"float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-13, atol=1e-14)}

CELLS = {"lstm": ("LSTM", 4, 2), "gru": ("GRU", 3, 1), "simple_rnn": ("SimpleRNN", 1, 1)}
B, T, D, U = 3, 8, 4, 5


def extreme_inputs(dtype):
    f = np.finfo(dtype).max
    return np.array([-np.inf, -f, -1e30, -1e4, -710, -89, -20, -1, -0.5, -1e-30, 0.0, 1e-30,
                     0.5, 1, 20, 89, 710, 1e4, 1e30, f, np.inf], dtype)


def layer_data(cell, dtype, seed):
    """Weights in Keras order and inputs: x @ kernel reaches 1e6, with a few timesteps of
    small or zero input, where the (saturated) recurrent state drives the gates."""
    _, gates, _ = CELLS[cell]
    rng = np.random.default_rng(seed)
    G = gates * U
    weights = [rng.standard_normal((D, G)) * 100, rng.standard_normal((U, G)) * 10,
               rng.standard_normal((2, G) if cell == "gru" else G) * 10]
    x = rng.uniform(-1e4, 1e4, (B, T, D))
    x[:, 2] = rng.standard_normal((B, D))
    x[:, 5] = 0.0
    x[0, 0, 0], x[1, 0, 0] = 1e4, -1e4
    return [w.astype(dtype) for w in weights], x.astype(dtype)


_SCRIPT = """
import sys, warnings, numpy as np
sys.path.insert(0, {root!r})
import lstm_np as ln
from lstm_np.activations import ACTIVATIONS, activate
from tests.test_extreme_values import CELLS, U, extreme_inputs, layer_data
warnings.simplefilter("error")
out = {{}}
with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
    for dtype in ("float32", "float64"):
        x = extreme_inputs(dtype)
        for name, code in ACTIVATIONS.items():
            out[f"act_{{name}}_{{dtype}}"] = activate(x, code)
        for k, cell in enumerate(CELLS):
            weights, xs = layer_data(cell, dtype, k)
            cls = getattr(ln, CELLS[cell][0])
            kw = dict(reset_after=True) if cell == "gru" else {{}}
            layer = cls(U, return_sequences=True, return_state=True, dtype=dtype, **kw)
            layer.set_weights(weights)
            for j, a in enumerate(layer(xs)):
                out[f"layer_{{cell}}_{{dtype}}_{{j}}"] = a
np.savez(sys.argv[2], jit=np.array(ln.JIT_ENABLED), **out)
"""


@pytest.fixture(scope="module")
def both_paths(tmp_path_factory):
    if not ln.HAVE_NUMBA:
        pytest.skip("numba not installed")
    return run_on_both_paths(_SCRIPT, [], tmp_path_factory.mktemp("extreme"))


def _keras_activation(name, x):
    import keras
    return np.asarray(keras.activations.get(name)(keras.ops.convert_to_tensor(x)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activations_at_extreme_inputs(both_paths, dtype):
    jitted, pure = both_paths
    x = extreme_inputs(dtype)
    errors = {}
    for name in ACTIVATIONS:
        a, b = jitted[f"act_{name}_{dtype}"], pure[f"act_{name}_{dtype}"]
        assert a.dtype == b.dtype == np.dtype(dtype), name
        finite = np.isfinite(x)
        if name not in ("exponential", "selu"):   # these two overflow to inf, as in Keras
            assert np.isfinite(a[finite]).all(), (name, x[~np.isfinite(a) & finite])
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == "float32" else 1e-14,
                                   atol=0, equal_nan=True, err_msg=name)
        expected = _keras_activation(name, x)
        tol = dict(TOL_ACT[dtype])
        keep = np.ones(x.shape, bool)
        if name == "gelu" and dtype == "float64":
            tol = dict(rtol=1e-8, atol=1e-8)
        if name == "squareplus":
            # Keras's (x + sqrt(x^2 + 4)) / 2 overflows for |x| > sqrt(max) (inf, NaN at
            # -inf) where lstm_np returns the limits x and 0; in float32 it also cancels
            # for x << 0 (0 instead of 1e-4 at -1e4) as in test_kernels.
            keep = np.abs(x) <= 1e4
            if dtype == "float32":
                tol["atol"] = 2e-4
        for got in (a, b):
            np.testing.assert_allclose(got[keep], expected[keep], **tol, equal_nan=True,
                                       err_msg=name)
        both = keep & np.isfinite(expected) & np.isfinite(a)
        errors[name] = float(np.max(np.abs(a[both].astype(float) - expected[both]), initial=0))
    print(dtype, "max abs error vs Keras per activation:", errors)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturating_layers_match_keras(both_paths, cell, dtype):
    jitted, pure = both_paths
    layer_class, _, n_states = CELLS[cell]
    weights, x = layer_data(cell, dtype, list(CELLS).index(cell))
    cfg = dict(batch=B, timesteps=T, input_dim=D, units=U, dtype=dtype, mask_kind="none",
               initial_state=False, activation="tanh", recurrent_activation="sigmoid",
               use_bias=True, return_sequences=True, go_backwards=False)
    with keras_floatx(dtype):
        model, _ = keras_rnn_model(cfg, layer_class=layer_class, n_states=n_states)
        model.set_weights(weights)
        expected = model.predict(x, verbose=0, batch_size=B)
    worst = 0.0
    for j, e in enumerate(expected):
        for got in (jitted[f"layer_{cell}_{dtype}_{j}"], pure[f"layer_{cell}_{dtype}_{j}"]):
            assert got.dtype == np.dtype(dtype) and got.shape == e.shape
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, e, **TOL[dtype], err_msg=f"{cell} output {j}")
            worst = max(worst, float(np.max(np.abs(got.astype(float) - e))))
    print(cell, dtype, "max abs error vs Keras:", worst)
