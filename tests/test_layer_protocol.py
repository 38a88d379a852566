"""The layer protocol (``lstm_np/layers/base.py``): every registered class round-trips its
config, and a new layer written as one class plus one registry line runs through every part
of lstm_np (loading, predict, masks, ``summary()``, ``.npz``, gradients) without TensorFlow."""
import io

import numpy as np
import pytest

import lstm_np as ln
from lstm_np.io import registry
from lstm_np.io.graph import model_from_keras_config
from lstm_np.layers import Layer
from lstm_np.layers.base import as_float

_SEQ, _LIST = (None, 5, 3), [(None, 5, 3), (None, 5, 3)]
#: Per registered class: one Keras config and an input shape (a new layer adds its line).
SAMPLES = {
    "InputLayer": ({"batch_shape": [None, 5, 3]}, None),
    "Dense": ({"units": 2, "activation": "relu"}, _SEQ),
    "Embedding": ({"input_dim": 5, "output_dim": 2, "mask_zero": True}, (None, 5)),
    "Masking": ({"mask_value": 0.0}, _SEQ),
    "Activation": ({"activation": "tanh"}, _SEQ),
    "Softmax": ({"axis": -1}, _SEQ),
    "Dropout": ({"rate": 0.5}, _SEQ),
    "SpatialDropout1D": ({"rate": 0.5}, _SEQ),
    "GaussianNoise": ({"stddev": 0.1}, _SEQ),
    "GaussianDropout": ({"rate": 0.1}, _SEQ),
    "AlphaDropout": ({"rate": 0.1}, _SEQ),
    "ActivityRegularization": ({"l1": 0.1}, _SEQ),
    "RepeatVector": ({"n": 2}, (None, 3)),
    "Flatten": ({}, _SEQ),
    "Reshape": ({"target_shape": [-1]}, _SEQ),
    "Permute": ({"dims": [2, 1]}, _SEQ),
    "Concatenate": ({"axis": -1}, _LIST),
    "Add": ({}, _LIST), "Subtract": ({}, _LIST), "Multiply": ({}, _LIST),
    "Average": ({}, _LIST), "Maximum": ({}, _LIST), "Minimum": ({}, _LIST),
    "LSTM": ({"units": 3, "return_state": True}, _SEQ),
    "GRU": ({"units": 3, "reset_after": False}, _SEQ),
    "SimpleRNN": ({"units": 3, "go_backwards": True}, _SEQ),
    "CuDNNLSTM": ({"units": 3}, _SEQ),
    "CuDNNGRU": ({"units": 3}, _SEQ),
    "RNN": ({"return_state": True, "cell": {"class_name": "StackedRNNCells", "config": {
        "cells": [{"class_name": "LSTMCell", "config": {"units": 3}},
                  {"class_name": "GRUCell", "config": {"units": 2}}]}}}, _SEQ),
    "Bidirectional": ({"layer": {"class_name": "GRU", "config": {
        "units": 3, "return_sequences": True, "return_state": True}}}, _SEQ),
    "TimeDistributed": ({"layer": {"class_name": "Dense", "config": {"units": 2}}}, _SEQ),
    "KerasOp": ({"op": "NotEqual", "args": [{"__tensor__": 0}, 0]}, [_SEQ]),
}


def test_every_registered_class_has_a_sample():
    assert set(registry.LAYERS) == set(SAMPLES), "add a config for each new layer to SAMPLES"


@pytest.mark.parametrize("class_name", sorted(SAMPLES))
def test_config_round_trip(class_name):
    """from_config(get_config()) gives the same layer; output shapes come as a list of
    n_outputs through the protocol."""
    config, input_shape = SAMPLES[class_name]
    layer = registry.build_layer({"class_name": class_name, "config": dict(config, name="it")})
    entry = layer.serialize()
    assert isinstance(layer, Layer) and entry["class_name"] in registry.LAYERS
    again = registry.build_layer(entry)
    assert type(again) is type(layer) and again.get_config() == layer.get_config()
    assert again.n_weights == layer.n_weights and layer.get_weights() == []
    assert len(layer.output_shapes(input_shape)) == layer.n_outputs


def test_unknown_option_names_layer_and_option():
    with pytest.raises(ln.UnsupportedKerasFeature, match=r"Dense 'd'.*\['bogus'\]"):
        registry.build_layer({"class_name": "Dense", "config": {"name": "d", "units": 2,
                                                                "bogus": 1}})


class Scale(Layer):
    """A toy new layer, written as a layer author would: ``x * factor`` per feature, the
    mask passed on, gradients on the input and the weight."""

    weight_names = ("factor",)

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.factor = None

    def call(self, inputs, mask=None):
        return as_float(inputs, self.dtype) * self.factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def tape_forward(self, inputs, mask=None):
        x = as_float(inputs, self.dtype)
        return x * self.factor, x

    def tape_backward(self, x, d_outputs):
        g = d_outputs[0]
        return g * self.factor, {}, [np.sum(g * x, axis=tuple(range(x.ndim - 1)))]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _config(dtype):
    return {"class_name": "Sequential", "config": {"name": "toy", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 4, 3],
                                                "dtype": dtype}},
        {"class_name": "Masking", "config": {"name": "masking", "dtype": dtype}},
        {"class_name": "Scale", "config": {"name": "scale", "units": 3, "dtype": dtype}},
        {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 2, "dtype": dtype}}]}}


def test_a_new_layer_is_one_class_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(registry.LAYERS, "Scale", Scale)
    rng = np.random.default_rng(0)
    weights = {"scale": [rng.standard_normal(3)],
               "rnn": [rng.standard_normal(s) for s in ((3, 2), (2, 2), (2,))]}
    model = model_from_keras_config(_config("float64"), 3,
                                    lambda name, entry, index: weights.get(name, []))
    x = rng.standard_normal((2, 4, 3))
    x[0, 1] = 0                                    # masked: the RNN carries its state
    y = model.predict(x)
    rnn = ln.SimpleRNN(2, dtype="float64")
    rnn.set_weights(weights["rnn"])
    np.testing.assert_allclose(y, rnn(x * weights["scale"][0], mask=np.any(x != 0, axis=-1)),
                               rtol=1e-12)
    lines = []
    model.summary(print_fn=lines.append)
    assert any("scale (Scale)" in line and "(None, 4, 3)" in line for line in lines)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    np.testing.assert_array_equal(ln.load(buf).predict(x), y)

    d_out = rng.standard_normal(y.shape)
    g = model.gradients(x, d_out)
    factor, eps = model.get_layer("scale").factor, 1e-6
    for k in range(3):
        losses = []
        for step in (eps, -eps):
            factor[k] += step
            losses.append(np.sum(model(x) * d_out))
            factor[k] -= step
        fd = (losses[0] - losses[1]) / (2 * eps)
        assert abs(g["layers"]["scale"][0][k] - fd) < 1e-7, (g["layers"]["scale"], fd)
