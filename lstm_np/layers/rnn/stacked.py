"""``StackedRNN``: Keras's ``RNN(StackedRNNCells([cell, ...]))`` for inference.

Keras runs the stacked cells inside one time loop (Keras 3
``keras/src/layers/rnn/stacked_rnn_cells.py``, ``backend.rnn``): at step ``t`` cell ``k``
takes cell ``k - 1``'s new output, and at a masked step every cell's states are carried
and the output is the previous output. That is the same computation as running the cells
one after the other as full-sequence layers sharing the mask:

* at a valid step cell ``k`` receives exactly cell ``k - 1``'s new output;
* at a masked step cell ``k``'s input is ignored (its states are carried, as in Keras),
  so what the previous layer emits there (carried or zero output) does not matter;
* only the last cell's output is the layer's output, with Keras's masked-output rule
  (``zero_output_for_mask``) applied to it alone.

``go_backwards`` reverses the input (and mask) once; the inner layers then run forwards, so
sequences are in processing order, as Keras returns them. States are the concatenation of
every cell's states in cell order (``[h, c]`` for an LSTM cell, ``[h]`` otherwise): the
flattened order of Keras 3 and tf-keras (which nest an LSTM cell's pair: ``[out, [h, c], h]``).

``StackedRNN.from_config`` reads any Keras ``RNN`` config: a single built-in cell runs as the
matching ``LSTM`` / ``GRU`` / ``SimpleRNN`` layer (the same computation).
"""

import numpy as np

from ...errors import InputError, UnsupportedKerasFeature
from ..base import CONFIG_META, as_list
from ._rnn import RecurrentLayer, RNNLayer
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN

__all__ = ["StackedRNN", "CELL_LAYERS"]

#: Keras cell class -> the lstm_np layer running that cell over a sequence.
CELL_LAYERS = {"LSTMCell": LSTM, "GRUCell": GRU, "SimpleRNNCell": SimpleRNN}
_CELL_CLASS_NAMES = {layer.__name__: cell for cell, layer in CELL_LAYERS.items()}
#: ``RNN`` options that are options of our layers too (the rest of its config is ignored).
_RNN_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful",
                "zero_output_for_mask", "time_major")
_RNN_IGNORED = ("unroll", "trainable", "input_shape", "batch_input_shape", "batch_shape",
                "input_dim", "input_length")


def _dtype_name(dtype):
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", "float32")
    return str(dtype)


def _cell_layer(cell, options, keras_version, where):
    """A Keras cell entry -> our layer for that cell family, with the ``RNN``'s options."""
    if not isinstance(cell, dict):
        raise UnsupportedKerasFeature(f"{where}: malformed cell {cell!r}")
    cls = cell.get("class_name")
    if cls not in CELL_LAYERS:
        raise UnsupportedKerasFeature(
            f"{where}: cell class {cls!r} is not supported (custom cells run user code; "
            f"lstm_np supports RNN over {sorted(CELL_LAYERS)} and StackedRNNCells of them)")
    cfg = cell.get("config") or {}
    if not isinstance(cfg, dict):
        raise UnsupportedKerasFeature(f"{where}: malformed {cls} config {cfg!r}")
    cfg = {k: v for k, v in cfg.items() if k not in CONFIG_META}
    if "dtype" in options and "dtype" in cfg and _dtype_name(cfg["dtype"]) != _dtype_name(
            options["dtype"]):
        raise UnsupportedKerasFeature(f"{where}: cell dtype {_dtype_name(cfg['dtype'])!r} "
                                      f"differs from the RNN's {_dtype_name(options['dtype'])!r}")
    clash = set(cfg) & set(_RNN_OPTIONS)
    if clash:
        raise UnsupportedKerasFeature(f"{where}: cell config has RNN option(s) {sorted(clash)}")
    cfg.update(options)
    return CELL_LAYERS[cls].from_config(cfg, keras_version)


