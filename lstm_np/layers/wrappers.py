"""Recurrent-layer plumbing for models: ``Bidirectional``, ``TimeDistributed`` and the
graph-call of a plain RNN layer.

Every recurrent layer (``LSTM`` now, ``GRU`` / ``SimpleRNN`` with the same ``RNNLayer`` API
later) is called through :func:`rnn_apply`, so a new cell family needs no code here.
Semantics follow Keras 3 ``keras/src/layers/rnn/bidirectional.py`` and
``time_distributed.py``.
"""
import numpy as np

from ..errors import InputError, UnsupportedKerasFeature
from ._rnn import RNNLayer, as_list

__all__ = ["Bidirectional", "TimeDistributed", "rnn_apply", "rnn_output_shapes"]


def rnn_apply(layer, x, mask=None, initial_state=None):
    """Call an ``RNNLayer``; returns ``(outputs, masks)`` lists (Keras ``RNN.compute_mask``:
    the input mask is kept only with ``return_sequences``; states carry no mask)."""
    out = layer(x, initial_state=initial_state, mask=mask)
    outs = list(out) if layer.return_state else [out]
    out_mask = mask if layer.return_sequences else None
    return outs, [out_mask] + [None] * (len(outs) - 1)


def rnn_output_shapes(layer, input_shape):
    b, t = input_shape[0], input_shape[1]
    y = (b, t, layer.units) if layer.return_sequences else (b, layer.units)
    if layer.return_state:
        return [y] + [(b, layer.units)] * len(layer.STATE_NAMES)
    return [y]


