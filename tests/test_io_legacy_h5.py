"""Legacy .h5 files: Keras 2 CuDNNLSTM / CuDNNGRU weights, weights-only files, refusals."""
import json

import h5py
import numpy as np
import pytest

import lstm_np as ln
from lstm_np.io.registry import convert_cudnn_gru_weights, convert_cudnn_lstm_weights
from tests.keras_routes import TOL, fit_briefly, max_error


def to_cudnn_lstm_weights(kernel, recurrent, bias):
    """Canonical LSTM -> CuDNNLSTM layout: tf-keras ``convert_lstm_weights(from_cudnn=False)``."""
    k = np.hstack([g.T.reshape(g.shape, order="C") for g in np.hsplit(kernel, 4)])
    r = np.hstack([g.T for g in np.hsplit(recurrent, 4)])
    # a cuDNN bias is [input biases; recurrent biases]; any split summing to b is valid
    rng = np.random.default_rng(0)
    half = rng.standard_normal(bias.shape).astype(bias.dtype)
    return k, r, np.concatenate([half, bias - half])


def test_cudnn_conversion_round_trips(rng):
    kernel = rng.standard_normal((3, 20)).astype("float32")
    recurrent = rng.standard_normal((5, 20)).astype("float32")
    bias = rng.standard_normal(20).astype("float32")
    back = convert_cudnn_lstm_weights(to_cudnn_lstm_weights(kernel, recurrent, bias))
    np.testing.assert_array_equal(back[0], kernel)
    np.testing.assert_array_equal(back[1], recurrent)
    np.testing.assert_allclose(back[2], bias, atol=1e-6)


_CUDNN_KEYS = {"units", "kernel_initializer", "recurrent_initializer", "bias_initializer",
               "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
               "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "recurrent_constraint", "bias_constraint", "return_sequences", "return_state",
               "go_backwards", "stateful", "name", "trainable", "dtype", "batch_input_shape"}


@pytest.mark.keras
@pytest.mark.tf_keras
def test_cudnn_lstm_h5_synthesized_from_keras2(tmp_path):
    """TF 2.21 cannot create CuDNNLSTM: rewrite a tf-keras LSTM .h5 into the CuDNNLSTM
    layout (class name, config keys, weights) and check it predicts as the original."""
    import tf_keras as keras
    L = keras.layers
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((6, 3)), L.LSTM(5, return_sequences=True),
                              L.Bidirectional(L.LSTM(4)), L.Dense(2)])
    x = rng.random((10, 6, 3)).astype("float32")
    fit_briefly(model, x, rng.random((10, 2)))
    path = str(tmp_path / "cudnn.h5")
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        for entry in layers:
            inner = [entry] if entry["class_name"] == "LSTM" else (
                [entry["config"]["layer"]] + ([entry["config"]["backward_layer"]]
                                              if "backward_layer" in entry["config"] else [])
                if entry["class_name"] == "Bidirectional" else [])
            for e in inner:
                e["class_name"] = "CuDNNLSTM"
                e["config"] = {k: v for k, v in e["config"].items() if k in _CUDNN_KEYS}
        f.attrs["model_config"] = json.dumps(config)
        for name in ("lstm", "bidirectional"):
            lname = [e["config"]["name"] for e in layers
                     if e["config"]["name"].startswith(name)][0]
            g = f["model_weights"][lname]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            for start in range(0, len(names), 3):
                trio = [np.asarray(g[n]) for n in names[start:start + 3]]
                new = to_cudnn_lstm_weights(*trio)
                for n, w in zip(names[start:start + 3], new):
                    del g[n]
                    g[n] = w
    ours = ln.load(path)
    assert max_error(ours.predict(x), model.predict(x, verbose=0)) <= TOL


@pytest.mark.keras
def test_weights_only_h5_is_refused(tmp_path):
    import keras
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(3)])
    path = str(tmp_path / "only.weights.h5")
    model.save_weights(path)
    with pytest.raises(ln.LoadError, match="model_config|architecture"):
        ln.load(path)


def test_missing_weight_dataset_is_a_load_error(tmp_path):
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3],
                                                "name": "in", "dtype": "float32"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "relu",
                                           "use_bias": True, "trainable": True,
                                           "dtype": "float32"}}]}}
    path = str(tmp_path / "m.h5")
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        g = f.create_group("model_weights").create_group("d")
        g.attrs["weight_names"] = [b"d/kernel:0", b"d/bias:0"]
        g["d/kernel:0"] = np.ones((3, 2), "float32")
    with pytest.raises(ln.LoadError, match="'d'"):
        ln.load(path)
    with h5py.File(path, "r+") as f:
        f["model_weights/d"]["d/bias:0"] = np.array([1.0, -10.0], "float32")
    y = ln.load(path).predict(np.ones((2, 3), "float32"))
    np.testing.assert_array_equal(y, [[4.0, 0.0], [4.0, 0.0]])


def test_chunked_attributes_are_joined(tmp_path):
    """Attributes over 64 KB are stored as name0, name1, ... (``save_attributes_to_hdf5_group``)."""
    path = str(tmp_path / "m.h5")
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 2], "name": "in"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 1, "trainable": True}}]}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights").create_group("d")
        g.attrs["weight_names0"] = [b"k"]
        g.attrs["weight_names1"] = [b"b"]
        g["k"] = np.full((2, 1), 2.0, "float32")
        g["b"] = np.array([0.5], "float32")
    np.testing.assert_array_equal(ln.load(path).predict(np.ones((1, 2))), [[4.5]])


@pytest.mark.keras
@pytest.mark.tf_keras
def test_cudnn_gru_h5_from_tf_keras(tmp_path):
    """A real tf-keras ``CuDNNGRU`` model (it builds and saves on CPU; only calling it needs a
    GPU). Truth: tf-keras itself loading that ``.h5`` into ``GRU(reset_after=True,
    recurrent_activation="sigmoid")`` layers, which converts the weights with its
    ``hdf5_format._convert_rnn_weights``, then ``predict``."""
    import tf_keras as keras
    from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU

    from tests.keras_routes import randomize
    L = keras.layers
    model = keras.Sequential([keras.Input((6, 3)), CuDNNGRU(5, return_sequences=True),
                              L.Bidirectional(CuDNNGRU(4, go_backwards=True)), L.Dense(2)])
    randomize(model, seed=2)
    assert model.get_weights()[2].shape == (30,)   # cuDNN bias: input then recurrent
    path = str(tmp_path / "cudnn_gru.h5")
    model.save(path)

    def gru(units, **kw):
        return L.GRU(units, reset_after=True, recurrent_activation="sigmoid", **kw)

    truth = keras.Sequential([keras.Input((6, 3)), gru(5, return_sequences=True),
                              L.Bidirectional(gru(4, go_backwards=True)), L.Dense(2)])
    truth.load_weights(path)
    x = np.random.default_rng(4).standard_normal((8, 6, 3)).astype("float32")
    ours = ln.load(path)
    assert [type(la).__name__ for la in ours.layers[1:3]] == ["GRU", "Bidirectional"]
    assert max_error(ours.predict(x), truth.predict(x, verbose=0)) <= TOL
    # and the conversion is tf-keras's, array for array
    from tf_keras.src.saving.legacy.hdf5_format import _convert_rnn_weights
    cudnn = model.layers[0].get_weights()
    want = _convert_rnn_weights(truth.layers[0], cudnn)
    for got, w in zip(convert_cudnn_gru_weights(cudnn), want):
        np.testing.assert_array_equal(got, w)
