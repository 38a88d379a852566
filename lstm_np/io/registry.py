"""Keras ``class_name`` -> lstm_np layer class, and the classes refused with a reason.

The same config dict arrives from a live model (``to_json()``), a ``.keras`` archive
(``config.json``), a legacy ``.h5`` (``model_config``) and lstm_np's ``.npz``, so every
route builds layers here, with each class's ``from_config``; weights are supplied
separately by the route. A new layer is one line in :data:`LAYERS`.
"""
from ..errors import UnsupportedKerasFeature
from ..layers import (GRU, LSTM, Activation, ActivityRegularization, Add, AlphaDropout,
                      Average, Bidirectional, Concatenate, Dense, Dropout, Embedding, Flatten,
                      GaussianDropout, GaussianNoise, InputLayer, KerasOp, Masking, Maximum,
                      Minimum, Multiply, Permute, RepeatVector, Reshape, SimpleRNN, Softmax,
                      SpatialDropout1D, StackedRNN, Subtract, TimeDistributed)
from ..layers.rnn import CuDNNGRU, CuDNNLSTM
from ..layers.rnn.gru import convert_cudnn_gru_weights
from ..layers.rnn.lstm import convert_cudnn_lstm_weights

__all__ = ["LAYERS", "REFUSED", "build_layer", "convert_cudnn_lstm_weights",
           "convert_cudnn_gru_weights"]

#: Keras class name -> the lstm_np class whose ``from_config`` builds it.
LAYERS = {
    "InputLayer": InputLayer,
    "Dense": Dense,
    "Embedding": Embedding,
    "Masking": Masking,
    "Activation": Activation,
    "Softmax": Softmax,
    "Dropout": Dropout,
    "SpatialDropout1D": SpatialDropout1D,
    "GaussianNoise": GaussianNoise,
    "GaussianDropout": GaussianDropout,
    "AlphaDropout": AlphaDropout,
    "ActivityRegularization": ActivityRegularization,
    "RepeatVector": RepeatVector,
    "Flatten": Flatten,
    "Reshape": Reshape,
    "Permute": Permute,
    "Concatenate": Concatenate,
    "Add": Add,
    "Subtract": Subtract,
    "Multiply": Multiply,
    "Average": Average,
    "Maximum": Maximum,
    "Minimum": Minimum,
    "LSTM": LSTM,
    "GRU": GRU,
    "SimpleRNN": SimpleRNN,
    "CuDNNLSTM": CuDNNLSTM,   # Keras 2 .h5: an LSTM, weights converted
    "CuDNNGRU": CuDNNGRU,     # Keras 2 .h5: a GRU(reset_after=True), weights converted
    "RNN": StackedRNN,        # RNN(cell) and RNN(StackedRNNCells)
    "Bidirectional": Bidirectional,
    "TimeDistributed": TimeDistributed,
    "KerasOp": KerasOp,       # lstm_np's .npz form of a recorded Keras 3 op
}

#: Keras classes refused with a specific reason.
REFUSED = {
    "Lambda": "Lambda layers run Python code stored in the file; lstm_np never executes it",
    "TFOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "SlicingOpLambda": "TF op layers run TensorFlow code; lstm_np never executes it",
    "Sequential": "nested models are not supported (flatten the model first)",
    "Functional": "nested models are not supported (flatten the model first)",
    "Model": "nested models are not supported (flatten the model first)",
}


def build_layer(entry, keras_version=3):
    """Build the lstm_np layer for a Keras ``{"class_name": ..., "config": {...}}`` entry.

    The configs of a wrapper's layers (its class's ``sublayer_config_keys``) are built
    first, so ``from_config`` receives layers.
    """
    cls = entry.get("class_name")
    config = entry.get("config") or {}
    name = config.get("name", "?") if isinstance(config, dict) else "?"
    if cls in REFUSED:
        raise UnsupportedKerasFeature(f"layer {name!r} ({cls}): {REFUSED[cls]}")
    if cls not in LAYERS:
        raise UnsupportedKerasFeature(
            f"layer {name!r}: Keras class {cls!r} is not supported; lstm_np supports "
            f"{sorted(LAYERS)}")
    layer_class = LAYERS[cls]
    config = dict(config)
    for key in layer_class.sublayer_config_keys:
        if isinstance(config.get(key), dict):
            config[key] = build_layer(config[key], keras_version)
    return layer_class.from_config(config, keras_version)