class StackedRNN(RecurrentLayer):
    """Keras ``RNN`` over ``StackedRNNCells``: ``cells`` are lstm_np recurrent layers
    (``LSTM`` / ``GRU`` / ``SimpleRNN``) standing for Keras's cells.

    Weights are Keras's ``get_weights()`` order: each cell's ``kernel, recurrent_kernel[,
    bias]`` in cell order. Outputs: the last cell's output, then with ``return_state``
    every cell's final states flattened in cell order.
    """

    class_name = "RNN"

    def __init__(self, cells, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, zero_output_for_mask=False, name=None):
        cells = list(cells)
        super().__init__(return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         zero_output_for_mask=zero_output_for_mask, name=name or "rnn",
                         dtype=None)
        if not cells:
            self._fail("StackedRNNCells has no cells")
        for cell in cells:
            if not isinstance(cell, RNNLayer):
                self._fail(f"stacked cell {type(cell).__name__} is not supported")
        if len({np.dtype(c.dtype) for c in cells}) != 1:
            self._fail("stacked cells of different dtypes are not supported")
        self.cells = cells
        self.dtype = cells[0].dtype
        for k, cell in enumerate(cells):
            last = k == len(cells) - 1
            cell.return_sequences = self.return_sequences if last else True
            cell.return_state = False
            cell.go_backwards = False          # reversed once, here
            cell.stateful = self.stateful
            cell.zero_output_for_mask = self.zero_output_for_mask if last else False

    @classmethod
    def from_config(cls, config, keras_version=3):
        """Keras ``RNN(cell)``: a built-in cell runs as our ``LSTM`` / ``GRU`` /
        ``SimpleRNN`` layer (identical computation); ``StackedRNNCells`` as a StackedRNN."""
        name = config.get("name", "?")
        where = f"layer {name!r} (RNN)"
        extra = set(config) - {"name", "dtype", "cell", "keras_version", *_RNN_OPTIONS,
                               *_RNN_IGNORED, *CONFIG_META}
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
        return cls(layers, **{k: v for k, v in options.items()
                              if k not in ("dtype", "time_major")})

    # ----------------------------------------------------------------- weights
    @property
    def sublayers(self):
        return tuple(self.cells)

    @property
    def units(self):
        return self.cells[-1].units

    @property
    def state_units(self):
        return [u for c in self.cells for u in c.state_units]

    def set_weights(self, weights):
        weights = as_list(weights, f"RNN {self.name!r} set_weights")
        if len(weights) != self.n_weights:
            raise InputError(f"RNN {self.name!r}: expected {self.n_weights} weight arrays "
                             f"(kernel, recurrent_kernel[, bias] per stacked cell); "
                             f"received {len(weights)}")
        super().set_weights(weights)
        for prev, cell in zip(self.cells, self.cells[1:]):
            if cell.input_dim != prev.units:
                raise InputError(f"RNN {self.name!r}: cell {cell.name!r} kernel expects input "
                                 f"width {cell.input_dim}, the previous cell outputs "
                                 f"{prev.units}")

    def reset_states(self, states=None):
        if states is None:
            super().reset_states()
        else:
            for c, s in zip(self.cells, self._split(states, "reset_states")):
                c.reset_states(s)

    reset_state = reset_states

    def _split(self, states, what):
        states = as_list(states, f"RNN {self.name!r} {what}")
        n = [len(c.STATE_NAMES) for c in self.cells]
        if len(states) != sum(n):
            raise InputError(f"RNN {self.name!r}: {what} expects {sum(n)} state arrays (every "
                             f"stacked cell's states in order); received {len(states)}")
        out, start = [], 0
        for k in n:
            out.append(states[start:start + k])
            start += k
        return out

    # -------------------------------------------------------------------- call
    def forward(self, x, initial_state=None, mask=None):
        """Returns ``(output, [every cell's final states, flattened])``."""
        x = np.asarray(x)
        if self.go_backwards:
            if x.ndim != 3:
                raise InputError(f"RNN {self.name!r} expects input of shape (batch, "
                                 f"timesteps, features); received {x.shape}")
            x = x[:, ::-1]
            if mask is not None:
                mask = np.asarray(mask)[:, ::-1]
        inits = (self._split(initial_state, "initial_state") if initial_state is not None
                 else [None] * len(self.cells))
        states = []
        h = x
        for cell, init in zip(self.cells, inits):
            h, s, _ = cell.forward(h, initial_state=init, mask=mask)
            states += list(s)
        return h, states

    def call(self, inputs, mask=None, initial_state=None):
        y, states = self.forward(inputs, initial_state, mask)
        return [y] + states if self.return_state else y

    def get_config(self):
        """Keras's ``RNN`` config with a ``StackedRNNCells`` cell (what the loaders read)."""
        cells = []
        for c in self.cells:
            cfg = c.get_config()
            for key in ("return_sequences", "return_state", "go_backwards", "stateful",
                        "zero_output_for_mask"):
                cfg.pop(key, None)
            cells.append({"class_name": _CELL_CLASS_NAMES[c.class_name], "config": cfg})
        return {"name": self.name, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "zero_output_for_mask": self.zero_output_for_mask,
                "dtype": np.dtype(self.dtype).name,
                "cell": {"class_name": "StackedRNNCells", "config": {"cells": cells}}}

    def __repr__(self):
        return (f"RNN(StackedRNNCells({', '.join(repr(c) for c in self.cells)}), "
                f"name={self.name!r})")
