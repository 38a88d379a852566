"""GRU and SimpleRNN against real Keras 3 (and tf-keras for Keras 2 semantics).

Hypothesis draws a configuration; a Keras functional model is built with ``Masking`` (masked
timesteps are zeroed and ``mask_value=0``) or, with ``initial_state`` Inputs, an explicit boolean
mask Input (see :func:`keras_outputs` for why), and the layer; the weights
are set, and ``model.predict`` is compared with lstm_np (under ``keras_floatx``: ``predict``
casts float inputs to ``floatx``). Tolerances, on ``|ours - keras| / max(1, |keras|)``:
float32 ``1e-5`` (TF's Eigen sigmoid/tanh are approximations, and the one-GEMM input
projection rounds differently, so float32 agrees to a few ulps per step); float64 ``1e-12``.

Run with ``-s`` to see the largest differences observed per cell and dtype.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lstm_np as ln

from .keras_builders import keras_floatx
from .strategies import BOUNDED, make_mask

pytestmark = pytest.mark.keras

TOL = {"float32": 1e-5, "float64": 1e-12}
CELLS = ["gru", "gru_reset_before", "simple_rnn"]
MAX_ERR = {}   # (cell, dtype, keras) -> largest (|lstm_np - keras|, scaled) seen
N_EXAMPLES = {}
EXAMPLES = int(os.environ.get("LSTM_NP_PARITY_EXAMPLES", "20"))


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    for key in sorted(MAX_ERR):
        abs_err, scaled = MAX_ERR[key]
        print(f"\n{key}: max |lstm_np - keras| {abs_err:.3g}, scaled by max(1, |keras|) "
              f"{scaled:.3g}, over {N_EXAMPLES[key]} examples")


def _keras(version):
    if version == 2:
        import tf_keras as keras
    else:
        import keras
    return keras


# Recurrent activations with values in [0, 1]: the GRU update h = z h + (1 - z) hh is then a
# convex combination. Others (tanh, softsign, hard_tanh) make it expansive, and float32/float64
# rounding grows ~2x per step in Keras and in lstm_np alike; those run on short sequences.
GATE_LIKE = {"sigmoid", "hard_sigmoid", "sparse_sigmoid"}


@st.composite
def parity_configs(draw, cells=tuple(CELLS), activations=BOUNDED):
    cell = draw(st.sampled_from(cells))
    recurrent_activation = draw(st.sampled_from(activations))
    long_ok = cell == "simple_rnn" or recurrent_activation in GATE_LIKE
    return dict(
        cell=cell,
        units=draw(st.integers(1, 8)),
        input_dim=draw(st.integers(1, 5)),
        batch=draw(st.integers(1, 3)),
        timesteps=draw(st.one_of(st.integers(1, 8), st.integers(9, 100)) if long_ok
                       else st.integers(1, 8)),
        activation=draw(st.sampled_from(activations)),
        recurrent_activation=recurrent_activation,
        use_bias=draw(st.booleans()),
        return_sequences=draw(st.booleans()),
        return_state=draw(st.booleans()),
        go_backwards=draw(st.booleans()),
        zero_output_for_mask=draw(st.booleans()),
        stateful=draw(st.booleans()),
        mask_kind=draw(st.sampled_from(["none", "pre", "post", "random", "all_masked_row"])),
        initial_state=draw(st.booleans()),
        weight_scale=draw(st.sampled_from([0.1, 0.5, 1.0])),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def make_arrays(cfg):
    """Weights in Keras shapes, a Masking-compatible input (masked steps zeroed), the mask
    and an initial state."""
    rng = np.random.default_rng(cfg["seed"])
    dt = cfg["dtype"]
    U, D, B, T, s = cfg["units"], cfg["input_dim"], cfg["batch"], cfg["timesteps"], cfg["weight_scale"]
    G = U if cfg["cell"] == "simple_rnn" else 3 * U
    weights = [rng.standard_normal((D, G)) * s / np.sqrt(D),
               rng.standard_normal((U, G)) * s / np.sqrt(U)]
    if cfg["use_bias"]:
        weights.append(rng.standard_normal((2, G) if cfg["cell"] == "gru" else G) * s)
    weights = [w.astype(dt) for w in weights]
    x = rng.standard_normal((B, T, D)).astype(dt)
    mask = make_mask(cfg["mask_kind"], B, T, rng)
    if mask is not None:
        x[~mask] = 0.0
    h0 = (rng.standard_normal((B, U)) * 0.5).astype(dt) if cfg["initial_state"] else None
    return weights, x, mask, h0


def layer_kwargs(cfg):
    kw = dict(activation=cfg["activation"], use_bias=cfg["use_bias"],
              return_sequences=cfg["return_sequences"], return_state=cfg["return_state"],
              go_backwards=cfg["go_backwards"], stateful=cfg["stateful"],
              zero_output_for_mask=cfg["zero_output_for_mask"], dtype=cfg["dtype"])
    if cfg["cell"] != "simple_rnn":
        kw.update(recurrent_activation=cfg["recurrent_activation"],
                  reset_after=cfg["cell"] == "gru")
    return kw


def keras_outputs(cfg, weights, xs, masks, h0, version=3):
    """Keras's outputs for each chunk in ``xs`` (successive predict calls: stateful carries).

    With ``initial_state`` tensors the mask is an explicit Input: Keras 3 ``Layer.__call__``
    fills ``mask`` from the upstream layer only when the call has exactly one tensor argument
    (``layers/layer.py``, "Populate mask argument(s)"), so ``rnn(masked, initial_state=[h])``
    silently drops a ``Masking`` mask.
    """
    keras = _keras(version)
    B, _, D = xs[0].shape
    cls = keras.layers.SimpleRNN if cfg["cell"] == "simple_rnn" else keras.layers.GRU
    inp = keras.Input(batch_shape=(B, None, D), dtype=cfg["dtype"])
    layer = cls(cfg["units"], **layer_kwargs(cfg))
    inputs = [inp]
    explicit_mask = h0 is not None and masks[0] is not None
    if h0 is not None:
        h_in = keras.Input(batch_shape=(B, cfg["units"]), dtype=cfg["dtype"])
        inputs.append(h_in)
        if explicit_mask:
            m_in = keras.Input(batch_shape=(B, None), dtype="bool")
            inputs.append(m_in)
            out = layer(inp, initial_state=[h_in], mask=m_in)
        else:
            out = layer(inp, initial_state=[h_in])
    else:
        out = layer(keras.layers.Masking(mask_value=0.0, dtype=cfg["dtype"])(inp))
    model = keras.Model(inputs, out)
    layer.set_weights(weights)
    results = []
    for x, m in zip(xs, masks):
        feed = [x] if h0 is None else ([x, h0, m] if explicit_mask else [x, h0])
        res = model.predict(feed, batch_size=B, verbose=0)
        results.append(list(res) if isinstance(res, (list, tuple)) else [res])
    return results


def ours_outputs(cfg, weights, xs, masks, h0, keras_version=3):
    layer_cls = ln.SimpleRNN if cfg["cell"] == "simple_rnn" else ln.GRU
    layer = layer_cls(cfg["units"], keras_version=keras_version, **layer_kwargs(cfg))
    layer.set_weights(weights)
    results = []
    for x, m in zip(xs, masks):
        res = layer(x, initial_state=None if h0 is None else [h0], mask=m)
        results.append(list(res) if isinstance(res, list) else [res])
    return results


def compare(cfg, weights, x, mask, h0, version=3):
    # stateful: two predict calls on two halves of the sequence; states carry across them.
    if cfg["stateful"] and x.shape[1] >= 2:
        cut = x.shape[1] // 2
        xs = [x[:, :cut], x[:, cut:]]
        masks = [None, None] if mask is None else [mask[:, :cut], mask[:, cut:]]
    else:
        xs, masks = [x], [mask]
    with keras_floatx(cfg["dtype"], _keras(version)):
        ref = keras_outputs(cfg, weights, xs, masks, h0, version)
    ours = ours_outputs(cfg, weights, xs, masks, h0, keras_version=version)
    key = (cfg["cell"], cfg["dtype"], f"keras{version}")
    abs_err = scaled = 0.0
    for r_chunk, o_chunk in zip(ref, ours):
        assert len(r_chunk) == len(o_chunk)
        for r, o in zip(r_chunk, o_chunk):
            assert o.shape == r.shape and o.dtype == np.dtype(cfg["dtype"]), (o.shape, r.shape)
            d = np.abs(o.astype(np.float64) - r)
            abs_err = max(abs_err, float(d.max()))
            scaled = max(scaled, float((d / np.maximum(1.0, np.abs(r))).max()))
    old = MAX_ERR.get(key, (0.0, 0.0))
    MAX_ERR[key] = (max(old[0], abs_err), max(old[1], scaled))
    N_EXAMPLES[key] = N_EXAMPLES.get(key, 0) + 1
    if scaled > TOL[cfg["dtype"]] and cfg["dtype"] == "float32":
        # An expansive recurrence (e.g. a GRU whose update gate uses tanh, so z in (-1, 1) and
        # h = z h + (1 - z) hh is no convex combination) amplifies float32 rounding ~2x per
        # step in Keras and in lstm_np alike. Then judge both against the exact answer (our
        # float64 path, itself checked against Keras float64 to 1e-12): ours must be as
        # close to it as Keras's own float32 result is, within a factor of 4.
        exact = ours_outputs(dict(cfg, dtype="float64"), [w.astype(np.float64) for w in weights],
                             [c.astype(np.float64) for c in xs], masks,
                             None if h0 is None else h0.astype(np.float64), keras_version=version)
        for r_chunk, o_chunk, e_chunk in zip(ref, ours, exact):
            for r, o, e in zip(r_chunk, o_chunk, e_chunk):
                keras_err = float(np.abs(r - e).max())
                ours_err = float(np.abs(o.astype(np.float64) - e).max())
                assert ours_err <= 4 * keras_err + TOL["float32"], (
                    f"ours {ours_err:.3g} from exact vs Keras {keras_err:.3g}, for {cfg}")
        return
    assert scaled <= TOL[cfg["dtype"]], f"max error {abs_err:.3g} (scaled {scaled:.3g}) for {cfg}"


@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_matches_keras3(cell, data):
    cfg = data.draw(parity_configs(cells=(cell,)))
    compare(cfg, *make_arrays(cfg))


@pytest.mark.tf_keras
@pytest.mark.parametrize("cell", ["gru", "gru_reset_before", "simple_rnn"])
@settings(max_examples=max(EXAMPLES // 2, 1))
@given(data=st.data())
def test_matches_tf_keras_with_hard_sigmoid(cell, data):
    """Keras 2: ``hard_sigmoid`` is ``clip(0.2 x + 0.5, 0, 1)``; GRU default and reset_after=False."""
    cfg = data.draw(parity_configs(cells=(cell,), activations=["tanh", "hard_sigmoid"]))
    if cell != "simple_rnn":
        cfg["recurrent_activation"] = "hard_sigmoid"
    # Keras 2 uses an explicit initial_state on a stateful layer only while the stored states
    # are all zero (base_rnn.py); lstm_np follows Keras 3, where it always overrides.
    cfg["stateful"] = cfg["stateful"] and not cfg["initial_state"]
    compare(cfg, *make_arrays(cfg), version=2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_sequence_matches_keras3(dtype):
    """T = 100 at default scales (Keras initialisers' magnitude) stays within tolerance."""
    for cell in CELLS:
        cfg = dict(cell=cell, units=16, input_dim=8, batch=4, timesteps=100, activation="tanh",
                   recurrent_activation="sigmoid", use_bias=True, return_sequences=True,
                   return_state=True, go_backwards=False, zero_output_for_mask=False,
                   stateful=False, mask_kind="post", initial_state=False, weight_scale=1.0,
                   dtype=dtype, seed=3)
        compare(cfg, *make_arrays(cfg))
