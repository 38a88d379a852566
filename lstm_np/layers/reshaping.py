"""Keras's reshaping layers (``keras/src/layers/reshaping``): ``RepeatVector``, ``Flatten``,
``Reshape`` and ``Permute``. None supports masking: Keras 3 drops the mask after them."""
import numpy as np

from ..errors import InputError
from .base import Layer

__all__ = ["RepeatVector", "Flatten", "Reshape", "Permute"]


def _size(dims):
    """The number of elements of ``dims``, or ``None`` when one is unknown."""
    return None if any(d is None for d in dims) else int(np.prod(dims, dtype=np.int64))


class RepeatVector(Layer):
    """``(B, D) -> (B, n, D)`` (Keras ``RepeatVector``)."""

    supports_masking = False

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise InputError(f"{self.label} expects 2-D input; received {x.shape}")
        return np.repeat(x[:, None, :], self.n, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Flatten(Layer):
    """``(B, ...) -> (B, prod(...))``; ``channels_first`` moves the channels last first
    (Keras ``Flatten``)."""

    supports_masking = False

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _size(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """``(B, ...) -> (B, *target_shape)``, one ``-1`` inferred (Keras ``Reshape``)."""

    supports_masking = False

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        return x.reshape((x.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        shape = list(self.target_shape)
        if -1 in shape:
            total = _size(input_shape[1:])
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            shape[shape.index(-1)] = None if total is None else total // known
        return (input_shape[0],) + tuple(shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permute the non-batch axes by ``dims`` (1-based, Keras ``Permute``)."""

    supports_masking = False

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            self._fail(f"dims must be a permutation of 1..{len(self.dims)}; received {self.dims}")

    def call(self, inputs, mask=None):
        return np.transpose(np.asarray(inputs), (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
