"""Call arguments recorded in Keras graphs are applied or refused, never dropped (issue 12).

* The Keras examples' video classifier: ``GRU(16, return_sequences=True)(frames,
  mask=mask_input)`` with a boolean model ``Input``. tf-keras records the node as
  ``[["frames", 0, 0, {"mask": ["mask", 0, 0]}]]`` (dropped before: the GRU ran unmasked),
  Keras 3 as ``{"args": [...], "kwargs": {"mask": <tensor>}}`` (refused before). Every route
  (live, ``.keras``, ``.h5``, ``.npz``) must give ``model.predict``; gradients honour it.
* ``training=True``, unknown keywords, ``constants``, a ``mask`` on a layer whose call has
  none: ``UnsupportedKerasFeature`` naming the layer and the keyword.
* Keras ops as outputs (``keras.activations.softmax(x)``) run; unsupported ones are refused
  with one reason on every route.
* A tf-keras Sequential whose first layer is a wrapper with ``input_shape``.
"""
import io
import json

import numpy as np
import pytest

import lstm_np as ln
from tests.keras_routes import check_routes, max_error, randomize, route_models

pytestmark = pytest.mark.keras

T, D = 6, 4


def _video_model(keras):
    """keras-io "Video Classification with a CNN-RNN Architecture", sequence model."""
    L = keras.layers
    frames = keras.Input((T, D), name="frames")
    mask = keras.Input((T,), dtype="bool", name="mask")
    x = L.GRU(16, return_sequences=True)(frames, mask=mask)
    x = L.GRU(8)(x)
    x = L.Dropout(0.4)(x)
    x = L.Dense(8, activation="relu")(x)
    out = L.Dense(3, activation="softmax")(x)
    return randomize(keras.Model([frames, mask], out), seed=4)


def _video_data(n=9, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, T)) < 0.6
    mask[0] = False            # no valid frame
    mask[1] = True
    mask[2] = np.arange(T) < 3   # post-padding, as the example's frame masks
    return [rng.normal(size=(n, T, D)).astype("float32"), mask]


@pytest.fixture(scope="module")
def video(K):
    keras, k2 = K
    return _video_model(keras), k2


def test_video_classifier_mask_input_every_route(video, tmp_path):
    model, k2 = video
    xs = _video_data()
    want = model.predict(xs, verbose=0)
    unmasked = model.predict([xs[0], np.ones_like(xs[1])], verbose=0)
    assert np.abs(want - unmasked).max() > 1e-2   # the mask matters here
    errors = check_routes(model, xs, tmp_path, "video", keras2=k2)
    assert set(errors) == ({"live", "h5", "npz"} if k2 else {"live", "keras", "h5", "npz"})


def test_video_classifier_graph_summary_and_npz(video, tmp_path):
    model, k2 = video
    ours = ln.from_keras(model)
    gru = [n for n in ours.nodes if n["layer"] == model.layers[2].name][0]
    assert ours.nodes[gru["mask"][0]]["layer"] == "mask"
    lines = []
    ours.summary(print_fn=lines.append)
    assert any("mask=mask[0][0]" in line for line in lines)
    path = tmp_path / "video.npz"
    ours.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["__lstm_np__"]))["format_version"] == 2
    again = ln.load(path)
    xs = _video_data(5, seed=1)
    np.testing.assert_array_equal(again.predict(xs), ours.predict(xs))


