"""The LSTM layer against real Keras ``model.predict`` on configurations drawn by hypothesis.

Truth is Keras: Keras 3 for the default semantics, tf-keras (Keras 2) for the Keras 2
``hard_sigmoid``. Tolerances (README, "Accuracy"): float32 max abs error <= 1e-5 at the default
weight scales for T <= 100, scaled by the output magnitude; float64 <= 1e-12.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lstm_np as ln

from .keras_builders import keras_floatx, keras_inputs, keras_rnn_model, log_errors
from .strategies import ACTIVATION_NAMES, make_data, rnn_configs

pytestmark = pytest.mark.keras

# float32: TF's Eigen sigmoid/tanh differ from ours by a few ulp per op, compounding over
# timesteps; 1e-5 covers T <= 100 at unit-scale weights. Saturating scales (weights ~3) make the
# recurrence more sensitive, so the bound scales with the output magnitude (rtol).
TOL = {"float32": dict(atol=1e-5, rtol=1e-5), "float64": dict(atol=1e-12, rtol=1e-12)}


def ours(cfg, weights, keras_version=3):
    layer = ln.LSTM(cfg["units"], activation=cfg["activation"],
                    recurrent_activation=cfg["recurrent_activation"], use_bias=cfg["use_bias"],
                    return_sequences=cfg["return_sequences"], return_state=True,
                    go_backwards=cfg["go_backwards"], stateful=cfg.get("stateful", False),
                    zero_output_for_mask=cfg["zero_output_for_mask"], dtype=cfg["dtype"],
                    keras_version=keras_version)
    layer.set_weights(weights)
    return layer


# TF's float64 gelu (erf form) is accurate to only ~4e-9, so float64 cases using it get 1e-8.
TOL_F64_GELU = dict(atol=1e-8, rtol=1e-8)


# Unbounded activations (exponential: h = o * exp(c) with c itself fed by exp) turn an ulp of
# absolute error in c into relative error in h; float32 outputs reach 1e5 and more there.
TOL_F32_UNBOUNDED = dict(atol=1e-5, rtol=1e-4)


def compare(cfg, expected, got, test_name, tol=None):
    assert len(got) == len(expected)
    tol = tol or TOL[cfg["dtype"]]
    if cfg["dtype"] == "float64" and "gelu" in (cfg["activation"], cfg["recurrent_activation"]):
        tol = TOL_F64_GELU
    for k, (e, g) in enumerate(zip(expected, got)):
        assert g.shape == e.shape and g.dtype == e.dtype, (k, g.shape, e.shape, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, **tol, err_msg=f"output {k}: {cfg}")
    log_errors(test_name, cfg, expected, got)


def keras_predict(cfg, weights, x, mask, states, keras_module=None):
    """Build the Keras model for ``cfg``, set ``weights`` and return ``model.predict``."""
    with keras_floatx(cfg["dtype"], keras_module):
        model, _ = keras_rnn_model(cfg, keras_module=keras_module)
        model.set_weights(weights)
        return model.predict(keras_inputs(cfg, x, mask, states), verbose=0, batch_size=len(x))


@given(rnn_configs(max_units=8, max_timesteps=12))
def test_lstm_matches_keras3_predict(cfg):
    weights, x, mask, states = make_data(cfg)
    expected = keras_predict(cfg, weights, x, mask, states)
    got = ours(cfg, weights)(x, initial_state=states, mask=mask)
    compare(cfg, expected, got, "keras3")


@settings(max_examples=10)
@given(rnn_configs(max_timesteps=100, dtypes=("float32",)).filter(lambda c: c["timesteps"] > 0),
       st.integers(60, 100))
def test_lstm_long_sequences_match_keras3(cfg, timesteps):
    """Default-scale weights (Keras's glorot-like scale ~1) over 60-100 steps."""
    cfg.update(timesteps=timesteps, weight_scale=1.0, activation="tanh",
               recurrent_activation="sigmoid")
    weights, x, mask, states = make_data(cfg)
    expected = keras_predict(cfg, weights, x, mask, states)
    compare(cfg, expected, ours(cfg, weights)(x, initial_state=states, mask=mask), "keras3-long")


@settings(max_examples=15)
@given(rnn_configs(activations=ACTIVATION_NAMES, max_timesteps=6))
def test_lstm_every_activation_matches_keras3(cfg):
    cfg["weight_scale"] = 0.5
    weights, x, mask, states = make_data(cfg)
    expected = keras_predict(cfg, weights, x, mask, states)
    if not all(np.all(np.abs(e) < 1e30) for e in expected):
        return  # an exploding unbounded recurrence: nothing meaningful to compare
    tol = TOL_F32_UNBOUNDED if cfg["dtype"] == "float32" else None
    compare(cfg, expected, ours(cfg, weights)(x, initial_state=states, mask=mask), "keras3-acts",
            tol)


@settings(max_examples=10)
@given(rnn_configs(max_timesteps=6, max_batch=3))
def test_stateful_lstm_matches_keras3_across_calls_and_reset(cfg):
    """predict carries the states across calls; reset_states() zeroes them (Keras 3)."""
    cfg.update(stateful=True, initial_state=False)
    weights, x, mask, _ = make_data(cfg)
    mine = ours(cfg, weights)
    with keras_floatx(cfg["dtype"]):
        model, layer = keras_rnn_model(cfg)
        model.set_weights(weights)
        for call in range(3):
            if call == 2:
                layer.reset_states()
                mine.reset_states()
            xc = x * (call + 1)
            expected = model.predict(keras_inputs(cfg, xc, mask, None), verbose=0,
                                     batch_size=len(x))
            compare(cfg, expected, mine(xc, mask=mask), "keras3-stateful")


@pytest.mark.tf_keras
@settings(max_examples=12)
@given(rnn_configs(activations=["hard_sigmoid", "sigmoid", "tanh"], max_timesteps=10),
       st.sampled_from(["hard_sigmoid", "sigmoid"]))
def test_lstm_matches_tf_keras_keras2_semantics(cfg, recurrent_activation):
    import tf_keras

    cfg["recurrent_activation"] = recurrent_activation
    weights, x, mask, states = make_data(cfg)
    expected = keras_predict(cfg, weights, x, mask, states, keras_module=tf_keras)
    got = ours(cfg, weights, keras_version=2)(x, initial_state=states, mask=mask)
    compare(cfg, expected, got, "tf_keras")


def test_keras3_lstm_correctness_golden_values():
    """keras/src/layers/rnn/lstm_test.py ``test_correctness``: Constant(0.01/0.02/0.03)."""
    import keras

    seq = np.arange(72).reshape(3, 6, 4).astype("float32")
    for kw, _ in [({}, None), ({"go_backwards": True}, None), ({"unit_forget_bias": False}, None)]:
        layer = keras.layers.LSTM(3, kernel_initializer=keras.initializers.Constant(0.01),
                                  recurrent_initializer=keras.initializers.Constant(0.02),
                                  bias_initializer=keras.initializers.Constant(0.03), **kw)
        expected = np.asarray(layer(seq))
        mine = ln.LSTM(3, **kw)
        mine.set_weights(layer.get_weights())
        np.testing.assert_allclose(mine(seq), expected, atol=1e-6)
