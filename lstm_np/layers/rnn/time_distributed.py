"""``TimeDistributed``: a layer applied to every timestep (Keras 3
``keras/src/layers/rnn/time_distributed.py``)."""
import numpy as np

from ...errors import GradientNotSupported, InputError, UnsupportedKerasFeature
from ..base import Layer

__all__ = ["TimeDistributed"]


class TimeDistributed(Layer):
    """Apply ``layer`` to every timestep: ``(B, T, ...) -> (B, T, ...)`` (Keras
    ``TimeDistributed``); the mask passes through unchanged. The wrapped layer runs on the
    ``B * T`` timesteps as one batch, through the layer protocol."""

    call_takes_mask = True
    sublayer_config_keys = ("layer",)

    def __init__(self, layer, name=None, **kwargs):
        super().__init__(name=name or "time_distributed", **kwargs)
        if not isinstance(layer, Layer):
            self._fail(f"wrapped object {type(layer).__name__} is not a layer")
        self.layer = layer
        self.stateful = layer.stateful

    @property
    def sublayers(self):
        return (self.layer,)

    def _flat(self, x, mask, error):
        """``(B, T, ...) -> (B * T, ...)``, refusing what the wrapped layer cannot take."""
        x = np.asarray(x)
        if x.ndim < 3:
            raise InputError(f"{self.label} expects input of rank >= 3 "
                             f"(batch, timesteps, ...); received shape {x.shape}")
        if mask is not None and self.layer.call_takes_mask:
            self._fail(f"a mask reaching the wrapped {self.layer.label} is not supported")
        if self.layer.n_outputs != 1:
            raise error(f"{self.label}: wrapped layer with several outputs is not supported")
        return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])

    def _unflat(self, x, y):
        return y.reshape(x.shape[:2] + y.shape[1:])

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        y = self.layer.call(self._flat(x, mask, UnsupportedKerasFeature))
        return self._unflat(x, y)

    def compute_output_shape(self, input_shape):
        inner = self.layer.output_shapes((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[0][1:])

    def tape_forward(self, inputs, mask=None):
        x = np.asarray(inputs)
        y, cache = self.layer.tape_forward(self._flat(x, mask, GradientNotSupported))
        return self._unflat(x, y), (cache, x.shape, y.shape)

    def tape_backward(self, cache, d_outputs):
        cache, x_shape, y_shape = cache
        dx, _, dw = self.layer.tape_backward(cache, [d_outputs[0].reshape(y_shape)])
        return (None if dx is None else dx.reshape(x_shape)), {}, dw

    def get_config(self):
        return {"name": self.name, "layer": self.layer.serialize()}

    def __repr__(self):
        return f"TimeDistributed({self.layer!r})"
