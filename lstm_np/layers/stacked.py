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
"""
import numpy as np

from ..errors import InputError, UnsupportedKerasFeature
from ._rnn import RNNLayer, as_list

__all__ = ["StackedRNN", "CELL_CLASS_NAMES"]

#: lstm_np layer class name -> Keras cell class name.
CELL_CLASS_NAMES = {"LSTM": "LSTMCell", "GRU": "GRUCell", "SimpleRNN": "SimpleRNNCell"}


class StackedRNN:
    """Keras ``RNN`` over ``StackedRNNCells``: ``cells`` are lstm_np recurrent layers
    (``LSTM`` / ``GRU`` / ``SimpleRNN``) standing for Keras's cells.

    Weights are Keras's ``get_weights()`` order: each cell's ``kernel, recurrent_kernel[,
    bias]`` in cell order. Outputs: the last cell's output, then with ``return_state``
    every cell's final states flattened in cell order.
    """

    class_name = "RNN"

    def __init__(self, cells, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, zero_output_for_mask=False, name=None):
        self.name = name or "rnn"
        cells = list(cells)
        if not cells:
            raise UnsupportedKerasFeature(f"RNN {self.name!r}: StackedRNNCells has no cells")
        for cell in cells:
            if not isinstance(cell, RNNLayer):
                raise UnsupportedKerasFeature(
                    f"RNN {self.name!r}: stacked cell {type(cell).__name__} is not supported")
        if len({np.dtype(c.dtype) for c in cells}) != 1:
            raise UnsupportedKerasFeature(f"RNN {self.name!r}: stacked cells of different "
                                          f"dtypes are not supported")
        self.cells = cells
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.dtype = cells[0].dtype
        for k, cell in enumerate(cells):
            last = k == len(cells) - 1
            cell.return_sequences = self.return_sequences if last else True
            cell.return_state = False
            cell.go_backwards = False          # reversed once, here
            cell.stateful = self.stateful
            cell.zero_output_for_mask = self.zero_output_for_mask if last else False

    # ----------------------------------------------------------------- weights
    @property
    def units(self):
        return self.cells[-1].units

    @property
    def state_units(self):
        """Width of each returned state, in order."""
        return [c.units for c in self.cells for _ in c.STATE_NAMES]

    def _counts(self):
        return [3 if c.use_bias else 2 for c in self.cells]

    def n_weights(self):
        return sum(self._counts())

    def get_weights(self):
        return [w for c in self.cells for w in c.get_weights()]

    def set_weights(self, weights):
        weights = as_list(weights, f"RNN {self.name!r} set_weights")
        if len(weights) != self.n_weights():
            raise InputError(f"RNN {self.name!r}: expected {self.n_weights()} weight arrays "
                             f"(kernel, recurrent_kernel[, bias] per stacked cell); "
                             f"received {len(weights)}")
        start = 0
        for cell, n in zip(self.cells, self._counts()):
            cell.set_weights(weights[start:start + n])
            start += n
        for prev, cell in zip(self.cells, self.cells[1:]):
            if cell.input_dim != prev.units:
                raise InputError(f"RNN {self.name!r}: cell {cell.name!r} kernel expects input "
                                 f"width {cell.input_dim}, the previous cell outputs "
                                 f"{prev.units}")

    def count_params(self):
        return sum(c.count_params() for c in self.cells)

    def reset_states(self, states=None):
        if states is None:
            for c in self.cells:
                c.reset_states()
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

    def __call__(self, x, initial_state=None, mask=None, training=None):
        y, states = self.forward(x, initial_state, mask)
        return [y] + states if self.return_state else y

    def apply(self, x, mask=None, initial_state=None):
        y, states = self.forward(x, initial_state, mask)
        outs = [y] + (states if self.return_state else [])
        return outs, [mask if self.return_sequences else None] + [None] * (len(outs) - 1)

    def n_outputs(self):
        return 1 + (len(self.state_units) if self.return_state else 0)

    def output_shapes(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        y = (b, t, self.units) if self.return_sequences else (b, self.units)
        return [y] + ([(b, u) for u in self.state_units] if self.return_state else [])

    def get_config(self):
        """Keras's ``RNN`` config with a ``StackedRNNCells`` cell (what the loaders read)."""
        cells = []
        for c in self.cells:
            cfg = c.get_config()
            for key in ("return_sequences", "return_state", "go_backwards", "stateful",
                        "zero_output_for_mask"):
                cfg.pop(key, None)
            cells.append({"class_name": CELL_CLASS_NAMES[type(c).__name__], "config": cfg})
        return {"name": self.name, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "zero_output_for_mask": self.zero_output_for_mask,
                "dtype": np.dtype(self.dtype).name,
                "cell": {"class_name": "StackedRNNCells", "config": {"cells": cells}}}

    def __repr__(self):
        return (f"RNN(StackedRNNCells({', '.join(repr(c) for c in self.cells)}), "
                f"name={self.name!r})")
