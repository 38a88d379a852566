"""The backward pass against TensorFlow's autodiff (``tf.GradientTape``) on real Keras 3 layers.

Truth is TF: the same weights in a ``keras.layers.LSTM`` (or ``GRU`` with either
``reset_after``, or ``SimpleRNN``: every test helper takes ``cfg["cell"]``, default
``"lstm"``), called as ``layer(x, mask=tf.constant(mask), initial_state=[h0, c0])`` under a
tape, with the loss ``sum(out * d_out) + sum(h * dh) + sum(c * dc)`` for random upstream
gradients.

Tolerance, per gradient tensor: ``max|ours - tf| <= tol * scale`` with
``scale = max(1, max|tf|)``, ``tol = 1e-5`` in float32 (T <= 50) and ``1e-10`` in float64.
In float32 the two sides differ by TF's Eigen sigmoid/tanh approximations (a few ulp per
op) and by summation order in the weight-gradient reductions, compounding over timesteps.

Also here, without TF: the API (names, shapes, dtypes, errors), the cache's size, and the
numba and pure-NumPy paths agreeing. Finite differences are in ``test_gradcheck.py``.
"""
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lstm_np as ln
from lstm_np.activation_grads import activate_grad
from lstm_np.activations import ACTIVATIONS, HARD_SIGMOID_K2, resolve

from .cells import STATE_NAMES, make_cell_data, make_cell_layer
from .jit_paths import run_on_both_paths
from .strategies import ACTIVATION_NAMES, rnn_configs

TOL = {"float32": 1e-5, "float64": 1e-10}
# TF's float64 gelu itself is only ~4e-9 accurate (forward and gradient; its erf is exact),
# compounding over steps, so float64 cases with gelu are held to this instead.
TOL_F64_GELU = 1e-7
# TF's LeakyRelu takes its slope as a float32 attribute (0.2f = 0.20000000298...) even in
# float64; lstm_np's forward uses 0.2 and its derivative follows the forward, so float64
# cases with leaky_relu differ from TF by a relative 1.5e-8 per step.
TOL_F64_LEAKY = 1e-7
CELL_NAMES = ["lstm", "gru", "gru_reset_before", "simple_rnn"]
OTHER_CELLS = CELL_NAMES[1:]
# Recurrent activations with values in [0, 1]: gates then make a contractive recurrence.
GATE_LIKE = ("sigmoid", "hard_sigmoid", "sparse_sigmoid")


# ----------------------------------------------------------------------------- helpers
def cell_of(cfg):
    return cfg.get("cell", "lstm")


def grad_names(cfg):
    """``x``, one name per initial state, the weights in Keras order."""
    return (("x",) + STATE_NAMES[cell_of(cfg)] + ("kernel", "recurrent_kernel")
            + (("bias",) if cfg["use_bias"] else ()))


def ours_layer(cfg, weights):
    layer = make_cell_layer(cell_of(cfg), cfg)
    layer.set_weights(weights)
    return layer


def upstream(cfg, rng):
    """Random gradients on the output and, with ``return_state``, on the final states."""
    dt = np.dtype(cfg["dtype"])
    B, T, U = cfg["batch"], cfg["timesteps"], cfg["units"]
    d_out = rng.standard_normal((B, T, U) if cfg["return_sequences"] else (B, U)).astype(dt)
    n_states = len(STATE_NAMES[cell_of(cfg)])
    d_states = ([rng.standard_normal((B, U)).astype(dt) for _ in range(n_states)]
                if cfg["return_state"] else None)
    return d_out, d_states


def ours_grads(cfg, weights, x, mask, states, d_out, d_states):
    """Our gradients, named as in :func:`grad_names` (states whether or not given)."""
    layer = ours_layer(cfg, weights)
    _, _, cache = layer.forward(x, initial_state=states, mask=mask, keep=True)
    g = layer.backward(d_out, d_states, cache)
    return dict(zip(grad_names(cfg), [g["x"]] + g["initial_state"] + g["weights"]))


