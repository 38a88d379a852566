"""The four cell families as tests build them: Keras-shaped data, lstm_np layers, the oracle.

``"gru"`` is ``reset_after=True`` (the Keras 3 default), ``"gru_reset_before"`` is
``reset_after=False``. Shared by the kernel, backward and finite-difference tests.
"""
import numpy as np

import lstm_np as ln

from . import naive
from .strategies import make_data

# Cell families: (gate blocks, states).
CELLS = {"lstm": (4, 2), "gru": (3, 1), "gru_reset_before": (3, 1), "simple_rnn": (1, 1)}
# State names per family, in ``initial_state`` order.
STATE_NAMES = {"lstm": ("h0", "c0"), "gru": ("h0",), "gru_reset_before": ("h0",),
               "simple_rnn": ("h0",)}


def make_cell_data(cell, cfg):
    """Weights in the Keras shapes of ``cell``, input, mask and initial states."""
    gates, n_states = CELLS[cell]
    cfg = dict(cfg, gates=gates, n_states=n_states)
    weights, x, mask, states = make_data(cfg)
    if cell == "gru" and cfg["use_bias"]:   # reset_after: (2, 3U) input and recurrent bias
        rng = np.random.default_rng(cfg["seed"] + 1)
        weights[2] = (rng.standard_normal((2, 3 * cfg["units"]))
                      * cfg["weight_scale"]).astype(cfg["dtype"])
    return weights, x, mask, states


def make_cell_layer(cell, cfg, **overrides):
    """The lstm_np layer of ``cell`` for ``cfg`` (``return_state=True`` unless overridden)."""
    kw = dict(activation=cfg["activation"], use_bias=cfg["use_bias"],
              return_sequences=cfg["return_sequences"], return_state=True,
              go_backwards=cfg["go_backwards"],
              zero_output_for_mask=cfg.get("zero_output_for_mask", False), dtype=cfg["dtype"],
              keras_version=cfg.get("keras_version", 3))
    kw.update(overrides)
    if cell == "simple_rnn":
        return ln.SimpleRNN(cfg["units"], **kw)
    kw["recurrent_activation"] = cfg["recurrent_activation"]
    if cell == "lstm":
        return ln.LSTM(cfg["units"], **kw)
    return ln.GRU(cfg["units"], reset_after=cell == "gru", **kw)


def oracle_cell(cell, cfg, weights, x, mask, states):
    """``[output, *states]`` from ``tests/naive.py``."""
    bias = weights[2] if cfg["use_bias"] else None
    kw = dict(initial_state=states, mask=mask, activation_name=cfg["activation"],
              go_backwards=cfg["go_backwards"],
              zero_output_for_mask=cfg.get("zero_output_for_mask", False),
              return_sequences=cfg["return_sequences"],
              keras_version=cfg.get("keras_version", 3))
    if cell == "simple_rnn":
        return naive.simple_rnn(x, weights[0], weights[1], bias, **kw)
    kw["recurrent_activation_name"] = cfg["recurrent_activation"]
    if cell == "lstm":
        return naive.lstm(x, weights[0], weights[1], bias, **kw)
    return naive.gru(x, weights[0], weights[1], bias, reset_after=cell == "gru", **kw)
