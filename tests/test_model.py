"""Model: predict structure, batching, errors, summary; random architectures vs Keras."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_np as ln
from lstm_np.layers import Add, Dense, InputLayer
from tests.keras_routes import TOL, max_error, randomize, route_models


def _two_input_model(rng):
    d1, d2 = Dense(3, name="d1", activation="relu"), Dense(3, name="d2")
    d1.set_weights([rng.standard_normal((2, 3)), rng.standard_normal(3)])
    d2.set_weights([rng.standard_normal((4, 3)), rng.standard_normal(3)])
    layers = [InputLayer(batch_shape=(None, 2), name="a"),
              InputLayer(batch_shape=(None, 4), name="b"), d1, d2, Add(name="add")]
    nodes = [{"layer": "a", "args": None}, {"layer": "b", "args": None},
             {"layer": "d1", "args": [0, 0]}, {"layer": "d2", "args": [1, 0]},
             {"layer": "add", "args": [[2, 0], [3, 0]]}]
    return ln.Model(layers, nodes, inputs=[[0, 0], [1, 0]],
                    outputs=[[4, 0], [2, 0]], name="two")


def test_inputs_as_list_or_dict_and_batching(rng):
    model = _two_input_model(rng)
    a, b = rng.standard_normal((70, 2)), rng.standard_normal((70, 4))
    out = model.predict([a, b])
    assert isinstance(out, list) and [o.shape for o in out] == [(70, 3), (70, 3)]
    assert all(o.dtype == np.float32 for o in out)
    for got, want in zip(model.predict({"b": b, "a": a}, batch_size=7), out):
        np.testing.assert_array_equal(got, want)


def test_input_errors_are_clear(rng):
    model = _two_input_model(rng)
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 4))
    with pytest.raises(ValueError, match="2 input"):
        model.predict([a])
    with pytest.raises(ValueError, match="missing input"):
        model.predict({"a": a})
    with pytest.raises(ValueError, match=r"input 'b' must have shape \(None, 4\)"):
        model.predict([a, b[:, :3]])
    with pytest.raises(ValueError, match="same number of samples"):
        model.predict([a, b[:4]])
    with pytest.raises(ValueError, match="numeric"):
        model.predict([a.astype(str), b])


def test_summary_lists_layers_shapes_and_params(rng):
    lines = []
    _two_input_model(rng).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "two"' in text
    assert "d1 (Dense)" in text and "(None, 3)" in text and "add (Add)" in text
    assert "Total params: 24" in text   # 2*3+3 + 4*3+3
    assert "d1[0][0], d2[0][0]" in text


# --------------------------------------------------------------------------- vs Keras
def test_keras_style_shapes_names_and_repr(rng):
    """``model.input_shape`` / ``output_shape`` / ``output_names`` as in Keras; the old
    ``output_shapes()`` (per node) still works; ``repr`` counts the rows ``summary()`` lists
    (a Sequential's input layer is not one)."""
    model = _two_input_model(rng)
    assert model.input_shape == [(None, 2), (None, 4)]
    assert model.output_shape == [(None, 3), (None, 3)]
    assert model.input_names == ["a", "b"] and model.output_names == ["add", "d1"]
    assert model.output_shapes()[4] == [(None, 3)]
    assert repr(model) == "<lstm_np.Model 'two': 5 layers>"
    import os
    alphabet = ln.load(os.path.join(os.path.dirname(ln.__file__), "data", "alphabet.keras"))
    rows = []
    alphabet.summary(print_fn=rows.append)
    listed = [r for r in rows if r.split(" (")[0] in [la.name for la in alphabet.layers]]
    assert len(listed) == 3 and repr(alphabet) == "<lstm_np.Model 'alphabet': 3 layers>"
    assert alphabet.input_shape == (None, 5, 1) and alphabet.output_shape == (None, 26)


def _arch(draw, L, with_embedding):
    """Draw a list of Keras layers for a Sequential model, tracking the tensor rank."""
    layers, rank = [], 3
    if with_embedding:
        layers.append(L.Embedding(9, draw(st.integers(2, 4)), mask_zero=draw(st.booleans())))
    elif draw(st.booleans()):
        layers.append(L.Masking(0.0))
    for _ in range(draw(st.integers(1, 3))):
        if rank == 3:
            choice = draw(st.sampled_from(["lstm", "bidi", "dense", "td", "drop", "act",
                                           "to2", "to2"]))
        else:
            choice = draw(st.sampled_from(["dense", "repeat", "drop", "act"]))
        units = draw(st.integers(1, 4))
        if choice == "lstm":
            layers.append(L.LSTM(units, return_sequences=True,
                                 go_backwards=draw(st.booleans()),
                                 recurrent_activation=draw(st.sampled_from(
                                     ["sigmoid", "hard_sigmoid", "tanh"]))))
        elif choice == "bidi":
            layers.append(L.Bidirectional(L.LSTM(units, return_sequences=True),
                                          merge_mode=draw(st.sampled_from(
                                              ["concat", "sum", "mul", "ave"]))))
        elif choice == "dense":
            layers.append(L.Dense(units, activation=draw(st.sampled_from(
                [None, "relu", "tanh", "softmax", "elu", "selu", "hard_sigmoid"]))))
        elif choice == "td":
            layers.append(L.TimeDistributed(L.Dense(units)))
        elif choice == "drop":
            layers.append(draw(st.sampled_from([L.Dropout(0.3), L.GaussianNoise(0.2),
                                                L.GaussianDropout(0.2), L.AlphaDropout(0.1)])))
        elif choice == "act":
            layers.append(L.Activation(draw(st.sampled_from(["tanh", "softmax", "swish"]))))
        elif choice == "repeat":
            layers.append(L.RepeatVector(draw(st.integers(1, 3))))
            rank = 3
        else:
            layers.append(draw(st.sampled_from([
                L.LSTM(units), L.Bidirectional(L.LSTM(units), merge_mode="concat"),
                L.Flatten()])))
            rank = 2
    return layers


@pytest.mark.keras
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_random_sequential_models_match_keras(data, tmp_path_factory):
    import keras
    L = keras.layers
    emb = data.draw(st.booleans(), label="embedding")
    t = data.draw(st.integers(1, 5), label="timesteps")
    d = data.draw(st.integers(1, 3), label="features")
    inp = keras.Input((t,)) if emb else keras.Input((t, d))
    model = keras.Sequential([inp] + _arch(data.draw, L, emb))
    randomize(model, seed=data.draw(st.integers(0, 1000), label="seed"))
    rng = np.random.default_rng(0)
    if emb:
        x = rng.integers(0, 9, (6, t)).astype("float32")
        x[:2, :1] = 0
    else:
        x = rng.standard_normal((6, t, d)).astype("float32")
        x[:2, :1] = 0   # masked leading steps when Masking is present
    want = model.predict(x, verbose=0)
    for route, ours in route_models(model, tmp_path_factory.mktemp("hyp"), "m").items():
        assert max_error(ours.predict(x), want) <= TOL, route


@pytest.mark.keras
def test_remaining_layers_match_keras(tmp_path):
    """Reshape, Permute, Softmax, SpatialDropout1D and the elementwise merges."""
    import keras
    L = keras.layers
    rng = np.random.default_rng(1)
    a, b = keras.Input((4, 6)), keras.Input((4, 6))
    s = L.SpatialDropout1D(0.3)(a)
    r = L.Reshape((6, 4))(s)
    p = L.Permute((2, 1))(r)
    sm = L.Softmax(axis=1)(b)
    merges = [M()([p, sm, b]) for M in (L.Multiply, L.Average, L.Maximum, L.Minimum)]
    y = L.LSTM(3, return_sequences=True)(L.Concatenate(axis=1)(merges))
    out = L.Reshape((-1,))(L.Dense(2, activation="log_softmax")(y))
    model = randomize(keras.Model([a, b], [out, L.Softmax()(y)] + merges[:2]), seed=4)
    x = [rng.standard_normal((5, 4, 6)).astype("float32") for _ in range(2)]
    want = model.predict(x, verbose=0)
    for route, ours in route_models(model, tmp_path, "misc").items():
        assert max_error(ours.predict(x), want) <= TOL, route