def tf_grads(cfg, weights, x, mask, states, d_out, d_states):
    """TF's gradients of the same loss through the Keras 3 layer of ``cfg["cell"]``."""
    import keras
    import tensorflow as tf
    dt = cfg["dtype"]
    B, U = cfg["batch"], cfg["units"]
    cell = cell_of(cfg)
    kw = dict(activation=cfg["activation"], use_bias=cfg["use_bias"],
              return_sequences=cfg["return_sequences"], return_state=True,
              go_backwards=cfg["go_backwards"], zero_output_for_mask=cfg["zero_output_for_mask"],
              dtype=dt)
    if cell == "simple_rnn":
        layer = keras.layers.SimpleRNN(U, **kw)
    elif cell == "lstm":
        layer = keras.layers.LSTM(U, recurrent_activation=cfg["recurrent_activation"], **kw)
    else:
        layer = keras.layers.GRU(U, recurrent_activation=cfg["recurrent_activation"],
                                 reset_after=cell == "gru", **kw)
    layer.build((B, cfg["timesteps"], cfg["input_dim"]))
    layer.set_weights(weights)
    n_states = len(STATE_NAMES[cell])
    if states is None:
        states = [np.zeros((B, U), dt) for _ in range(n_states)]
    tx = tf.constant(x)
    ts = [tf.constant(s) for s in states]
    mkw = {} if mask is None else dict(mask=tf.constant(mask))
    wvars = [layer.cell.kernel, layer.cell.recurrent_kernel]
    if cfg["use_bias"]:
        wvars.append(layer.cell.bias)
    with tf.GradientTape() as tape:
        tape.watch([tx] + ts)
        out, *final = layer(tx, initial_state=ts, **mkw)
        loss = tf.reduce_sum(out * d_out)
        if d_states is not None:
            for s, d in zip(final, d_states):
                loss += tf.reduce_sum(s * d)
    grads = tape.gradient(loss, [tx] + ts + [v.value for v in wvars])
    return {n: (np.zeros_like(v) if g is None else np.asarray(g))
            for n, g, v in zip(grad_names(cfg), grads, [x] + list(states) + list(weights))}


def max_scaled_errors(ours, ref):
    """``max|ours - ref| / max(1, max|ref|)`` per gradient name."""
    return {k: float(np.abs(ours[k].astype(np.float64) - ref[k]).max()
                     / max(1.0, float(np.abs(ref[k]).max()))) for k in ref}


def log_errors(test_name, cfg, errs):
    """Append the measured errors to ``$LSTM_NP_ERROR_LOG`` (JSON lines) when it is set."""
    path = os.environ.get("LSTM_NP_ERROR_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(dict(test=test_name, cell=cell_of(cfg), dtype=cfg["dtype"],
                                    T=cfg["timesteps"],
                                    scale=cfg["weight_scale"], max_scaled=max(errs.values()),
                                    errors=errs)) + "\n")


def check_against_tf(cfg, test_name):
    weights, x, mask, states = make_cell_data(cell_of(cfg), cfg)
    rng = np.random.default_rng(cfg["seed"] + 1)
    d_out, d_states = upstream(cfg, rng)
    ref = tf_grads(cfg, weights, x, mask, states, d_out, d_states)
    got = ours_grads(cfg, weights, x, mask, states, d_out, d_states)
    assert set(got) == set(ref)
    for k in ref:
        assert got[k].shape == ref[k].shape and got[k].dtype == np.dtype(cfg["dtype"]), k
    if not all(np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e30) for v in ref.values()):
        return  # an exploding unbounded recurrence: nothing meaningful to compare
    errs = max_scaled_errors(got, ref)
    log_errors(test_name, cfg, errs)
    tol = TOL[cfg["dtype"]]
    acts = (cfg["activation"], cfg["recurrent_activation"])
    if cfg["dtype"] == "float64" and "gelu" in acts:
        tol = TOL_F64_GELU
    if cfg["dtype"] == "float64" and "leaky_relu" in acts:
        tol = max(tol, TOL_F64_LEAKY)
    bad = {k: e for k, e in errs.items() if not e <= tol}
    if bad and cfg["dtype"] == "float32":
        # Saturating weights with an expansive recurrence amplify float32 rounding in TF and in
        # lstm_np alike. Then judge both against the exact gradient (our float64 path, itself
        # checked against TF float64 to 1e-10 and finite differences): ours must be as close
        # to it as TF's float32 gradient is, within a factor of 4.
        f64 = lambda arrays: None if arrays is None else [a.astype(np.float64) for a in arrays]
        exact = ours_grads(dict(cfg, dtype="float64"), f64(weights), x.astype(np.float64),
                           mask, f64(states), d_out.astype(np.float64), f64(d_states))
        ours_vs_exact = max_scaled_errors(got, exact)
        tf_vs_exact = max_scaled_errors(ref, exact)
        bad = {k: (ours_vs_exact[k], tf_vs_exact[k]) for k in bad
               if ours_vs_exact[k] > 4 * tf_vs_exact[k] + tol}
    assert not bad, (f"scaled errors above {tol}: {bad}\n"
                     + "\n".join(f"{k}: ours {got[k].ravel()[:6]} tf {ref[k].ravel()[:6]}"
                                 for k in bad) + f"\n{cfg}")