def test_video_classifier_gradients_honour_the_mask(keras3):
    """``Model.gradients`` vs ``tf.GradientTape`` (the mask reaches the backward pass; one
    Keras suffices: gradients read the same graph node whichever Keras wrote it)."""
    import tensorflow as tf
    model = _video_model(keras3)
    xs = _video_data(6, seed=2)
    ours = ln.from_keras(model)
    d_out = np.random.default_rng(3).normal(size=(6, 3)).astype("float32")
    g = ours.gradients(xs, d_out)
    x = tf.constant(xs[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(model([x, tf.constant(xs[1])], training=False) * d_out)
    gx, *gw = tape.gradient(loss, [x] + list(model.layers[2].weights))
    scale = float(np.abs(gx).max())
    assert np.abs(g["inputs"][0] - gx.numpy()).max() <= 1e-5 * scale
    for ours_w, tf_w in zip(g["layers"][model.layers[2].name], gw):
        assert np.abs(ours_w - tf_w.numpy()).max() <= 1e-5 * float(np.abs(tf_w).max())
    assert g["inputs"][1] is None   # a boolean mask input has no gradient


def test_explicit_mask_with_initial_state(K, tmp_path):
    """Keras 3 applies an explicit mask given with ``initial_state`` (it only skips filling in
    the input's own mask then); tf-keras too. The output mask is the explicit one."""
    keras, k2 = K
    L = keras.layers
    x, m, s = keras.Input((T, D)), keras.Input((T,), dtype="bool"), keras.Input((5,))
    y = L.GRU(5, return_sequences=True)(x, mask=m, initial_state=[s])
    model = randomize(keras.Model([x, m, s], L.LSTM(3)(y)), seed=5)
    rng = np.random.default_rng(6)
    xs = _video_data(7, seed=6) + [rng.normal(size=(7, 5)).astype("float32")]
    check_routes(model, xs, tmp_path, "mask_init", keras2=k2)


# ------------------------------------------------------------------ refused keywords
def _config_with(model, edit):
    cfg = json.loads(model.to_json())
    edit(cfg["config"]["layers"])
    return cfg


def _load_config(cfg, model, tmp_path, k2):
    """A ``.h5`` file of ``model`` whose model_config is ``cfg``."""
    import h5py
    path = tmp_path / "edited.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(cfg)
    return ln.load(path)


def _node_kwargs(layer_entry, k2):
    node = layer_entry["inbound_nodes"][0]
    return node[0][3] if k2 else node["kwargs"]


@pytest.mark.parametrize("keyword, value, match", [
    ("training", True, r"layer 'gru\w*' \(GRU\): call argument training=True"),
    ("bogus", 1, r"layer 'gru\w*' \(GRU\): call argument\(s\) \['bogus'\]"),
    ("constants", [1.0], r"layer 'gru\w*' \(GRU\): call argument\(s\) \['constants'\]"),
])
def test_unknown_or_unsupported_call_keywords_are_refused(video, tmp_path, keyword, value,
                                                          match):
    model, k2 = video

    def edit(layers):
        gru = [e for e in layers if e["class_name"] == "GRU"][0]
        _node_kwargs(gru, k2)[keyword] = value
    with pytest.raises(ln.UnsupportedKerasFeature, match=match):
        _load_config(_config_with(model, edit), model, tmp_path, k2)


def test_mask_on_a_layer_without_a_mask_argument_is_refused(video, tmp_path):
    model, k2 = video

    def edit(layers):
        dense = [e for e in layers if e["class_name"] == "Dense"][0]
        _node_kwargs(dense, k2)["mask"] = (["mask", 0, 0] if k2 else {
            "class_name": "__keras_tensor__",
            "config": {"shape": [None, T], "dtype": "bool", "keras_history": ["mask", 0, 0]}})
    with pytest.raises(ln.UnsupportedKerasFeature,
                       match=r"layer 'dense\w*' \(Dense\): call argument 'mask' is not "
                             r"supported"):
        _load_config(_config_with(model, edit), model, tmp_path, k2)


def test_training_true_recorded_by_keras_is_refused(K, tmp_path):
    """Monte-Carlo dropout, ``Dropout(0.5)(x, training=True)``: Keras samples dropout
    inside ``predict``, which lstm_np does not reproduce."""
    keras, k2 = K
    L = keras.layers
    x = keras.Input((T, D))
    model = keras.Model(x, L.LSTM(3)(L.Dropout(0.5)(x, training=True)))
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"'dropout.*training=True"):
        ln.from_keras(model)


# ------------------------------------------------------------------ ops as outputs
@pytest.fixture(scope="module")
def keras3():
    import keras
    return keras


def test_softmax_op_as_output_every_route(keras3, tmp_path):
    L = keras3.layers
    x = keras3.Input((T, D))
    h = L.LSTM(4, return_sequences=True)(L.Masking()(x))
    model = randomize(keras3.Model(x, keras3.activations.softmax(h)), seed=7)
    xs = _video_data(5)[0]
    xs[:2, :2] = 0.0   # masked steps: the Softmax op takes no mask (the layer would)
    check_routes(model, xs, tmp_path, "softmax_op")


def test_unsupported_op_one_reason_on_every_route(keras3, tmp_path):
    L = keras3.layers
    x = keras3.Input((T, D))
    y = L.Dense(2)(keras3.activations.relu(L.LSTM(4)(x), max_value=2.0))
    model = keras3.Model(x, y)
    reasons = set()
    for route in ("live", "keras", "h5"):
        with pytest.raises(ln.UnsupportedKerasFeature) as info:
            if route == "live":
                ln.from_keras(model)
            else:
                model.save(tmp_path / f"relu.{route}")
                ln.load(tmp_path / f"relu.{route}")
        msg = str(info.value)
        assert "Keras op ReLU ('re_lu') is not supported" in msg, msg
        reasons.add(msg[msg.index("Keras op"):])
    assert len(reasons) == 1, reasons
    out = keras3.Model(x, keras3.ops.tanh(L.LSTM(4)(x)))
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"Keras op Tanh \('tanh'\)"):
        ln.from_keras(out)


