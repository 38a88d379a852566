"""Keras's core layers (``keras/src/layers/core``): ``InputLayer``, ``Dense``, ``Embedding``,
``Masking`` and ``Identity``."""
import time

import numpy as np

from .. import _jit
from ..activations import resolve
from ..errors import InputError, UnsupportedKerasFeature
from ..kernels.dispatch import DenseCompute
from .activations import activation_backward, activation_name, apply_activation, check_activation
from .base import Layer, as_float, default_name

__all__ = ["InputLayer", "Dense", "Embedding", "Masking", "Identity"]


def _pass_gradient(layer, cache, d_outputs):
    """``tape_backward`` of a layer that is the identity for gradients."""
    return d_outputs[0], {}, []


class InputLayer(Layer):
    """A model input: ``batch_shape`` (Keras 3) or ``batch_input_shape`` (Keras 2); the
    input is cast to ``dtype`` (Keras ``InputLayer``)."""

    def __init__(self, batch_shape=None, batch_input_shape=None, shape=None, dtype="float32",
                 sparse=False, ragged=False, name=None, keras_version=3, optional=False,
                 batch_size=None, input_tensor=None, **kwargs):
        name = name or default_name("InputLayer")
        if sparse or ragged:
            raise UnsupportedKerasFeature(f"InputLayer {name!r}: sparse/ragged inputs are not "
                                          f"supported")
        if optional:
            raise UnsupportedKerasFeature(f"InputLayer {name!r}: optional=True is not supported")
        shape_ = batch_shape if batch_shape is not None else batch_input_shape
        if shape_ is None and shape is not None:
            shape_ = (batch_size,) + tuple(shape)
        self.batch_shape = None if shape_ is None else tuple(
            None if d is None else int(d) for d in shape_)
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name", "float32")
        self.input_dtype = np.dtype(dtype or "float32")
        super().__init__(name=name, dtype=None, keras_version=keras_version, **kwargs)

    def call(self, inputs, mask=None):
        return np.asarray(inputs).astype(self.input_dtype, copy=False)

    def compute_output_shape(self, input_shape=None):
        return self.batch_shape

    def get_config(self):
        return {"name": self.name, "batch_shape": None if self.batch_shape is None
                else list(self.batch_shape), "dtype": self.input_dtype.name}

    tape_backward = _pass_gradient


class Dense(Layer):
    """``act(x @ kernel + bias)`` on the last axis of any-rank input (Keras ``Dense``)."""

    def __init__(self, units, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activation_name(activation)
        self.use_bias = bool(use_bias)
        check_activation(self.activation, self.keras_version, f"{self.label} activation")
        self.weight_names = ("kernel", "bias") if self.use_bias else ("kernel",)
        self.kernel = self.bias = None
        self._compute = None

    def _check_weights(self):
        self._compute = None
        if self.kernel.ndim != 2 or self.kernel.shape[1] != self.units:
            raise InputError(f"{self.label}: kernel must have shape (input_dim, "
                             f"{self.units}); received {self.kernel.shape}")
        if self.use_bias and self.bias.shape != (self.units,):
            raise InputError(f"{self.label}: bias must have shape ({self.units},); "
                             f"received {self.bias.shape}")

    def call(self, inputs, mask=None):
        x = as_float(inputs, self.dtype)
        if x.shape[-1] != self.kernel.shape[0]:
            raise InputError(f"{self.label} expects last dimension {self.kernel.shape[0]}; "
                             f"received input of shape {x.shape}")
        # one GEMM over all leading axes (np.matmul on (B, T, D) runs B separate ones)
        x2 = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        compute = self.compute()
        y = compute.forward(x2) if compute is not None else None
        if y is not None:
            return y.reshape(x.shape[:-1] + (self.units,))
        t0 = time.perf_counter()
        y = np.dot(x2, self.kernel).reshape(x.shape[:-1] + (self.units,))
        if self.use_bias:
            y += self.bias
        y = apply_activation(y, self.activation, self.keras_version,
                             f"{self.label} activation", overwrite=True)
        _jit.spent(time.perf_counter() - t0)
        return y

    def compute(self):
        """The kernel and bias prepared for the JIT kernels (None: NumPy only)."""
        if self._compute is None:
            if self.activation == "log_softmax":
                return None
            code = "softmax" if self.activation == "softmax" else resolve(
                self.activation, self.keras_version, f"{self.label} activation")
            self._compute = DenseCompute(self.kernel, self.bias if self.use_bias else None,
                                         code)
        return self._compute

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def tape_forward(self, inputs, mask=None):
        y = self.call(inputs)              # validates; the pre-activation is recomputed
        x = as_float(inputs, self.dtype)
        z = np.matmul(x, self.kernel)
        if self.use_bias:
            z = z + self.bias
        return y, (x, z, y)

    def tape_backward(self, cache, d_outputs):
        x, z, y = cache
        dz = activation_backward(self.activation, self.keras_version, z, y, d_outputs[0],
                                 f"{self.label} activation").astype(self.dtype, copy=False)
        dz2 = dz.reshape(-1, self.units)                       # (N, U)
        d_kernel = x.reshape(-1, x.shape[-1]).T @ dz2          # (D, U)
        d_weights = [d_kernel] + ([dz2.sum(axis=0)] if self.use_bias else [])
        return dz @ self.kernel.T, {}, d_weights

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias}


class Embedding(Layer):
    """``embeddings[ids]``; ``mask_zero`` makes the mask ``ids != 0`` (Keras ``Embedding``)."""

    weight_names = ("embeddings",)

    def __init__(self, input_dim, output_dim, mask_zero=False, sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse:
            self._fail("sparse=True is not supported")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None

    def _check_weights(self):
        if self.embeddings.shape != (self.input_dim, self.output_dim):
            raise InputError(f"{self.label}: embeddings must have shape "
                             f"{(self.input_dim, self.output_dim)}; "
                             f"received {self.embeddings.shape}")

    def call(self, inputs, mask=None):
        ids = np.asarray(inputs).astype(np.int32)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise InputError(f"{self.label}: indices must be in [0, {self.input_dim}); "
                             f"received values in [{ids.min()}, {ids.max()}]")
        return self.embeddings[ids]

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def tape_forward(self, inputs, mask=None):
        return self.call(inputs), np.asarray(inputs).astype(np.intp)

    def tape_backward(self, ids, d_outputs):
        table = np.zeros_like(self.embeddings)                 # (V, E)
        np.add.at(table, ids, d_outputs[0])
        return None, {}, [table]                               # ids have no gradient

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "mask_zero": self.mask_zero}


class Masking(Layer):
    """Mask timesteps whose features all equal ``mask_value`` and zero them in the output
    (Keras ``Masking``)."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, inputs):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs, mask=None):
        x = as_float(inputs, self.dtype)
        return np.where(self._keep(x)[..., None], x, self.dtype(0))

    def compute_mask(self, inputs, mask=None):
        return self._keep(as_float(inputs, self.dtype))

    def tape_forward(self, inputs, mask=None):
        return self.call(inputs), self.compute_mask(inputs)

    def tape_backward(self, keep, d_outputs):
        g = d_outputs[0]
        return np.where(keep[..., None], g, g.dtype.type(0)), {}, []

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Identity(Layer):
    """The identity (Keras ``Identity``); the base of the layers that are the identity at
    inference (:mod:`lstm_np.layers.regularization`)."""

    tape_backward = _pass_gradient
