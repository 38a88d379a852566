"""Model-level gradients (``Model.gradients`` / ``Model.input_gradients``).

Against TF: small real Keras 3 models converted with ``from_keras``; the truth is
``tf.GradientTape`` on ``model(x, training=False)`` with the loss ``sum(y * d_out)``.
Tolerance per gradient tensor: ``max|ours - tf| <= 1e-5 * max|tf|`` (float32).
Without TF: a float64 central-difference check on a hand-built model, and the errors.
"""
import numpy as np
import pytest

import lstm_np as ln
from lstm_np import layers as C
from lstm_np.layers import Bidirectional, TimeDistributed

TOL32 = 1e-5


def _rel_err(ours, ref):
    ref = np.asarray(ref, np.float64)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(np.asarray(ours, np.float64) - ref))) if ref.size else 0.0
    return err / scale if scale > 0 else err


def _tf_grads(kmodel, x, d_out):
    import tensorflow as tf
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        if x.dtype.kind == "f":
            tape.watch(xt)
        y = kmodel(xt, training=False)
        loss = tf.reduce_sum(y * tf.constant(d_out))
    ws = kmodel.weights
    g = tape.gradient(loss, ([xt] if x.dtype.kind == "f" else []) + list(ws))
    gx = g[0].numpy() if x.dtype.kind == "f" else None
    gw = g[1:] if x.dtype.kind == "f" else g
    by_path = {w.path: (np.zeros(w.shape, np.float32) if gi is None else
                        (tf.convert_to_tensor(gi).numpy()))
               for w, gi in zip(ws, gw)}
    return np.asarray(y), gx, by_path


def _compare(kmodel, x, rng, check_saliency=False):
    model = ln.from_keras(kmodel)
    y_ref = np.asarray(kmodel(x, training=False))
    d_out = rng.standard_normal(y_ref.shape).astype(np.float32)
    ours = model.gradients(x, d_out)
    y_tf, gx_tf, gw_tf = _tf_grads(kmodel, x, d_out)
    errs = {}
    assert np.allclose(ours["outputs"], y_tf, atol=1e-5)
    if gx_tf is None:
        assert ours["inputs"] is None
    else:
        errs["x"] = _rel_err(ours["inputs"], gx_tf)
    for klayer in kmodel.layers:
        if not klayer.weights:
            continue
        got = ours["layers"][klayer.name]
        assert len(got) == len(klayer.weights)
        for w, g in zip(klayer.weights, got):
            assert g.shape == tuple(w.shape)
            errs[w.path] = _rel_err(g, gw_tf[w.path])
    flat = ours["weights"]
    assert [w.shape for w in flat] == [w.shape for w in model.get_weights()]
    if check_saliency:
        import tensorflow as tf
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = kmodel(xt, training=False)
            if len(y.shape) == 3:            # sequence output: its last timestep
                y = y[:, -1]
            cls = tf.argmax(y, axis=-1)
            picked = tf.reduce_sum(tf.gather(y, cls, axis=1, batch_dims=1))
        errs["saliency"] = _rel_err(model.input_gradients(x), tape.gradient(picked, xt).numpy())
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = kmodel(xt, training=False)
            picked = tf.reduce_sum(y[:, -1, 1] if len(y.shape) == 3 else y[:, 1])
        errs["saliency_cls1"] = _rel_err(model.input_gradients(x, class_index=1),
                                         tape.gradient(picked, xt).numpy())
    worst = max(errs.items(), key=lambda kv: kv[1])
    print(f"{kmodel.name}: max relative error {worst[1]:.2e} ({worst[0]})")
    assert worst[1] <= TOL32, errs
    return errs


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


@pytest.mark.keras
def test_char_lstm_dense_softmax(keras, rng):
    K = keras
    keras.utils.set_random_seed(1)
    m = K.Sequential([K.Input((7, 12)), K.layers.LSTM(16), K.layers.Dense(12, "softmax")],
                     name="char_lstm")
    x = np.eye(12, dtype=np.float32)[rng.integers(0, 12, (4, 7))]
    _compare(m, x, rng, check_saliency=True)


@pytest.mark.keras
def test_embedding_mask_zero_lstm_dense(keras, rng):
    K = keras
    keras.utils.set_random_seed(2)
    m = K.Sequential([K.Input((9,), dtype="int32"),
                      K.layers.Embedding(20, 6, mask_zero=True),
                      K.layers.LSTM(10, go_backwards=True),
                      K.layers.Dense(3, "sigmoid")], name="emb_lstm")
    ids = rng.integers(1, 20, (5, 9)).astype(np.int32)
    ids[0, :3] = 0
    ids[1, 6:] = 0
    ids[2, 4] = 0
    errs = _compare(m, ids, rng)
    assert "x" not in errs
    model = ln.from_keras(m)
    assert model.input_gradients(ids) is None