# -------------------------------------------------------------- against TensorFlow
@pytest.mark.keras
@settings(max_examples=20)
@given(rnn_configs(max_units=8, max_timesteps=50, max_batch=4))
def test_gradients_match_tf(cfg):
    """Drawn configurations: masks, direction, sequences, states, bias, bounded activations.

    Gates whose activation is not in [0, 1] (tanh, hard_tanh, softsign, relu6) make the
    recurrence expansive: at saturating weight scales gradients explode (~1e6) and float32
    rounding moves pre-activations across hard_tanh/relu6 kinks, in TF as in lstm_np (our
    float64 gradient still matches TF's float64). Such configurations run at unit scale on
    short sequences; gate-like recurrent activations keep the full range.
    """
    if cfg["recurrent_activation"] not in GATE_LIKE:
        cfg.update(weight_scale=min(cfg["weight_scale"], 1.0),
                   timesteps=min(cfg["timesteps"], 12))
    check_against_tf(cfg, "tf-grad")


@pytest.mark.keras
@settings(max_examples=12)
@given(st.sampled_from(OTHER_CELLS), rnn_configs(max_units=6, max_timesteps=30, max_batch=3))
def test_gradients_match_tf_gru_simple_rnn(cell, cfg):
    """GRU (both ``reset_after``) and SimpleRNN, drawn as the LSTM above.

    The GRU with a recurrent activation outside [0, 1] and the SimpleRNN with a
    non-gate-like activation are expansive recurrences (``h = z h + (1 - z) hh`` is no
    longer a convex combination; ``act'`` up to 1 times the recurrent kernel): unit scale,
    short sequences, as for the LSTM.
    """
    cfg["cell"] = cell
    recurrence = cfg["activation"] if cell == "simple_rnn" else cfg["recurrent_activation"]
    if recurrence not in GATE_LIKE:
        cfg.update(weight_scale=min(cfg["weight_scale"], 1.0),
                   timesteps=min(cfg["timesteps"], 12))
    check_against_tf(cfg, "tf-grad-" + cell)


@pytest.mark.keras
@settings(max_examples=15)
@given(rnn_configs(activations=ACTIVATION_NAMES, max_units=6, max_timesteps=6))
def test_gradients_match_tf_every_activation(cfg):
    """Every supported activation, as cell activation and as recurrent activation."""
    cfg["weight_scale"] = 0.5
    check_against_tf(cfg, "tf-grad-activations")


@pytest.mark.keras
@settings(max_examples=10)
@given(st.sampled_from(OTHER_CELLS),
       rnn_configs(activations=ACTIVATION_NAMES, max_units=4, max_timesteps=5, max_batch=3))
def test_gradients_match_tf_every_activation_gru_simple_rnn(cell, cfg):
    """Every supported activation in the GRU and SimpleRNN cells."""
    cfg.update(cell=cell, weight_scale=0.5)
    check_against_tf(cfg, "tf-grad-activations-" + cell)


