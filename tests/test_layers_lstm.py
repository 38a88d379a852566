"""The LSTM layer's Keras semantics and its error messages (no Keras needed)."""
import numpy as np
import pytest

import lstm_np as ln

from . import naive

pytestmark = pytest.mark.numba   # layer behaviour (state, step, dtypes) on the compiled kernels


def make_layer(rng, U=4, D=3, dtype="float32", **kw):
    layer = ln.LSTM(U, dtype=dtype, **kw)
    layer.set_weights([rng.standard_normal((D, 4 * U)) * 0.5,
                       rng.standard_normal((U, 4 * U)) * 0.5,
                       rng.standard_normal(4 * U) * 0.5])
    return layer


def test_weights_round_trip_in_keras_order(rng):
    layer = make_layer(rng)
    k, r, b = layer.get_weights()
    assert (k.shape, r.shape, b.shape) == ((3, 16), (4, 16), (16,))
    assert k.dtype == np.float32
    assert layer.count_params() == 3 * 16 + 4 * 16 + 16


def test_output_structure(rng):
    x = rng.standard_normal((2, 5, 3))
    assert make_layer(rng)(x).shape == (2, 4)
    assert make_layer(rng, return_sequences=True)(x).shape == (2, 5, 4)
    out = make_layer(rng, return_sequences=True, return_state=True)(x)
    assert [o.shape for o in out] == [(2, 5, 4), (2, 4), (2, 4)]
    np.testing.assert_array_equal(out[0][:, -1], out[1])


def test_stateful_carries_state_across_calls_and_resets(rng):
    layer = make_layer(rng, stateful=True, return_sequences=True)
    x = rng.standard_normal((1, 6, 3)).astype(np.float32)
    whole = make_layer(rng, return_sequences=True)
    whole.set_weights(layer.get_weights())
    full = whole(x)
    # one timestep per call, as in the stateful batch-size-1 tutorial
    pieces = np.concatenate([layer(x[:, t:t + 1]) for t in range(6)], axis=1)
    np.testing.assert_allclose(pieces, full, rtol=1e-6, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(layer(x), full, rtol=1e-6, atol=1e-6)


def test_stateful_batch_size_mismatch_is_an_error(rng):
    layer = make_layer(rng, stateful=True)
    layer(rng.standard_normal((2, 3, 3)))
    with pytest.raises(ValueError, match="batch size 2.*batch of 3"):
        layer(rng.standard_normal((3, 3, 3)))
    for _ in range(5):                   # issue 12: step() raised nothing and reset the state
        layer.step(rng.standard_normal((2, 3)))
    kept = layer.states[0].copy()
    with pytest.raises(ln.InputError, match="batch size 2.*batch of 3.*reset_states"):
        layer.step(np.zeros((3, 3)))
    np.testing.assert_array_equal(layer.states[0], kept)   # the stored state is untouched
    layer.reset_states()
    assert layer.step(np.zeros((3, 3))).shape == (3, 4)


def test_explicit_initial_state_overrides_stored_state(rng):
    layer = make_layer(rng, stateful=True, return_state=True)
    x = rng.standard_normal((2, 3, 3))
    layer(x)
    h0, c0 = np.zeros((2, 4)), np.zeros((2, 4))
    fresh = make_layer(rng, return_state=True)
    fresh.set_weights(layer.get_weights())
    for a, b in zip(layer(x, initial_state=[h0, c0]), fresh(x)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_step_streams_like_the_sequence(rng):
    layer = make_layer(rng, return_sequences=True)
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    seq = layer(x)
    hs = np.stack([layer.step(x[:, t]) for t in range(7)], axis=1)
    np.testing.assert_allclose(hs, seq, rtol=1e-6, atol=1e-6)


def test_float64_is_computed_in_float64(rng):
    layer = make_layer(rng, dtype="float64", return_sequences=True)
    x = rng.standard_normal((2, 30, 3))
    y = layer(x)
    assert y.dtype == np.float64
    k, r, b = layer.get_weights()
    ref, _, _ = naive.lstm(x, k, r, b, return_sequences=True)
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-13)


def test_integer_and_bool_inputs_are_cast_like_keras(rng):
    layer = make_layer(rng)
    x = rng.integers(0, 3, (2, 4, 3))
    np.testing.assert_array_equal(layer(x), layer(x.astype(np.float32)))


def test_fortran_ordered_and_strided_inputs(rng):
    layer = make_layer(rng, return_sequences=True)
    x = rng.standard_normal((3, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer(np.asfortranarray(x)), layer(x))
    np.testing.assert_array_equal(layer(x[:, ::2]), layer(np.ascontiguousarray(x[:, ::2])))


@pytest.mark.parametrize("shape, match", [
    ((2, 5), r"expects input of shape \(batch, timesteps, 3\); received \(2, 5\)"),
    ((2, 5, 4), r"expects input of shape \(batch, timesteps, 3\); received \(2, 5, 4\)"),
    ((2, 0, 3), r"at least one timestep"),
])
def test_bad_input_shape_is_named(rng, shape, match):
    with pytest.raises(ValueError, match=match):
        make_layer(rng)(np.zeros(shape))


def test_non_numeric_input_is_refused(rng):
    with pytest.raises(ValueError, match="must be numeric.*dtype <U1"):
        make_layer(rng)(np.full((1, 2, 3), "a"))
    with pytest.raises(ValueError, match="must be numeric.*dtype object"):
        make_layer(rng)(np.empty((1, 2, 3), dtype=object))


def test_bad_mask_is_named(rng):
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 5\).*received \(2, 4\)"):
        make_layer(rng)(np.zeros((2, 5, 3)), mask=np.ones((2, 4), bool))


def test_bad_weights_are_named():
    layer = ln.LSTM(4)
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape \(4, 16\); received \(4, 12\)"):
        layer.set_weights([np.zeros((3, 16)), np.zeros((4, 12)), np.zeros(16)])
    with pytest.raises(ValueError, match=r"bias must have shape \(16,\); received \(12,\)"):
        layer.set_weights([np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(12)])
    with pytest.raises(ValueError, match="expects 3 weight arrays.*received 2"):
        layer.set_weights([np.zeros((3, 16)), np.zeros((4, 16))])
    with pytest.raises(ValueError, match="no weights"):
        layer(np.zeros((1, 2, 3)))


def test_bad_initial_state_is_named(rng):
    layer = make_layer(rng)
    with pytest.raises(ValueError, match=r"initial_state c must have shape \(2, 4\); received \(2, 3\)"):
        layer(np.zeros((2, 5, 3)), initial_state=[np.zeros((2, 4)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"expects 2 state array\(s\)"):
        layer(np.zeros((2, 5, 3)), initial_state=[np.zeros((2, 4))])


def test_training_only_arguments_are_accepted_and_unknown_ones_refused():
    ln.LSTM(3, dropout=0.5, recurrent_dropout=0.2, unroll=True, unit_forget_bias=False,
            kernel_initializer="glorot_uniform", implementation=1)
    with pytest.raises(TypeError, match="unknown argument.*'bogus'"):
        ln.LSTM(3, bogus=1)
    with pytest.raises(ln.UnsupportedKerasFeature, match="time_major"):
        ln.LSTM(3, time_major=True)
