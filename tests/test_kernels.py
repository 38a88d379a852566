"""The recurrent kernels against the independent oracle in ``tests/naive.py``.

Marked ``numba``: runs on the numba path (compiled before the first call, see ``conftest.py``),
and on the pure-NumPy one under ``LSTM_NP_DISABLE_JIT=1`` (CI runs both);
``test_jit_and_pure_paths_agree`` compares the two directly in one run.
"""

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import lstm_np as ln
from lstm_np.activations import ACTIVATIONS, activate, resolve

from . import naive
from .cells import CELLS, make_cell_data, make_cell_layer, oracle_cell
from .jit_paths import run_on_both_paths
from .strategies import ACTIVATION_NAMES, make_data, rnn_configs

pytestmark = pytest.mark.numba   # numba path (NumPy under LSTM_NP_DISABLE_JIT=1)

# float32 against a float64 oracle: a few ulps per operation, compounding over timesteps.
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}

def run_cell(cell, cfg, weights, x, mask, states):
    layer = make_cell_layer(cell, cfg)
    layer.set_weights(weights)
    return layer(x, initial_state=states, mask=mask)


def assert_close(ours, ref, dtype, what=""):
    """Elementwise within ``TOL``, the absolute part scaled by the largest reference value.

    Rounding errors scale with the largest values in the computation, not with each element:
    a GRU whose gates leave [0, 1] (``relu6`` as ``recurrent_activation``) mixes units of
    size 1e3 into one of size 5 through ``z * h + (1 - z) * hh``.
    """
    tol = TOL[dtype]
    assert len(ours) == len(ref), f"{what}: {len(ours)} outputs, expected {len(ref)}"
    scale = max([1.0] + [float(np.max(np.abs(b))) for b in ref if np.size(b)])
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert a.dtype == np.dtype(dtype), f"{what} output {k}: dtype {a.dtype}, expected {dtype}"
        np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * scale,
                                   err_msg=f"{what} output {k}")


@pytest.mark.parametrize("cell", CELLS)
@given(cfg=rnn_configs(), keras_version=st.sampled_from([2, 3]))
def test_matches_oracle(cell, cfg, keras_version):
    cfg["keras_version"] = keras_version
    data = make_cell_data(cell, cfg)
    assert_close(run_cell(cell, cfg, *data), oracle_cell(cell, cfg, *data), cfg["dtype"],
                 f"{cell} {cfg}")


@pytest.mark.parametrize("cell", CELLS)
@given(cfg=rnn_configs(max_timesteps=5), activation=st.sampled_from(ACTIVATION_NAMES),
       recurrent_activation=st.sampled_from(ACTIVATION_NAMES))
def test_every_activation_matches_oracle(cell, cfg, activation, recurrent_activation):
    # Unbounded activations can grow without limit, so keep weights small and runs short,
    # and skip runs whose exact values leave float32's range (both sides overflow then).
    cfg.update(weight_scale=0.5, activation=activation, recurrent_activation=recurrent_activation)
    arrays = make_cell_data(cell, cfg)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = oracle_cell(cell, cfg, *arrays)
    assume(all(np.all(np.abs(r) < 1e30) for r in ref))
    assert_close(run_cell(cell, cfg, *arrays), ref, cfg["dtype"], f"{cell} {cfg}")


@pytest.mark.parametrize("cell", CELLS)
def test_keep_cache_holds_pre_activations_and_entering_states(cell, rng):
    """``keep=True``: zs (B, T, G) are the activation arguments, history the entering states."""
    cfg = dict(units=3, input_dim=2, batch=2, timesteps=4, activation="tanh",
               recurrent_activation="sigmoid", use_bias=True, return_sequences=True,
               go_backwards=True, mask_kind="random", initial_state=True, weight_scale=1.0,
               dtype="float64", seed=7)
    weights, x, mask, states = make_cell_data(cell, cfg)
    layer = make_cell_layer(cell, cfg)
    layer.set_weights(weights)
    outputs, final, cache = layer.forward(x, initial_state=states, mask=mask, keep=True)
    zs, history = cache[-2:]
    gates, n_states = CELLS[cell]
    U = cfg["units"]
    assert zs.shape == (2, 4, gates * U) and history.shape == (n_states, 2, 4, U)
    np.testing.assert_array_equal(history[:, :, 0], np.stack(states))
    for s in range(4):   # processing order: t = 3, 2, 1, 0
        t = 3 - s
        h = history[0, :, s]
        xw = x[:, t] @ weights[0]
        if cell == "lstm":
            ref = xw + h @ weights[1] + weights[2]
        elif cell == "simple_rnn":
            ref = (xw + weights[2]) + h @ weights[1]
        else:
            b_in = weights[2][0] if cell == "gru" else weights[2]
            mx = xw + b_in
            if cell == "gru":
                inner = h @ weights[1] + weights[2][1]
            else:
                inner = np.concatenate([h @ weights[1][:, :2 * U], np.zeros_like(h)], axis=1)
            zr = mx[:, :2 * U] + inner[:, :2 * U]
            r = naive.activation("sigmoid")(zr[:, U:])
            hh = (mx[:, 2 * U:] + r * inner[:, 2 * U:] if cell == "gru"
                  else mx[:, 2 * U:] + (r * h) @ weights[1][:, 2 * U:])
            ref = np.concatenate([zr, hh], axis=1)
        np.testing.assert_allclose(zs[:, s], ref, rtol=1e-12, atol=1e-12, err_msg=f"step {s}")


