"""The GRU and SimpleRNN layers' Keras semantics and error messages (no Keras needed)."""
import numpy as np
import pytest

import lstm_np as ln

from . import naive

pytestmark = pytest.mark.numba   # layer behaviour (state, step, dtypes) on the compiled kernels

LAYERS = ["gru", "gru_reset_before", "simple_rnn"]


def make_layer(kind, rng, U=4, D=3, use_bias=True, **kw):
    if kind == "simple_rnn":
        layer = ln.SimpleRNN(U, use_bias=use_bias, **kw)
        shapes = [(D, U), (U, U), (U,)]
    else:
        reset_after = kind == "gru"
        layer = ln.GRU(U, reset_after=reset_after, use_bias=use_bias, **kw)
        shapes = [(D, 3 * U), (U, 3 * U), (2, 3 * U) if reset_after else (3 * U,)]
    layer.set_weights([rng.standard_normal(s) * 0.5 for s in shapes[:3 if use_bias else 2]])
    return layer


def oracle(kind, layer, x, **kw):
    w = layer.get_weights()
    bias = w[2] if layer.use_bias else None
    kw.setdefault("go_backwards", layer.go_backwards)
    kw.setdefault("zero_output_for_mask", layer.zero_output_for_mask)
    kw.setdefault("return_sequences", layer.return_sequences)
    if kind == "simple_rnn":
        return naive.simple_rnn(x, w[0], w[1], bias, activation_name=layer.activation, **kw)
    return naive.gru(x, w[0], w[1], bias, reset_after=layer.reset_after,
                     activation_name=layer.activation,
                     recurrent_activation_name=layer.recurrent_activation, **kw)


@pytest.mark.parametrize("kind, shapes, n_params", [
    ("gru", [(3, 12), (4, 12), (2, 12)], 3 * 12 + 4 * 12 + 24),
    ("gru_reset_before", [(3, 12), (4, 12), (12,)], 3 * 12 + 4 * 12 + 12),
    ("simple_rnn", [(3, 4), (4, 4), (4,)], 3 * 4 + 4 * 4 + 4),
])
def test_weights_round_trip_in_keras_shapes(kind, shapes, n_params, rng):
    layer = make_layer(kind, rng)
    assert [w.shape for w in layer.get_weights()] == shapes
    assert all(w.dtype == np.float32 for w in layer.get_weights())
    assert layer.count_params() == n_params
    assert layer.weight_shapes(3) == shapes


def test_defaults_and_config():
    gru = ln.GRU(3)
    assert gru.reset_after and gru.name == "gru"
    assert gru.get_config()["reset_after"] is True
    assert ln.GRU(3, reset_after=False).get_config()["reset_after"] is False
    rnn = ln.SimpleRNN(3)
    assert rnn.name == "simple_rnn" and rnn.activation == "tanh"
    assert "recurrent_activation" not in rnn.get_config()
    assert len(rnn.STATE_NAMES) == len(gru.STATE_NAMES) == 1