class Bidirectional:
    """Run a recurrent layer forwards and backwards and merge (Keras ``Bidirectional``).

    ``backward_layer`` has ``go_backwards=True``; its output sequence is flipped back to
    input order when ``return_sequences``. Both directions get
    ``zero_output_for_mask = return_sequences`` (Keras ``force_zero_output_for_mask``).
    Outputs: ``merged`` or ``[y_fwd, y_bwd]`` (``merge_mode=None``), followed by the forward
    then the backward states with ``return_state``; ``initial_state`` is split in halves.
    """

    class_name = "Bidirectional"
    MERGE_MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, forward_layer, backward_layer, merge_mode="concat", name=None):
        self.name = name or "bidirectional"
        if merge_mode not in self.MERGE_MODES:
            raise UnsupportedKerasFeature(f"Bidirectional {self.name!r}: merge_mode="
                                          f"{merge_mode!r} is not supported")
        for layer in (forward_layer, backward_layer):
            if not isinstance(layer, RNNLayer):
                raise UnsupportedKerasFeature(
                    f"Bidirectional {self.name!r}: wrapped layer {type(layer).__name__} is "
                    f"not a supported recurrent layer")
        if (forward_layer.return_sequences != backward_layer.return_sequences
                or forward_layer.return_state != backward_layer.return_state):
            raise UnsupportedKerasFeature(f"Bidirectional {self.name!r}: forward and backward "
                                          f"layers disagree on return_sequences/return_state")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = forward_layer.return_sequences
        self.return_state = forward_layer.return_state
        self.stateful = forward_layer.stateful
        for layer in (forward_layer, backward_layer):
            layer.zero_output_for_mask = self.return_sequences

    # weights: forward layer's, then backward layer's
    def get_weights(self):
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights):
        weights = as_list(weights, f"Bidirectional {self.name!r} set_weights")
        n = 3 if self.forward_layer.use_bias else 2
        if len(weights) != n + (3 if self.backward_layer.use_bias else 2):
            raise InputError(f"Bidirectional {self.name!r}: expected forward then backward "
                             f"weights; received {len(weights)} arrays")
        self.forward_layer.set_weights(weights[:n])
        self.backward_layer.set_weights(weights[n:])

    def count_params(self):
        return self.forward_layer.count_params() + self.backward_layer.count_params()

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def apply(self, x, mask=None, initial_state=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(x, initial_state=fwd_state, mask=mask)
        y_rev = self.backward_layer(x, initial_state=bwd_state, mask=mask)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        out_mask = mask if self.return_sequences else None
        if self.merge_mode == "concat":
            outs, masks = [np.concatenate([y, y_rev], axis=-1)], [out_mask]
        elif self.merge_mode == "sum":
            outs, masks = [y + y_rev], [out_mask]
        elif self.merge_mode == "ave":
            outs, masks = [(y + y_rev) / y.dtype.type(2)], [out_mask]
        elif self.merge_mode == "mul":
            outs, masks = [y * y_rev], [out_mask]
        else:
            outs, masks = [y, np.ascontiguousarray(y_rev)], [out_mask, out_mask]
        return outs + states, masks + [None] * len(states)

    def output_shapes(self, input_shape):
        f = rnn_output_shapes(self.forward_layer, input_shape)
        y, states = f[0], f[1:]
        if self.merge_mode is None:
            ys = [y, y]
        elif self.merge_mode == "concat":
            ys = [y[:-1] + (2 * y[-1],)]
        else:
            ys = [y]
        return ys + states + states

    def get_config(self):
        def sub(layer):
            return {"class_name": type(layer).__name__, "config": layer.get_config()}
        return {"name": self.name, "merge_mode": self.merge_mode,
                "layer": sub(self.forward_layer), "backward_layer": sub(self.backward_layer)}

    def __repr__(self):
        return f"Bidirectional({self.forward_layer!r}, merge_mode={self.merge_mode!r})"


class TimeDistributed:
    """Apply ``layer`` to every timestep: ``(B, T, ...) -> (B, T, ...)`` (Keras
    ``TimeDistributed``); the mask passes through unchanged."""

    class_name = "TimeDistributed"

    def __init__(self, layer, name=None):
        self.name = name or "time_distributed"
        self.layer = layer
        self.stateful = getattr(layer, "stateful", False)

    def get_weights(self):
        return self.layer.get_weights()

    def set_weights(self, weights):
        self.layer.set_weights(weights)

    def count_params(self):
        return self.layer.count_params()

    def reset_states(self):
        reset = getattr(self.layer, "reset_states", None)
        if reset is not None:
            reset()

    def apply(self, x, mask=None, initial_state=None):
        from ..model import apply_layer   # the generic call of any supported layer

        x = np.asarray(x)
        if x.ndim < 3:
            raise InputError(f"TimeDistributed {self.name!r} expects input of rank >= 3 "
                             f"(batch, timesteps, ...); received shape {x.shape}")
        if mask is not None and _uses_mask(self.layer):
            raise UnsupportedKerasFeature(
                f"TimeDistributed {self.name!r}: a mask reaching the wrapped "
                f"{_class_name(self.layer)} {self.layer.name!r} is not supported")
        b, t = x.shape[:2]
        flat = x.reshape((b * t,) + x.shape[2:])
        outs, _ = apply_layer(self.layer, flat, None, None)
        if len(outs) != 1:
            raise UnsupportedKerasFeature(f"TimeDistributed {self.name!r}: wrapped layer "
                                          f"with several outputs is not supported")
        y = outs[0]
        return [y.reshape((b, t) + y.shape[1:])], [mask]

    def output_shapes(self, input_shape):
        from ..model import layer_output_shapes

        inner = layer_output_shapes(self.layer, (input_shape[0],) + tuple(input_shape[2:]))
        return [(input_shape[0], input_shape[1]) + tuple(inner[0][1:])]

    def get_config(self):
        return {"name": self.name, "layer": {"class_name": _class_name(self.layer),
                                             "config": self.layer.get_config()}}

    def __repr__(self):
        return f"TimeDistributed({self.layer!r})"


def _class_name(layer):
    return getattr(layer, "class_name", type(layer).__name__)


def _uses_mask(layer):
    return isinstance(layer, (RNNLayer, Bidirectional, TimeDistributed)) or getattr(
        layer, "uses_mask", False)