@pytest.mark.keras
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [
    dict(mask_kind="pre", go_backwards=True, return_sequences=True),
    dict(mask_kind="post", go_backwards=False, return_sequences=False),
    dict(mask_kind="random", zero_output_for_mask=True, return_sequences=True),
    dict(mask_kind="random", zero_output_for_mask=True, return_sequences=False,
         go_backwards=True),
    dict(mask_kind="all_masked_row", return_sequences=True, use_bias=False),
    dict(mask_kind="none", activation="relu", recurrent_activation="hard_sigmoid"),
])
def test_gradients_match_tf_named_cases(case, dtype, cell):
    """The mask/direction/output-carry combinations, each run explicitly, every cell."""
    cfg = dict(cell=cell, units=5, input_dim=3, batch=4, timesteps=9, activation="tanh",
               recurrent_activation="sigmoid", use_bias=True, return_sequences=False,
               return_state=True, go_backwards=False, zero_output_for_mask=False,
               mask_kind="none", initial_state=True, weight_scale=1.0, dtype=dtype, seed=7)
    cfg.update(case)
    check_against_tf(cfg, "tf-grad-named")


@pytest.mark.keras
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_zero_input_hits_the_kinks_like_tf(cell):
    """All-zero input, no bias, zero states: every pre-activation and c sit exactly on 0,
    where relu, celu, leaky_relu, ... have kinks; TF's one-sided choices must be ours."""
    for act, rec in [("relu", "hard_sigmoid"), ("celu", "leaky_relu"), ("relu6", "relu"),
                     ("hard_tanh", "sparse_sigmoid"), ("soft_shrink", "hard_silu")]:
        cfg = dict(cell=cell, units=3, input_dim=2, batch=2, timesteps=4, activation=act,
                   recurrent_activation=rec, use_bias=False, return_sequences=True,
                   return_state=True, go_backwards=False, zero_output_for_mask=False,
                   mask_kind="none", initial_state=False, weight_scale=1.0,
                   dtype="float32", seed=3)
        weights, x, mask, states = make_cell_data(cell, cfg)
        x = np.zeros_like(x)
        d_out, d_states = upstream(cfg, np.random.default_rng(0))
        ref = tf_grads(cfg, weights, x, mask, states, d_out, d_states)
        got = ours_grads(cfg, weights, x, mask, states, d_out, d_states)
        for k in ref:   # a wrong one-sided choice is an O(1) error; rounding scales with |ref|
            scale = max(1.0, float(np.abs(ref[k]).max()))
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-6, atol=1e-7 * scale,
                                       err_msg=f"{act}/{rec} {k}")


KINKS = np.array([-6, -3, -2.5, -1, -0.5, -1e-7, 0, 1e-7, 0.5, 1, 2.5, 3, 6,
                  2.9999998, -2.9999998, 5.9999995, 0.7, -1.3, 4.2, -20, 20, 90, -90],
                 np.float64)


@pytest.mark.keras
@pytest.mark.parametrize("path", ["numpy", pytest.param("numba", marks=pytest.mark.numba)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS) + ["hard_sigmoid_k2"])
def test_activation_derivatives_match_tf(name, dtype, path):
    """Derivatives at the kinks, the floats either side of them, flat regions and a few
    smooth points, as TF gives them, on both paths (the numba one is a scalar loop)."""
    import keras
    import tensorflow as tf
    x = KINKS.astype(dtype)
    nz = x[x != 0]       # the floats beside 0 are subnormal, which TF's CPU kernels flush
    x = np.concatenate([x, np.nextafter(nz, np.inf), np.nextafter(nz, -np.inf)])
    if name == "hard_sigmoid_k2":
        import tf_keras
        fn, code = tf_keras.backend.hard_sigmoid, HARD_SIGMOID_K2
    else:
        fn, code = keras.activations.get(name), resolve(name)
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        y = fn(tx)
    ref = tape.gradient(y, tx).numpy()
    got = activate_grad(x, code)
    assert got.dtype == x.dtype
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=name)
    tol = 2e-6 if dtype == "float32" else {"gelu": TOL_F64_GELU,
                                            "leaky_relu": TOL_F64_LEAKY}.get(name, 1e-12)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=tol, atol=tol,
                               err_msg=f"{name} at {x[finite]}")


