"""``StackedRNN`` without TensorFlow, against the naive oracle running Keras's one time loop.

Keras's ``StackedRNNCells`` steps every cell inside a single loop and carries all states
together at masked steps; lstm_np runs the cells one after the other as full-sequence
layers. The oracle below is the single loop (``tests/naive.py`` ``_run`` around a cell that
calls each cell in turn, as ``StackedRNNCells.call``), so agreement checks that the two are
the same computation with masks (a fully masked row included), ``go_backwards``,
``zero_output_for_mask`` and ``initial_state``. The Keras-backed proof is
``tests/test_rnn_cells.py``.
"""
import numpy as np
import pytest

import lstm_np as ln
from lstm_np.io.registry import build_layer
from lstm_np.layers import StackedRNN
from tests import naive

B, T, D = 4, 6, 3


def _cells(dtype):
    return [ln.LSTM(3, recurrent_activation="hard_sigmoid", dtype=dtype, name="a"),
            ln.GRU(2, reset_after=False, activation="softsign", dtype=dtype, name="b"),
            ln.SimpleRNN(4, use_bias=False, activation="relu", dtype=dtype, name="c"),
            ln.GRU(3, dtype=dtype, name="d")]


def _weights(cells, rng):
    out, d = [], D
    for c in cells:
        out += [rng.standard_normal(s) * 0.6 for s in c.weight_shapes(d)]
        d = c.units
    return out


def _oracle(cells, weights, x, mask, init, go_backwards, zero_output_for_mask,
            return_sequences):
    per, k = [], 0
    for c in cells:
        n = 3 if c.use_bias else 2
        per.append(weights[k:k + n] + [None] * (3 - n))
        k += n

    def step(x_t, states):
        new, inp, s = [], x_t, 0
        for c, (W, R, b) in zip(cells, per):
            act = naive.activation(c.activation)
            if isinstance(c, ln.LSTM):
                h, cc = naive.lstm_cell(inp, states[s], states[s + 1], W, R,
                                        np.zeros(W.shape[1]) if b is None else b, act,
                                        naive.activation(c.recurrent_activation))
                new += [h, cc]
                s += 2
            elif isinstance(c, ln.GRU):
                h = naive.gru_cell(inp, states[s], W, R, b, act,
                                   naive.activation(c.recurrent_activation), c.reset_after)
                new.append(h)
                s += 1
            else:
                h = inp @ W + (0 if b is None else b)
                h = act(h + states[s] @ R)
                new.append(h)
                s += 1
            inp = h
        return inp, new

    if init is None:
        init = [np.zeros((B, c.units)) for c in cells for _ in c.STATE_NAMES]
    return naive._run(step, x, init, mask, go_backwards, zero_output_for_mask,
                      return_sequences, np.float64)


@pytest.mark.parametrize("go_backwards, zero_output, sequences, with_init", [
    (False, False, True, False),
    (True, False, True, True),
    (True, True, False, False),
    (False, True, True, True),
])
def test_stacked_matches_one_time_loop(go_backwards, zero_output, sequences, with_init):
    rng = np.random.default_rng(int(go_backwards) * 4 + int(zero_output) * 2 + int(with_init))
    cells = _cells("float64")
    layer = StackedRNN(cells, return_sequences=sequences, return_state=True,
                       go_backwards=go_backwards, zero_output_for_mask=zero_output)
    weights = _weights(cells, rng)
    layer.set_weights(weights)
    x = rng.standard_normal((B, T, D))
    mask = rng.random((B, T)) < 0.6
    mask[0] = False                  # fully masked row: outputs are zeros, states initial
    mask[1] = True
    init = ([rng.standard_normal((B, u)) * 0.5 for u in layer.state_units]
            if with_init else None)
    got = layer(x, initial_state=init, mask=mask)
    want_y, want_states = _oracle(cells, weights, x, mask, init, go_backwards, zero_output,
                                  sequences)
    assert len(got) == 1 + len(want_states) == 6
    np.testing.assert_allclose(got[0], want_y, rtol=1e-12, atol=1e-12)
    for g, w in zip(got[1:], want_states):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_stacked_config_round_trip_and_weights():
    rng = np.random.default_rng(1)
    layer = StackedRNN(_cells("float32"), return_sequences=True, go_backwards=True,
                       name="stack")
    layer.set_weights(_weights(layer.cells, rng))
    again = build_layer({"class_name": layer.class_name, "config": layer.get_config()})
    assert isinstance(again, StackedRNN) and again.get_config() == layer.get_config()
    again.set_weights(layer.get_weights())
    x = rng.standard_normal((2, T, D)).astype("float32")
    np.testing.assert_array_equal(again(x), layer(x))
    assert layer.output_shapes((None, T, D)) == [(None, T, 3)]
    assert layer.count_params() == sum(w.size for w in layer.get_weights())
    with pytest.raises(ValueError, match="expected 11 weight arrays"):
        layer.set_weights(layer.get_weights()[:-1])
    with pytest.raises(ValueError, match="initial_state expects 5 state arrays"):
        layer(x, initial_state=[np.zeros((2, 3))])


def test_stateful_stacked_in_a_model():
    """States carry across predict calls; reset_states zeroes every cell's."""
    from lstm_np.layers import InputLayer
    rng = np.random.default_rng(2)
    cells = _cells("float32")[:2]
    layer = StackedRNN(cells, stateful=True, name="stack")
    layer.set_weights(_weights(cells, rng))
    model = ln.Model([InputLayer(batch_shape=[2, T, D], name="x"), layer],
                     [{"layer": "x", "args": None, "initial_state": None},
                      {"layer": "stack", "args": [0, 0], "initial_state": None}],
                     [[0, 0]], [1, 0])
    x = rng.standard_normal((2, T, D)).astype("float32")
    first = model.predict(x)
    second = model.predict(x)
    fresh = StackedRNN(_cells("float32")[:2])
    fresh.set_weights(layer.get_weights())
    np.testing.assert_allclose(first, fresh(x), atol=1e-6)
    np.testing.assert_allclose(second, fresh(np.concatenate([x, x], 1)), atol=1e-6)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x), first, atol=1e-6)
