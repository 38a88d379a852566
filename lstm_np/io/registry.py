"""Keras ``class_name`` -> builder of the lstm_np layer, from the Keras layer config dict.

The same config dict arrives from a live model (``to_json()``), a ``.keras`` archive
(``config.json``), a legacy ``.h5`` (``model_config``) and lstm_np's ``.npz``, so every
route shares these builders; weights are supplied separately by the route.

A recurrent family with the ``RNNLayer`` API plugs in with one line, as ``GRU`` and
``SimpleRNN`` do::

    "GRU": rnn_builder(GRU),
"""
import numpy as np

from ..errors import UnsupportedKerasFeature
from ..layers import core
from ..layers.gru import GRU
from ..layers.lstm import LSTM
from ..layers.simple_rnn import SimpleRNN
from ..layers.wrappers import Bidirectional, TimeDistributed

__all__ = ["BUILDERS", "build_layer", "rnn_builder", "convert_cudnn_lstm_weights"]

#: Keys that may appear in a config but are not constructor arguments.
_META = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")

#: Layer classes refused with a specific reason.
_REFUSED = {
    "Lambda": "Lambda layers run Python code stored in the file; lstm_np never executes it",
    "TFOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "SlicingOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "Sequential": "nested models are not supported (flatten the model first)",
    "Functional": "nested models are not supported (flatten the model first)",
    "Model": "nested models are not supported (flatten the model first)",
    "RNN": "the generic RNN wrapper (custom or stacked cells) is not supported",
    "CuDNNGRU": "CuDNNGRU is not supported yet",
}


def _name(config):
    return config.get("name", "?")


def rnn_builder(cls):
    """Builder for an ``RNNLayer`` subclass: passes the Keras config as keyword arguments."""

    def build(config, keras_version):
        cfg = {k: v for k, v in config.items() if k not in _META}
        cfg.setdefault("keras_version", keras_version)
        try:
            return cls(**cfg)
        except TypeError as exc:   # an unknown Keras option
            raise UnsupportedKerasFeature(
                f"{cls.__name__} {_name(config)!r}: {exc}") from None

    return build


def _cudnn_lstm(config, keras_version):
    """Keras 2 ``CuDNNLSTM``: an LSTM with tanh / sigmoid and a bias (weights converted)."""
    cfg = {k: v for k, v in config.items() if k not in _META}
    cfg.update(activation="tanh", recurrent_activation="sigmoid", use_bias=True)
    layer = rnn_builder(LSTM)(cfg, keras_version)
    return layer


def core_builder(cls):
    def build(config, keras_version):
        cfg = {k: v for k, v in config.items() if k not in _META}
        cfg.setdefault("keras_version", keras_version)
        try:
            return cls(**cfg)
        except TypeError as exc:
            raise UnsupportedKerasFeature(
                f"{cls.__name__} {_name(config)!r}: {exc}") from None
    return build


def _bidirectional(config, keras_version):
    name = _name(config)
    extra = set(config) - {"name", "trainable", "dtype", "merge_mode", "layer",
                           "backward_layer", "weights", *_META}
    if extra:
        raise UnsupportedKerasFeature(f"Bidirectional {name!r}: unsupported option(s) "
                                      f"{sorted(extra)}")
    inner = config["layer"]
    fwd = build_layer(inner, keras_version)
    if config.get("backward_layer"):
        bwd = build_layer(config["backward_layer"], keras_version)
    else:   # Keras 2 toggles go_backwards; Keras 3 sets it
        bcfg = dict(inner["config"])
        bcfg["go_backwards"] = (not bcfg.get("go_backwards", False)) if keras_version == 2 else True
        bcfg["name"] = "backward_" + str(bcfg.get("name", ""))
        bwd = build_layer({"class_name": inner["class_name"], "config": bcfg}, keras_version)
    return Bidirectional(fwd, bwd, merge_mode=config.get("merge_mode", "concat"), name=name)


def _time_distributed(config, keras_version):
    extra = set(config) - {"name", "trainable", "dtype", "layer", *_META}
    if extra:
        raise UnsupportedKerasFeature(f"TimeDistributed {_name(config)!r}: unsupported "
                                      f"option(s) {sorted(extra)}")
    return TimeDistributed(build_layer(config["layer"], keras_version), name=_name(config))


BUILDERS = {
    "InputLayer": core_builder(core.InputLayer),
    "LSTM": rnn_builder(LSTM),
    "GRU": rnn_builder(GRU),
    "SimpleRNN": rnn_builder(SimpleRNN),
    "CuDNNLSTM": _cudnn_lstm,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
}
for _cls in (core.Dense, core.Activation, core.Softmax, core.Dropout, core.SpatialDropout1D,
             core.GaussianNoise, core.GaussianDropout, core.AlphaDropout,
             core.ActivityRegularization, core.Embedding, core.Masking, core.RepeatVector,
             core.Flatten, core.Reshape, core.Permute, core.Concatenate, core.Add,
             core.Subtract, core.Multiply, core.Average, core.Maximum, core.Minimum):
    BUILDERS[_cls.__name__] = core_builder(_cls)


def build_layer(entry, keras_version=3):
    """Build the lstm_np layer for a Keras ``{"class_name": ..., "config": {...}}`` entry."""
    cls = entry.get("class_name")
    config = entry.get("config") or {}
    name = _name(config) if isinstance(config, dict) else "?"
    if cls in _REFUSED:
        raise UnsupportedKerasFeature(f"layer {name!r} ({cls}): {_REFUSED[cls]}")
    if cls not in BUILDERS:
        raise UnsupportedKerasFeature(
            f"layer {name!r}: Keras class {cls!r} is not supported; lstm_np supports "
            f"{sorted(BUILDERS)}")
    return BUILDERS[cls](config, keras_version)


def convert_cudnn_lstm_weights(weights):
    """Keras 2 ``CuDNNLSTM`` weights -> canonical ``LSTM`` weights.

    As tf-keras ``hdf5_format._convert_rnn_weights`` (``convert_lstm_weights`` with
    ``from_cudnn=True``): per gate, ``kernel`` blocks become ``k.T.reshape(k.shape, order="F")``,
    ``recurrent_kernel`` blocks are transposed, and the bias (8U: input then recurrent
    biases) is the sum of its two halves.
    """
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    kernel = np.hstack([k.T.reshape(k.shape, order="F") for k in np.hsplit(kernel, 4)])
    recurrent = np.hstack([k.T for k in np.hsplit(recurrent, 4)])
    bias = np.sum(np.split(bias, 2, axis=0), axis=0)
    return [kernel, recurrent, bias]