@pytest.mark.parametrize("kind", LAYERS)
def test_output_structure_is_output_then_h(kind, rng):
    x = rng.standard_normal((2, 5, 3))
    assert make_layer(kind, rng)(x).shape == (2, 4)
    assert make_layer(kind, rng, return_sequences=True)(x).shape == (2, 5, 4)
    out = make_layer(kind, rng, return_sequences=True, return_state=True)(x)
    assert [o.shape for o in out] == [(2, 5, 4), (2, 4)]
    np.testing.assert_array_equal(out[0][:, -1], out[1])


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_float64_is_computed_in_float64(kind, use_bias, rng):
    layer = make_layer(kind, rng, use_bias=use_bias, dtype="float64", return_sequences=True)
    x = rng.standard_normal((2, 30, 3))
    y = layer(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, oracle(kind, layer, x)[0], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kind", LAYERS)
def test_masks_follow_keras(kind, rng):
    """Post-padding: the last output is the last valid h; pre-padding: leading outputs are 0."""
    layer = make_layer(kind, rng, dtype="float64", return_sequences=True)
    x = rng.standard_normal((2, 6, 3))
    post = np.arange(6)[None, :] < np.array([[4], [6]])
    y = layer(x, mask=post)
    np.testing.assert_allclose(y[0, 3:], np.repeat(layer(x[:1, :4])[0, -1:], 3, axis=0),
                               rtol=1e-13, atol=1e-13)
    pre = post[:, ::-1]
    y = layer(x, mask=pre)
    np.testing.assert_array_equal(y[0, :2], 0.0)
    zero = make_layer(kind, rng, dtype="float64", return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_array_equal(zero(x, mask=post)[0, 4:], 0.0)


@pytest.mark.parametrize("kind", LAYERS)
def test_go_backwards_leaves_outputs_in_processing_order(kind, rng):
    fwd = make_layer(kind, rng, dtype="float64", return_sequences=True)
    bwd = make_layer(kind, rng, dtype="float64", return_sequences=True, go_backwards=True)
    bwd.set_weights(fwd.get_weights())
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_array_equal(bwd(x), fwd(x[:, ::-1]))


@pytest.mark.parametrize("kind", LAYERS)
def test_stateful_carries_state_across_calls_and_resets(kind, rng):
    layer = make_layer(kind, rng, stateful=True, return_sequences=True)
    x = rng.standard_normal((1, 6, 3)).astype(np.float32)
    whole = make_layer(kind, rng, return_sequences=True)
    whole.set_weights(layer.get_weights())
    full = whole(x)
    pieces = np.concatenate([layer(x[:, t:t + 1]) for t in range(6)], axis=1)
    np.testing.assert_allclose(pieces, full, rtol=1e-6, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(layer(x), full, rtol=1e-6, atol=1e-6)
    layer.reset_states([np.zeros((1, 4))])
    np.testing.assert_allclose(layer(x), full, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", LAYERS)
def test_explicit_initial_state_overrides_stored_state(kind, rng):
    layer = make_layer(kind, rng, stateful=True, return_state=True, dtype="float64")
    x = rng.standard_normal((2, 3, 3))
    layer(x)
    h0 = rng.standard_normal((2, 4))
    out, h = layer(x, initial_state=[h0])
    ref_out, ref_h = oracle(kind, layer, x, initial_state=[h0])
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(h, ref_h, rtol=1e-13, atol=1e-13)
    out2, _ = layer(x, initial_state=h0)   # a bare (B, U) array is the one state
    np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize("kind", LAYERS)
def test_step_streams_like_the_sequence(kind, rng):
    layer = make_layer(kind, rng, return_sequences=True)
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    seq = layer(x)
    hs = np.stack([layer.step(x[:, t]) for t in range(7)], axis=1)
    np.testing.assert_allclose(hs, seq, rtol=1e-6, atol=1e-6)


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match=r"bias must have shape \(2, 12\); received \(12,\)"):
        ln.GRU(4).set_weights([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)])
    with pytest.raises(ValueError, match=r"bias must have shape \(12,\); received \(2, 12\)"):
        ln.GRU(4, reset_after=False).set_weights(
            [np.zeros((3, 12)), np.zeros((4, 12)), np.zeros((2, 12))])
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape \(4, 4\); received \(4, 12\)"):
        ln.SimpleRNN(4).set_weights([np.zeros((3, 4)), np.zeros((4, 12)), np.zeros(4)])
    with pytest.raises(ValueError, match="expects 2 weight arrays.*received 3"):
        ln.GRU(4, use_bias=False).set_weights(
            [np.zeros((3, 12)), np.zeros((4, 12)), np.zeros((2, 12))])


@pytest.mark.parametrize("kind", LAYERS)
def test_bad_initial_state_is_named(kind, rng):
    layer = make_layer(kind, rng)
    with pytest.raises(ValueError, match=r"expects 1 state array\(s\) \['h'\]; received 2"):
        layer(np.zeros((2, 5, 3)), initial_state=[np.zeros((2, 4))] * 2)
    with pytest.raises(ValueError, match=r"initial_state h must have shape \(2, 4\); received \(2, 3\)"):
        layer(np.zeros((2, 5, 3)), initial_state=[np.zeros((2, 3))])


def test_arguments_accepted_and_refused():
    ln.GRU(3, dropout=0.5, recurrent_dropout=0.2, unroll=True, implementation=1,
           kernel_initializer="glorot_uniform", use_cudnn=False, seed=1)
    ln.SimpleRNN(3, dropout=0.5, recurrent_dropout=0.2, unroll=True, seed=1)
    with pytest.raises(TypeError, match=r"'simple_rnn'.*recurrent_activation"):
        ln.SimpleRNN(3, recurrent_activation="sigmoid")
    with pytest.raises(TypeError, match="unknown argument.*'reset_after'"):
        ln.SimpleRNN(3, reset_after=True)
    with pytest.raises(TypeError, match="unknown argument.*'reset_after'"):
        ln.LSTM(3, reset_after=True)
    with pytest.raises(ln.UnsupportedKerasFeature, match="softmax"):
        ln.GRU(3, recurrent_activation="softmax")
    with pytest.raises(ln.UnsupportedKerasFeature, match="time_major"):
        ln.SimpleRNN(3, time_major=True)


def test_hard_sigmoid_follows_keras_version_in_the_gru(rng):
    x = rng.standard_normal((2, 4, 3)) * 3
    k2 = make_layer("gru_reset_before", rng, recurrent_activation="hard_sigmoid",
                    keras_version=2, dtype="float64")
    k3 = make_layer("gru_reset_before", rng, recurrent_activation="hard_sigmoid",
                    keras_version=3, dtype="float64")
    k3.set_weights(k2.get_weights())
    np.testing.assert_allclose(k2(x), oracle("gru_reset_before", k2, x, keras_version=2)[0],
                               rtol=1e-13, atol=1e-13)
    assert not np.allclose(k2(x), k3(x))