def test_comparison_op_mask_in_keras_archive(keras3, tmp_path):
    """A user's ``keras.ops.not_equal(ids, 0)`` as ``mask=`` (recorded as a NotEqual op
    node) through ``.keras`` and ``.h5``."""
    L = keras3.layers
    x, ids = keras3.Input((T, D)), keras3.Input((T,), dtype="int32")
    m = keras3.ops.logical_and(keras3.ops.not_equal(ids, 0), keras3.ops.any(
        keras3.ops.greater(x, -1.5), axis=-1))
    model = randomize(keras3.Model([x, ids], L.LSTM(3)(x, mask=m)), seed=8)
    xs, keep = _video_data(8)
    check_routes(model, [xs, np.where(keep, 3, 0).astype("int32")], tmp_path, "cmp")
    assert "ops" in repr(ln.from_keras(model))


# ------------------------------------------------------------ Sequential wrapper first
@pytest.mark.tf_keras
@pytest.mark.parametrize("first", ["bidirectional", "time_distributed"])
def test_keras2_sequential_starting_with_a_wrapper(tmp_path, first):
    """``model.add(Bidirectional(LSTM(64), input_shape=(T, D)))``: tf-keras writes the
    wrapper's ``batch_input_shape`` into its config (refused before)."""
    import tf_keras as keras
    L = keras.layers
    if first == "bidirectional":
        layers = [L.Bidirectional(L.LSTM(8), input_shape=(T, D)), L.Dense(3)]
    else:
        layers = [L.TimeDistributed(L.Dense(5), input_shape=(T, D)), L.LSTM(4)]
    model = randomize(keras.Sequential(layers), seed=9)
    x = _video_data(6)[0]
    check_routes(model, x, tmp_path, "seq_" + first, keras2=True)
    # without the InputLayer entry (tf.keras before 2.x serialised none): the wrapper's
    # batch_input_shape becomes the model's input
    cfg = json.loads(model.to_json())
    cfg["config"]["layers"] = cfg["config"]["layers"][1:]
    again = _load_config(cfg, model, tmp_path, True)
    assert again.input_shape == (None, T, D)
    assert max_error(again.predict(x), model.predict(x, verbose=0)) <= 1e-5


def test_declared_input_of_a_first_layer():
    from lstm_np.io.graph import _declared_input
    assert _declared_input({"batch_input_shape": [None, 5, 3], "dtype": "float64"}) == (
        [None, 5, 3], "float64")
    assert _declared_input({"input_shape": [5, 3], "batch_size": 2}) == ([2, 5, 3], "float32")
    assert _declared_input({"input_dim": 7, "dtype": "mixed_float16"}) == ([None, 7], "float32")
    assert _declared_input({"layer": {"config": {"batch_input_shape": [None, 4, 2]}}}) == (
        [None, 4, 2], "float32")
    assert _declared_input({"name": "x"}) == (None, None)


# ------------------------------------------------------------------ loading sources
def test_load_accepts_binary_files_and_bytes(video, tmp_path):
    model, k2 = video
    path = tmp_path / "v.h5"
    model.save(path)
    xs = _video_data(4)
    want = ln.load(path).predict(xs)
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(ln.load(fh).predict(xs), want)
    data = path.read_bytes()
    np.testing.assert_array_equal(ln.load(data).predict(xs), want)
    np.testing.assert_array_equal(ln.load(io.BytesIO(data)).predict(xs), want)
    ours = ln.from_keras(model)
    buf = io.BytesIO()
    ours.save(buf)
    np.testing.assert_array_equal(ln.load(buf.getvalue()).predict(xs), want)
    if not k2:
        model.save(tmp_path / "v.keras")
        with open(tmp_path / "v.keras", "rb") as fh:
            np.testing.assert_array_equal(ln.load(fh).predict(xs), want)
    with open(path) as text, pytest.raises(ln.ArgumentError, match="text mode"):
        ln.load(text)
    with pytest.raises(ln.LoadError, match=r"<5 bytes>: unknown file format"):
        ln.load(b"hello")


def test_route_models_share_one_graph(video, tmp_path):
    """Every route builds the same nodes (mask references included)."""
    model, k2 = video
    routes = route_models(model, tmp_path, "graph", keras2=k2)
    nodes = {name: m.nodes for name, m in routes.items()}
    first = next(iter(nodes.values()))
    for name, n in nodes.items():
        assert n == first, name