# ------------------------------------------------------------------- without TF
def small_layer(rng, dtype="float32", use_bias=True, cell="lstm", **kw):
    """A 4-unit layer of ``cell`` on 3 input features, weights of scale 0.5."""
    if cell == "lstm":
        layer = ln.LSTM(4, dtype=dtype, use_bias=use_bias, **kw)
    elif cell == "simple_rnn":
        layer = ln.SimpleRNN(4, dtype=dtype, use_bias=use_bias, **kw)
    else:
        layer = ln.GRU(4, dtype=dtype, use_bias=use_bias, reset_after=cell == "gru", **kw)
    layer.set_weights([rng.standard_normal(s) * 0.5 for s in layer.weight_shapes(3)])
    return layer


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_names_shapes_and_dtypes(rng, dtype, cell):
    layer = small_layer(rng, dtype, cell=cell, return_sequences=True)
    x = rng.standard_normal((2, 5, 3))
    out, states, cache = layer.forward(x, keep=True)
    g = layer.backward(np.ones_like(out), [np.ones((2, 4))], cache)
    assert list(g) == ["x", "initial_state", "kernel", "recurrent_kernel", "bias", "weights"]
    assert g["x"].shape == (2, 5, 3)
    assert [s.shape for s in g["initial_state"]] == [(2, 4)] * len(states)
    assert [w.shape for w in g["weights"]] == [w.shape for w in layer.get_weights()]
    if cell == "gru":
        assert g["bias"].shape == (2, 12)       # reset_after: [input bias, recurrent bias]
    assert all(a is b for a, b in zip(g["weights"], (g["kernel"], g["recurrent_kernel"],
                                                      g["bias"])))
    for a in [g["x"], *g["initial_state"], *g["weights"]]:
        assert a.dtype == np.dtype(dtype)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_no_bias_has_no_bias_gradient(rng, cell):
    layer = small_layer(rng, use_bias=False, cell=cell)
    out, _, cache = layer.forward(rng.standard_normal((2, 5, 3)), keep=True)
    g = layer.backward(np.ones_like(out), None, cache)
    assert "bias" not in g and len(g["weights"]) == 2


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_no_upstream_gradient_gives_zeros(rng, cell):
    layer = small_layer(rng, cell=cell)
    out, _, cache = layer.forward(rng.standard_normal((2, 5, 3)), keep=True)
    g = layer.backward(None, None, cache)
    assert not np.any(g["x"]) and not any(np.any(w) for w in g["weights"])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_fully_masked_input_passes_state_gradients_through(rng, cell):
    """Every step masked: the states are carried, so d(initial) == d(final), nothing else."""
    layer = small_layer(rng, dtype="float64", cell=cell)
    x = rng.standard_normal((2, 5, 3))
    out, states, cache = layer.forward(x, mask=np.zeros((2, 5), bool), keep=True)
    d_final = list(rng.standard_normal(states.shape))
    g = layer.backward(rng.standard_normal(out.shape), d_final, cache)
    for got, want in zip(g["initial_state"], d_final):
        np.testing.assert_array_equal(got, want)
    assert not np.any(g["x"]) and not any(np.any(w) for w in g["weights"])


@pytest.mark.parametrize("cell, numbers", [("lstm", 6), ("gru", 4), ("gru_reset_before", 4),
                                           ("simple_rnn", 2)])
def test_cache_is_linear_in_timesteps(rng, cell, numbers):
    """The saved intermediates are ``(G + S) B T U`` numbers (plus the input): no T**2 term
    (LSTM 6, GRU 4, SimpleRNN 2 per B T U)."""
    layer = small_layer(rng, cell=cell)
    for T in (10, 40):
        x = rng.standard_normal((2, T, 3))
        _, _, (xc, mask, zs, history) = layer.forward(x, keep=True)
        assert zs.size + history.size == numbers * 2 * T * 4


