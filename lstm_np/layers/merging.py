"""Keras's merging layers (``keras/src/layers/merging``): elementwise merges of a list of
inputs and ``Concatenate``. The output mask is the OR of the input masks (Keras
``Merge.compute_mask``); ``Concatenate`` has its own rule."""
import numpy as np

from ..errors import GradientNotSupported, InputError
from .base import Layer, as_float

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "broadcast_shape"]


def broadcast_shape(shapes):
    """NumPy broadcasting of shapes with ``None`` for unknown dimensions."""
    out = []
    for dims in zip(*[s[::-1] for s in shapes]):
        known = [d for d in dims if d is not None and d != 1]
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out[::-1])


def _fold(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


class _Merge(Layer):
    """Elementwise merge of a list of inputs (Keras ``Merge``)."""

    min_inputs = 2

    def _inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < self.min_inputs:
            raise InputError(f"{self.label} expects a list of at least "
                             f"{self.min_inputs} inputs")
        xs = [as_float(x, self.dtype) for x in inputs]
        if len({x.ndim for x in xs}) != 1:
            self._fail("inputs of different ranks are not supported")
        return xs

    def call(self, inputs, mask=None):
        return self._merge(self._inputs(inputs))

    def compute_mask(self, inputs, mask=None):
        if mask is None or any(m is None for m in mask):
            return None
        return _fold(np.logical_or, list(mask))

    def compute_output_shape(self, input_shape):
        return broadcast_shape(input_shape)

    def tape_forward(self, inputs, mask=None):
        """The inputs' shapes are the cache; broadcasting merges have no backward."""
        xs = self._inputs(inputs)
        if len({x.shape for x in xs}) != 1:
            raise GradientNotSupported(f"gradients: {self.label}: inputs of "
                                       f"different (broadcast) shapes are not supported")
        return self._merge(xs), [x.shape for x in xs]


class Add(_Merge):
    def _merge(self, xs):
        return _fold(np.add, xs)

    def tape_backward(self, shapes, d_outputs):
        return [d_outputs[0]] * len(shapes), {}, []


class Subtract(_Merge):
    def _merge(self, xs):
        if len(xs) != 2:
            raise InputError(f"{self.label} expects exactly 2 inputs")
        return xs[0] - xs[1]

    def tape_backward(self, shapes, d_outputs):
        return [d_outputs[0], -d_outputs[0]], {}, []


class Multiply(_Merge):
    def _merge(self, xs):
        return _fold(np.multiply, xs)


class Average(_Merge):
    def _merge(self, xs):
        return _fold(np.add, xs) / self.dtype(len(xs))

    def tape_backward(self, shapes, d_outputs):
        g = d_outputs[0]
        return [g / g.dtype.type(len(shapes))] * len(shapes), {}, []


class Maximum(_Merge):
    def _merge(self, xs):
        return _fold(np.maximum, xs)


class Minimum(_Merge):
    def _merge(self, xs):
        return _fold(np.minimum, xs)


class Concatenate(_Merge):
    """Concatenate along ``axis``; the mask rule is Keras 3 ``Concatenate.compute_mask``."""

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _merge(self, xs):
        return np.concatenate(xs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            x = np.asarray(x)
            if m is None:
                full.append(np.ones(x.shape, bool))
            elif m.ndim < x.ndim:
                full.append(np.broadcast_to(np.asarray(m, bool)[..., None], x.shape))
            else:
                full.append(np.asarray(m, bool))
        return np.any(np.concatenate(full, axis=self.axis), axis=-1)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape[0])
        ax = self.axis % len(shape)
        sizes = [s[ax] for s in input_shape]
        shape[ax] = None if None in sizes else sum(sizes)
        return tuple(shape)

    def tape_forward(self, inputs, mask=None):
        xs = self._inputs(inputs)
        return self._merge(xs), [x.shape for x in xs]

    def tape_backward(self, shapes, d_outputs):
        cuts = np.cumsum([s[self.axis] for s in shapes])[:-1]
        return list(np.split(d_outputs[0], cuts, axis=self.axis)), {}, []

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
