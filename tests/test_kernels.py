"""The recurrent kernels against the independent oracle in ``tests/naive.py``.

Runs on whichever path is active: the numba one by default, the pure-NumPy one under
``LSTM_NP_DISABLE_JIT=1`` (CI runs both); ``test_jit_and_pure_paths_agree`` compares the two
directly in one run.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import lstm_np as ln
from lstm_np.activations import ACTIVATIONS, activate, resolve

from . import naive
from .strategies import ACTIVATION_NAMES, make_data, rnn_configs

# float32 against a float64 oracle: a few ulps per operation, compounding over timesteps.
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}


def run_lstm(cfg, weights, x, mask, states):
    layer = ln.LSTM(cfg["units"], activation=cfg["activation"],
                    recurrent_activation=cfg["recurrent_activation"], use_bias=cfg["use_bias"],
                    return_sequences=cfg["return_sequences"], return_state=True,
                    go_backwards=cfg["go_backwards"],
                    zero_output_for_mask=cfg["zero_output_for_mask"], dtype=cfg["dtype"],
                    keras_version=cfg.get("keras_version", 3))
    layer.set_weights(weights)
    return layer(x, initial_state=states, mask=mask)


def oracle_lstm(cfg, weights, x, mask, states):
    return naive.lstm(x, weights[0], weights[1], weights[2] if cfg["use_bias"] else None,
                      initial_state=states, mask=mask, activation_name=cfg["activation"],
                      recurrent_activation_name=cfg["recurrent_activation"],
                      go_backwards=cfg["go_backwards"],
                      zero_output_for_mask=cfg["zero_output_for_mask"],
                      return_sequences=cfg["return_sequences"],
                      keras_version=cfg.get("keras_version", 3))


def assert_close(ours, ref, dtype, what=""):
    tol = TOL[dtype]
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert a.dtype == np.dtype(dtype), f"{what} output {k}: dtype {a.dtype}, expected {dtype}"
        np.testing.assert_allclose(a, b, **tol, err_msg=f"{what} output {k}")


@given(rnn_configs(), st.sampled_from([2, 3]))
def test_lstm_matches_oracle(cfg, keras_version):
    cfg["keras_version"] = keras_version
    data = make_data(cfg)
    assert_close(run_lstm(cfg, *data), oracle_lstm(cfg, *data), cfg["dtype"], str(cfg))


@given(rnn_configs(max_timesteps=5), st.sampled_from(ACTIVATION_NAMES),
       st.sampled_from(ACTIVATION_NAMES))
def test_lstm_every_activation_matches_oracle(cfg, activation, recurrent_activation):
    # Unbounded activations can grow without limit, so keep weights small and runs short,
    # and skip runs whose exact values leave float32's range (both sides overflow then).
    cfg.update(weight_scale=0.5, activation=activation, recurrent_activation=recurrent_activation)
    arrays = make_data(cfg)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = oracle_lstm(cfg, *arrays)
    assume(all(np.all(np.abs(r) < 1e30) for r in ref))
    assert_close(run_lstm(cfg, *arrays), ref, cfg["dtype"], str(cfg))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_matches_oracle(name, dtype):
    x = np.concatenate([np.linspace(-12, 12, 241), [-1e4, -100, -1, -0.5, 0, 0.5, 1, 100, 1e4]])
    x = x.astype(dtype).reshape(5, -1)
    with np.errstate(over="ignore"):
        ref = naive.activation(name)(x.astype(np.float64)).astype(dtype)
    with np.errstate(over="ignore"):   # only `exponential` overflows, to inf, like Keras
        ours = activate(x, resolve(name))
    assert ours.dtype == np.dtype(dtype)
    tol = dict(rtol=3e-6, atol=3e-7) if dtype == "float32" else dict(rtol=1e-13, atol=1e-14)
    if name == "squareplus" and dtype == "float32":
        # Keras's (x + sqrt(x^2 + 4)) / 2 cancels for x << 0; we keep its float32 formula.
        tol["atol"] = 2e-4
    np.testing.assert_allclose(ours, ref, **tol)


def test_activation_forms_raise_no_warnings():
    x = np.array([[-3e38, -1e4, -88.8, 0.0, 88.8, 1e4, 3e38]], np.float32)
    with np.errstate(all="raise"):
        for name, code in ACTIVATIONS.items():
            if name != "exponential":
                assert np.all(np.isfinite(activate(x, code))), name


def test_hard_sigmoid_follows_keras_version():
    x = np.array([[-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0]], np.float32)
    k3 = activate(x, resolve("hard_sigmoid", keras_version=3))
    k2 = activate(x, resolve("hard_sigmoid", keras_version=2))
    np.testing.assert_allclose(k3[0], [0, 1 / 12, 1 / 3, 0.5, 2 / 3, 11 / 12, 1], rtol=1e-6)
    np.testing.assert_allclose(k2[0], [0, 0, 0.3, 0.5, 0.7, 1, 1], rtol=1e-6)


def test_unknown_activation_is_named():
    with pytest.raises(ln.UnsupportedKerasFeature, match="softmax"):
        ln.LSTM(3, activation="softmax")


_PATH_SCRIPT = """
import json, sys, numpy as np
sys.path.insert(0, {root!r})
import lstm_np as ln
from tests.strategies import make_data
out = {{}}
for k, cfg in enumerate(json.loads(sys.argv[1])):
    w, x, m, s = make_data(cfg)
    layer = ln.LSTM(cfg["units"], activation=cfg["activation"],
                    recurrent_activation=cfg["recurrent_activation"], use_bias=cfg["use_bias"],
                    return_sequences=True, return_state=True, go_backwards=cfg["go_backwards"],
                    dtype=cfg["dtype"])
    layer.set_weights(w)
    for j, a in enumerate(layer(x, initial_state=s, mask=m)):
        out[f"{{k}}_{{j}}"] = a
np.savez(sys.argv[2], jit=np.array(ln.JIT_ENABLED), **out)
"""


@pytest.mark.skipif(not ln.HAVE_NUMBA, reason="numba not installed")
def test_jit_and_pure_paths_agree(tmp_path):
    """The same configurations through numba and through plain NumPy, in two processes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfgs = []
    for k, (dt, act) in enumerate([("float32", "tanh"), ("float64", "tanh"),
                                   ("float32", "hard_sigmoid"), ("float32", "gelu"),
                                   ("float64", "softplus"), ("float32", "relu")]):
        cfgs.append(dict(units=5, input_dim=3, batch=3, timesteps=9, activation=act,
                         recurrent_activation="sigmoid", use_bias=k % 2 == 0,
                         go_backwards=k % 3 == 0, mask_kind="random", initial_state=True,
                         weight_scale=1.0, dtype=dt, seed=k))
    results = {}
    for flag in ("0", "1"):
        path = tmp_path / f"out{flag}.npz"
        env = dict(os.environ, LSTM_NP_DISABLE_JIT=flag)
        subprocess.run([sys.executable, "-c", _PATH_SCRIPT.format(root=root), json.dumps(cfgs),
                        str(path)], check=True, env=env)
        results[flag] = dict(np.load(path))
    assert bool(results["0"].pop("jit")) and not bool(results["1"].pop("jit"))
    for key, a in results["0"].items():
        b = results["1"][key]
        assert a.dtype == b.dtype
        # Same operations in the same order; only libm vs NumPy's SIMD transcendental
        # functions may differ, by an ulp or so.
        tol = 1e-6 if a.dtype == np.float32 else 1e-14
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=key)