@pytest.mark.keras
def test_stacked_masking_timedistributed(keras, rng):
    K = keras
    keras.utils.set_random_seed(3)
    m = K.Sequential([K.Input((8, 5)), K.layers.Masking(0.0),
                      K.layers.LSTM(12, return_sequences=True),
                      K.layers.Dropout(0.3),
                      K.layers.LSTM(10, return_sequences=True, go_backwards=True),
                      K.layers.TimeDistributed(K.layers.Dense(6, "relu")),
                      K.layers.Dense(4), K.layers.Activation("softmax")], name="stacked")
    x = rng.standard_normal((4, 8, 5)).astype(np.float32)
    x[0, :2] = 0
    x[1, 5:] = 0
    _compare(m, x, rng, check_saliency=True)
    g = ln.from_keras(m).gradients(x, np.ones((4, 8, 4), np.float32))["inputs"]
    assert np.all(g[0, :2] == 0) and np.all(g[1, 5:] == 0)


@pytest.mark.keras
@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional(keras, rng, mode):
    K = keras
    keras.utils.set_random_seed(4)
    m = K.Sequential([K.Input((6, 4)), K.layers.Masking(0.0),
                      K.layers.Bidirectional(K.layers.LSTM(7, return_sequences=True),
                                             merge_mode=mode),
                      K.layers.Bidirectional(K.layers.LSTM(5), merge_mode=mode),
                      K.layers.Dense(3, "tanh")], name=f"bidi_{mode}")
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    x[2, 4:] = 0
    _compare(m, x, rng)


@pytest.mark.keras
def test_bidirectional_gru_masked(keras, rng):
    """Bidirectional GRU, both ``reset_after`` conventions, under a Masking mask."""
    K = keras
    keras.utils.set_random_seed(6)
    m = K.Sequential([K.Input((7, 4)), K.layers.Masking(0.0),
                      K.layers.Bidirectional(K.layers.GRU(6, return_sequences=True)),
                      K.layers.Bidirectional(K.layers.GRU(5, reset_after=False),
                                             merge_mode="sum"),
                      K.layers.Dense(3, "softmax")], name="bidi_gru")
    x = rng.standard_normal((3, 7, 4)).astype(np.float32)
    x[0, :2] = 0
    x[2, 5:] = 0
    _compare(m, x, rng, check_saliency=True)


@pytest.mark.keras
def test_stacked_gru_simple_rnn(keras, rng):
    """GRU -> SimpleRNN -> Dense, masked, one layer going backwards, the GRU's state fed on."""
    K = keras
    keras.utils.set_random_seed(7)
    inp = K.Input((8, 5))
    masked = K.layers.Masking(0.0)(inp)
    seq, h = K.layers.GRU(6, return_sequences=True, return_state=True, go_backwards=True)(masked)
    y = K.layers.SimpleRNN(6, return_sequences=True)(seq, initial_state=[h])
    y = K.layers.SimpleRNN(4, activation="relu")(y)
    m = K.Model(inp, K.layers.Dense(3)(y), name="gru_simple_rnn")
    x = rng.standard_normal((4, 8, 5)).astype(np.float32)
    x[1, 6:] = 0
    x[3, :3] = 0
    _compare(m, x, rng, check_saliency=True)


@pytest.mark.keras
def test_functional_states_and_merges(keras, rng):
    """return_state, initial_state tensors, Add / Subtract / Concatenate in a graph."""
    K = keras
    keras.utils.set_random_seed(5)
    inp = K.Input((6, 4))
    y, h, c = K.layers.LSTM(5, return_state=True)(inp)
    y2 = K.layers.LSTM(5)(inp, initial_state=[h, c])
    z = K.layers.Concatenate()([K.layers.Add()([y, y2]), K.layers.Subtract()([y, h])])
    m = K.Model(inp, K.layers.Dense(3, "softmax")(z), name="functional")
    _compare(m, rng.standard_normal((3, 6, 4)).astype(np.float32), rng, check_saliency=True)


