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
from ..layers.ops import KerasOp
from ..layers.simple_rnn import SimpleRNN
from ..layers.stacked import StackedRNN
from ..layers.wrappers import Bidirectional, TimeDistributed

__all__ = ["BUILDERS", "build_layer", "rnn_builder", "convert_cudnn_lstm_weights",
           "convert_cudnn_gru_weights"]

#: Keys that may appear in a config but are not constructor arguments.
_META = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")

#: Config keys through which a Keras 2 / legacy layer declares the model's input when it
#: is the first layer of a Sequential (tf-keras ``Layer.__init__``, Keras 3
#: ``Sequential.add``; read by ``graph._sequential``); elsewhere Keras ignores them.
INPUT_KEYS = ("batch_input_shape", "batch_shape", "input_shape", "batch_size", "input_dim",
              "input_dtype", "input_length")

#: Layer classes refused with a specific reason.
_REFUSED = {
    "Lambda": "Lambda layers run Python code stored in the file; lstm_np never executes it",
    "TFOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "SlicingOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "Sequential": "nested models are not supported (flatten the model first)",
    "Functional": "nested models are not supported (flatten the model first)",
    "Model": "nested models are not supported (flatten the model first)",
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


def _cudnn_gru(config, keras_version):
    """Keras 2 ``CuDNNGRU``: ``GRU(reset_after=True)`` with tanh / sigmoid and a bias, as
    tf-keras ``hdf5_format._convert_rnn_weights`` loads it (weights converted)."""
    cfg = {k: v for k, v in config.items() if k not in _META}
    cfg.update(activation="tanh", recurrent_activation="sigmoid", use_bias=True,
               reset_after=True)
    return rnn_builder(GRU)(cfg, keras_version)


#: Keras cell class -> the lstm_np layer running that cell over a sequence.
_CELLS = {"LSTMCell": LSTM, "GRUCell": GRU, "SimpleRNNCell": SimpleRNN}
#: ``RNN`` options that are options of our layers too (the rest of its config is ignored).
_RNN_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful",
                "zero_output_for_mask", "time_major")
_RNN_IGNORED = ("unroll", "trainable", "input_shape", "batch_input_shape", "batch_shape",
                "input_dim", "input_length")


def _cell_layer(cell, options, keras_version, where):
    """A Keras cell entry -> our layer for that cell family, with the ``RNN``'s options."""
    if not isinstance(cell, dict):
        raise UnsupportedKerasFeature(f"{where}: malformed cell {cell!r}")
    cls = cell.get("class_name")
    if cls not in _CELLS:
        raise UnsupportedKerasFeature(
            f"{where}: cell class {cls!r} is not supported (custom cells run user code; "
            f"lstm_np supports RNN over {sorted(_CELLS)} and StackedRNNCells of them)")
    cfg = cell.get("config") or {}
    if not isinstance(cfg, dict):
        raise UnsupportedKerasFeature(f"{where}: malformed {cls} config {cfg!r}")
    cfg = {k: v for k, v in cfg.items() if k not in _META}
    if "dtype" in options and "dtype" in cfg and _dtype_name(cfg["dtype"]) != _dtype_name(
            options["dtype"]):
        raise UnsupportedKerasFeature(f"{where}: cell dtype {_dtype_name(cfg['dtype'])!r} "
                                      f"differs from the RNN's {_dtype_name(options['dtype'])!r}")
    clash = set(cfg) & set(_RNN_OPTIONS)
    if clash:
        raise UnsupportedKerasFeature(f"{where}: cell config has RNN option(s) {sorted(clash)}")
    cfg.update(options)
    return rnn_builder(_CELLS[cls])(cfg, keras_version)


def _dtype_name(dtype):
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", "float32")
    return str(dtype)


def _rnn(config, keras_version):
    """Keras ``RNN(cell)``: a built-in cell runs as our ``LSTM`` / ``GRU`` / ``SimpleRNN``
    layer (identical computation); ``StackedRNNCells`` as :class:`StackedRNN`."""
    name = _name(config)
    where = f"layer {name!r} (RNN)"
    extra = set(config) - {"name", "dtype", "cell", "keras_version", *_RNN_OPTIONS,
                           *_RNN_IGNORED, *_META}
    if extra:
        raise UnsupportedKerasFeature(f"{where}: unsupported option(s) {sorted(extra)}")
    options = {k: config[k] for k in _RNN_OPTIONS if k in config}
    options["name"] = name
    if "dtype" in config:
        options["dtype"] = config["dtype"]
    keras_version = config.get("keras_version", keras_version)
    cell = config.get("cell")
    if isinstance(cell, list):   # Keras 2 RNN([cells]) before serialisation
        cell = {"class_name": "StackedRNNCells", "config": {"cells": cell}}
    if not isinstance(cell, dict):
        raise UnsupportedKerasFeature(f"{where}: malformed cell {cell!r}")
    if cell.get("class_name") != "StackedRNNCells":
        return _cell_layer(cell, options, keras_version, where)
    cells = (cell.get("config") or {}).get("cells")
    if not isinstance(cells, list) or not cells:
        raise UnsupportedKerasFeature(f"{where}: StackedRNNCells without cells")
    inner = {k: options[k] for k in ("dtype", "time_major") if k in options}
    layers = []
    for k, c in enumerate(cells):
        ccfg = c.get("config") if isinstance(c, dict) else None
        cname = (ccfg.get("name") if isinstance(ccfg, dict) else None) or f"cell_{k}"
        layers.append(_cell_layer(c, dict(inner, name=cname), keras_version,
                                  f"{where} stacked cell {k}"))
    return StackedRNN(layers, **{k: v for k, v in options.items()
                                 if k not in ("dtype", "time_major")})


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
                           "backward_layer", "weights", *INPUT_KEYS, *_META}
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
    extra = set(config) - {"name", "trainable", "dtype", "layer", *INPUT_KEYS, *_META}
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
    "CuDNNGRU": _cudnn_gru,
    "RNN": _rnn,
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    "KerasOp": core_builder(KerasOp),   # lstm_np's .npz form of a recorded Keras 3 op
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


def convert_cudnn_gru_weights(weights):
    """Keras 2 ``CuDNNGRU`` weights -> ``GRU(reset_after=True)`` weights.

    As tf-keras ``hdf5_format._convert_rnn_weights`` (``convert_gru_weights`` with
    ``from_cudnn=True``): per gate (z, r, h: the gate order is unchanged), ``kernel`` blocks
    become ``k.T.reshape(k.shape, order="F")``, ``recurrent_kernel`` blocks are transposed,
    and the bias (6U: input then recurrent biases) is reshaped to ``(2, 3U)``.
    """
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    kernel = np.hstack([k.T.reshape(k.shape, order="F") for k in np.hsplit(kernel, 3)])
    recurrent = np.hstack([k.T for k in np.hsplit(recurrent, 3)])
    return [kernel, recurrent, bias.reshape(2, -1)]