@pytest.mark.parametrize("cell", ["gru", "gru_reset_before", "simple_rnn"])
def test_kernel_bias_length_is_checked(cell):
    from lstm_np.kernels import recurrent as R
    code = {"gru": R.GRU_CELL, "gru_reset_before": R.GRU_RESET_BEFORE_CELL,
            "simple_rnn": R.SIMPLE_RNN_CELL}[cell]
    G = R.GATES[code] * 2
    bad = np.zeros(G * R.BIAS_BLOCKS[code] + 1)
    with pytest.raises(ValueError, match="does not fit cell"):
        R._kernel_bias(code, np.zeros((1, G)), bad)


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
    # Underflow to 0 (exp of a huge negative number) is harmless; overflow and NaN are not.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
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
from tests.cells import make_cell_data, make_cell_layer
out = {{}}
for k, (cell, cfg) in enumerate(json.loads(sys.argv[1])):
    w, x, m, s = make_cell_data(cell, cfg)
    layer = make_cell_layer(cell, cfg)
    layer.set_weights(w)
    for j, a in enumerate(layer(x, initial_state=s, mask=m)):
        out[f"{{k}}_{{j}}"] = a
np.savez(sys.argv[2], jit=np.array(ln.JIT_ENABLED), **out)
"""


@pytest.mark.skipif(not ln.HAVE_NUMBA, reason="numba not installed")
def test_jit_and_pure_paths_agree(tmp_path):
    """The same configurations through numba and through plain NumPy, in two processes."""
    cfgs = []
    for cell in CELLS:
        for k, (dt, act) in enumerate([("float32", "tanh"), ("float64", "tanh"),
                                       ("float32", "hard_sigmoid"), ("float32", "gelu"),
                                       ("float64", "softplus"), ("float32", "relu")]):
            cfgs.append((cell, dict(units=5, input_dim=3, batch=3, timesteps=9, activation=act,
                                    recurrent_activation="sigmoid", use_bias=k % 2 == 0,
                                    return_sequences=True, go_backwards=k % 3 == 0,
                                    mask_kind="random", initial_state=True, weight_scale=1.0,
                                    dtype=dt, seed=k)))
    jitted, pure = run_on_both_paths(_PATH_SCRIPT, cfgs, tmp_path)
    for key, a in jitted.items():
        b = pure[key]
        assert a.dtype == b.dtype
        # Same operations in the same order; only libm vs NumPy's SIMD transcendental
        # functions may differ, by an ulp or so.
        tol = 1e-6 if a.dtype == np.float32 else 1e-14
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=key)


@pytest.mark.parametrize("cell", CELLS)
@given(cfg=rnn_configs(max_batch=7))
def test_batch_split_across_threads_matches_one_thread(cell, cfg):
    """Rows split across worker threads, or the weight panels split between two threads
    (small batches), give the single-thread result bit for bit -- every output, the final
    states and the ``keep`` cache -- whatever the mask and direction: every kernel sums a
    row in the same order whatever tile, block or thread it is in."""
    from lstm_np.kernels import dispatch
    weights, x, mask, states = make_cell_data(cell, cfg)
    layer = make_cell_layer(cell, cfg)
    layer.set_weights(weights)
    run = lambda keep: layer.forward(x, initial_state=states, mask=mask, keep=keep)  # noqa: E731
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dispatch, "DUO_STEPS", 10 ** 9)
        m.setenv("LSTM_NP_NUM_THREADS", "1")
        single = run(True)
        plain = run(False)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dispatch, "PARALLEL_WORK", 0)
        m.setattr(dispatch, "DUO_STEPS", 10 ** 9)
        m.setenv("LSTM_NP_NUM_THREADS", "3")
        assert len(dispatch.row_blocks(cfg["batch"], 1)) == min(3, cfg["batch"])
        split = run(True)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dispatch, "DUO_STEPS", 1)
        m.setattr(dispatch, "DUO_PANELS", 1)
        m.setenv("LSTM_NP_NUM_THREADS", "2")
        duo = run(False)
    for a, b in zip([single[0], single[1], *single[2]], [split[0], split[1], *split[2]]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip([plain[0], plain[1]], [duo[0], duo[1]]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain[0], single[0])