def test_backward_errors_are_named(rng):
    layer = small_layer(rng, return_sequences=True)
    x = rng.standard_normal((2, 5, 3))
    out, _, cache = layer.forward(x, keep=True)
    _, _, no_cache = layer.forward(x)
    with pytest.raises(ValueError, match=r"keep=True"):
        layer.backward(np.ones_like(out), None, no_cache)
    with pytest.raises(ValueError, match=r"d_outputs must have the outputs' shape \(2, 5, 4\)"):
        layer.backward(np.ones((2, 4)), None, cache)
    with pytest.raises(ValueError, match=r"d_states\[1\] \(c\) must have shape \(2, 4\)"):
        layer.backward(np.ones_like(out), [None, np.ones((2, 3))], cache)
    with pytest.raises(ValueError, match=r"3 arrays; the layer has 2 states"):
        layer.backward(np.ones_like(out), [None, None, None], cache)
    other = ln.LSTM(4, return_sequences=True)
    other.set_weights([np.zeros((6, 16)), np.zeros((4, 16)), np.zeros(16)])
    with pytest.raises(ValueError, match="does not match"):
        other.backward(np.ones_like(out), None, cache)


_PATH_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {root!r})
import lstm_np as ln
from tests.cells import make_cell_data, make_cell_layer
cfgs = json.loads(sys.argv[1])
out = {{}}
for k, cfg in enumerate(cfgs):
    w, x, m, s = make_cell_data(cfg["cell"], cfg)
    layer = make_cell_layer(cfg["cell"], cfg, return_sequences=True)
    layer.set_weights(w)
    o, st, cache = layer.forward(x, initial_state=s, mask=m, keep=True)
    rng = np.random.default_rng(k)
    g = layer.backward(rng.standard_normal(o.shape), list(rng.standard_normal(st.shape)), cache)
    for name, a in [("x", g["x"])] + list(enumerate(g["initial_state"] + g["weights"])):
        out[f"{{k}}_{{name}}"] = a
np.savez(sys.argv[2], jit=np.array(ln.JIT_ENABLED), **out)
"""


@pytest.mark.slow   # compiles the BPTT kernels (minutes); .ci/run runs it after the suite
@pytest.mark.skipif(not ln.HAVE_NUMBA, reason="numba not installed")
def test_jit_and_pure_paths_agree(tmp_path):
    """The same backward through numba and through plain NumPy, in two processes."""
    cfgs = []
    for k, (cell, dt, act, rec) in enumerate([("lstm", "float32", "tanh", "sigmoid"),
                                              ("lstm", "float64", "tanh", "hard_sigmoid"),
                                              ("lstm", "float32", "relu", "sigmoid"),
                                              ("lstm", "float64", "softsign", "sigmoid"),
                                              ("gru", "float32", "tanh", "sigmoid"),
                                              ("gru", "float64", "softsign", "hard_sigmoid"),
                                              ("gru_reset_before", "float32", "relu", "sigmoid"),
                                              ("gru_reset_before", "float64", "tanh", "sigmoid"),
                                              ("simple_rnn", "float32", "tanh", "sigmoid"),
                                              ("simple_rnn", "float64", "relu", "sigmoid")]):
        cfgs.append(dict(cell=cell, units=5, input_dim=3, batch=3, timesteps=9, activation=act,
                         recurrent_activation=rec, use_bias=k % 2 == 0,
                         go_backwards=k % 3 == 0, zero_output_for_mask=k == 2,
                         mask_kind="random", initial_state=True, weight_scale=1.0, dtype=dt,
                         return_sequences=True, seed=k))
    jitted, pure = run_on_both_paths(_PATH_SCRIPT, cfgs, tmp_path)
    for key, a in jitted.items():
        b = pure[key]
        assert a.dtype == b.dtype
        # Same operations, same order; libm vs NumPy's SIMD transcendentals differ by an ulp
        # or so, and BLAS may sum in another order for differently-laid-out operands.
        tol = 1e-5 if a.dtype == np.float32 else 1e-12
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale, err_msg=key)