# ----------------------------------------------------------------------------- no TF
_FD_RNNS = {   # (the Bidirectional's layer, the last recurrent layer)
    "lstm": (ln.LSTM, ln.LSTM),
    "gru": (ln.GRU, lambda u, **kw: ln.GRU(u, reset_after=False, **kw)),
    "simple_rnn": (ln.SimpleRNN, ln.SimpleRNN),
}


def _fd_model(rng, cell="lstm"):
    dt = "float64"
    T, D = 6, 3
    bidi_rnn, last_rnn = _FD_RNNS[cell]
    layers = [
        C.InputLayer(shape=(T, D), dtype=dt, name="x"),
        C.Masking(0.0, dtype=dt, name="masking"),
        Bidirectional(bidi_rnn(4, return_sequences=True, name="f", dtype=dt),
                      bidi_rnn(4, return_sequences=True, go_backwards=True, name="b",
                               dtype=dt),
                      merge_mode="mul", name="bidi"),
        TimeDistributed(C.Dense(5, "tanh", dtype=dt, name="td_dense"), name="td"),
        last_rnn(4, go_backwards=True, name="lstm", dtype=dt),
        C.Dense(3, "softmax", dtype=dt, name="out"),
    ]
    for layer in layers[2:]:
        if isinstance(layer, Bidirectional):
            ws = layer.forward_layer.weight_shapes(D) + layer.backward_layer.weight_shapes(D)
            layer.set_weights([rng.standard_normal(s) * 0.6 for s in ws])
    layers[3].set_weights([rng.standard_normal((4, 5)) * 0.6, rng.standard_normal(5) * 0.3])
    layers[4].set_weights([rng.standard_normal(s) * 0.6 for s in layers[4].weight_shapes(5)])
    layers[5].set_weights([rng.standard_normal((4, 3)), rng.standard_normal(3) * 0.3])
    nodes = [{"layer": "x", "args": None}] + [
        {"layer": la.name, "args": [k, 0]} for k, la in enumerate(layers[1:])]
    return ln.Model(layers, nodes, inputs=[[0, 0]], outputs=[len(layers) - 1, 0])


@pytest.mark.parametrize("cell", list(_FD_RNNS))
def test_finite_differences_float64(rng, cell):
    model = _fd_model(rng, cell)
    x = rng.standard_normal((3, 6, 3))
    x[1, :2] = 0
    x[2, 5] = 0
    d_out = rng.standard_normal((3, 3))
    g = model.gradients(x, d_out)

    def loss(xv=x):
        return float(np.sum(model(xv) * d_out))

    eps = 1e-6
    masked = ~np.any(x != 0, axis=-1)
    assert np.all(g["inputs"][masked] == 0)
    worst = 0.0
    for idx in np.ndindex(x.shape):
        if masked[idx[:2]]:
            continue
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd = (loss(xp) - loss(xm)) / (2 * eps)
        worst = max(worst, abs(fd - g["inputs"][idx]))
    weights = model.get_weights()
    for k, w in enumerate(weights):
        for flat in rng.choice(w.size, size=min(w.size, 6), replace=False):
            idx = np.unravel_index(flat, w.shape)
            vals = []
            for s in (eps, -eps):
                ws = [v.copy() for v in weights]
                ws[k][idx] += s
                _set_all(model, ws)
                vals.append(loss())
            _set_all(model, weights)
            fd = (vals[0] - vals[1]) / (2 * eps)
            worst = max(worst, abs(fd - g["weights"][k][idx]))
    scale = max(np.max(np.abs(a)) for a in [g["inputs"]] + g["weights"])
    print(f"finite differences (float64): max relative error {worst / scale:.2e}")
    assert worst <= 1e-7 * scale


def _set_all(model, weights):
    k = 0
    for layer in model.layers:
        n = len(layer.get_weights())
        if n:
            layer.set_weights(weights[k:k + n])
        k += n


def test_unsupported_layers_named():
    layers = [C.InputLayer(shape=(4, 3), name="x"), C.Flatten(name="flat"),
              C.Dense(2, name="d")]
    layers[2].set_weights([np.ones((12, 2), np.float32), np.zeros(2, np.float32)])
    nodes = [{"layer": "x", "args": None}, {"layer": "flat", "args": [0, 0]},
             {"layer": "d", "args": [1, 0]}]
    model = ln.Model(layers, nodes, [[0, 0]], [2, 0])
    x = np.ones((2, 4, 3), np.float32)
    with pytest.raises(NotImplementedError, match="'flat'.*Flatten"):
        model.gradients(x, np.ones((2, 2), np.float32))
