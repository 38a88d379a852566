"""Keras's non-recurrent layers for inference: thin classes around pure array functions.

Each class mirrors one Keras 3 layer (``keras/src/layers/...``): its config keys, its
``get_weights()`` order, its ``call`` and its mask rule (``compute_mask``; a layer whose
``supports_masking`` is false drops the incoming mask, as Keras 3 does).

Every layer has the same small interface, used by :class:`lstm_np.Model`:

* ``call(inputs, mask=None)`` -> array (``inputs`` is a list for merge layers);
* ``compute_mask(inputs, mask)`` -> output mask or ``None``;
* ``output_shape(input_shape)`` -> shape tuple with ``None`` for unknown dimensions;
* ``get_weights()`` / ``set_weights(list)`` / ``count_params()`` / ``get_config()``.
"""
import time

import numpy as np

from .. import _jit
from ..activations import activate, resolve
from ..errors import InputError, UnsupportedKerasFeature
from ..kernels.dispatch import DenseCompute
from ._rnn import _dtype_of, as_list

__all__ = [
    "Layer", "InputLayer", "Dense", "Activation", "Softmax", "Identity", "Dropout",
    "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Embedding", "Masking", "RepeatVector", "Flatten", "Reshape",
    "Permute", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "apply_activation",
]


# ----------------------------------------------------------------------------- functions
def activation_name(identifier):
    """A Keras activation identifier (str, None, serialised dict, function) -> its name."""
    if identifier is None:
        return "linear"
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier.get("class_name"))
        return cfg if isinstance(cfg, str) else identifier.get("class_name")
    return getattr(identifier, "__name__", identifier)


def softmax(x, axis=-1, overwrite=False):
    """``exp(x - max) / sum`` along ``axis`` (Keras ``activations.softmax``).

    ``overwrite=True`` computes in ``x``'s memory (a caller's fresh array): no temporaries.
    """
    e = x if overwrite else x.copy()
    e -= np.max(e, axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def apply_activation(x, identifier, keras_version=3, where="activation", overwrite=False):
    """Apply a Keras activation by name; ``softmax`` / ``log_softmax`` act on the last axis.

    ``overwrite=True`` lets softmax reuse ``x``'s memory (pass only a fresh array)."""
    name = activation_name(identifier)
    if name == "softmax":
        return softmax(x, overwrite=overwrite)
    if name == "log_softmax":
        return log_softmax(x)
    return activate(x, resolve(name, keras_version, where))


def _check_activation(identifier, keras_version, where):
    name = activation_name(identifier)
    if name not in ("softmax", "log_softmax"):
        resolve(name, keras_version, where)   # raises UnsupportedActivation early


# ----------------------------------------------------------------------------- base
class Layer:
    """Base class: no weights, mask passed through when ``supports_masking``."""

    supports_masking = True
    #: Keras config keys that do not change inference (accepted and ignored).
    IGNORED = frozenset({
        "trainable", "dtype", "kernel_initializer", "bias_initializer", "kernel_regularizer",
        "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
        "embeddings_initializer", "embeddings_regularizer", "embeddings_constraint", "seed",
        "noise_shape", "input_shape", "batch_input_shape", "batch_size", "input_dim",
        "input_length", "lora_rank", "lora_alpha", "quantization_config", "build_config",
        "rate", "stddev", "noise_shape", "l1", "l2", "autocast",
    })

    def __init__(self, name=None, dtype="float32", keras_version=3, **kwargs):
        self.name = name or _default_name(type(self).__name__)
        self.keras_version = int(keras_version)
        self.dtype = _dtype_of(dtype) if dtype is not None else np.float32
        unknown = set(kwargs) - self.IGNORED
        if unknown:
            raise UnsupportedKerasFeature(
                f"{type(self).__name__} {self.name!r}: unsupported option(s) {sorted(unknown)}")
        for key in ("lora_rank", "quantization_config"):
            if kwargs.get(key):
                raise UnsupportedKerasFeature(
                    f"{type(self).__name__} {self.name!r}: {key}={kwargs[key]!r} is not supported")

    @property
    def class_name(self):
        return type(self).__name__

    def _fail(self, message):
        raise UnsupportedKerasFeature(f"{self.class_name} {self.name!r}: {message}")

    # weights
    weight_names = ()

    def get_weights(self):
        return [getattr(self, n).copy() for n in self.weight_names]

    def set_weights(self, weights):
        weights = as_list(weights, f"{self.class_name} {self.name!r} set_weights")
        if len(weights) != len(self.weight_names):
            raise InputError(f"{self.class_name} {self.name!r} expects {len(self.weight_names)} "
                             f"weight array(s) {list(self.weight_names)}; received {len(weights)}")
        for n, w in zip(self.weight_names, weights):
            setattr(self, n, np.ascontiguousarray(w, dtype=self.dtype))
        self._check_weights()

    def _check_weights(self):
        pass

    def count_params(self):
        return sum(int(np.prod(np.shape(getattr(self, n)))) for n in self.weight_names)

    # call
    def call(self, inputs, mask=None):
        return inputs

    def compute_mask(self, inputs, mask):
        return mask if self.supports_masking else None

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def reset_states(self):
        pass

    def get_config(self):
        cfg = {"name": self.name, "dtype": np.dtype(self.dtype).name}
        cfg.update(self._config())
        return cfg

    def _config(self):
        return {}

    def __repr__(self):
        return f"{self.class_name}(name={self.name!r})"


_COUNTERS = {}


def _default_name(cls):
    n = _COUNTERS.get(cls, 0)
    _COUNTERS[cls] = n + 1
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")
    return base if n == 0 else f"{base}_{n}"


def _as_float(x, dtype):
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


# ----------------------------------------------------------------------------- input
class InputLayer(Layer):
    """A model input: ``batch_shape`` (Keras 3) or ``batch_input_shape`` (Keras 2)."""

    def __init__(self, batch_shape=None, batch_input_shape=None, shape=None, dtype="float32",
                 sparse=False, ragged=False, name=None, keras_version=3, optional=False,
                 batch_size=None, input_tensor=None, **kwargs):
        name = name or _default_name("InputLayer")
        if sparse or ragged:
            raise UnsupportedKerasFeature(f"InputLayer {name!r}: sparse/ragged inputs are not supported")
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

    def output_shape(self, input_shape=None):
        return self.batch_shape

    def get_config(self):
        return {"name": self.name, "batch_shape": None if self.batch_shape is None
                else list(self.batch_shape), "dtype": self.input_dtype.name}


# ----------------------------------------------------------------------------- core
class Dense(Layer):
    """``act(x @ kernel + bias)`` on the last axis of any-rank input (Keras ``Dense``)."""

    def __init__(self, units, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activation_name(activation)
        self.use_bias = bool(use_bias)
        _check_activation(self.activation, self.keras_version, f"Dense {self.name!r} activation")
        self.weight_names = ("kernel", "bias") if self.use_bias else ("kernel",)
        self.kernel = self.bias = None
        self._compute = None

    def _check_weights(self):
        self._compute = None
        if self.kernel.ndim != 2 or self.kernel.shape[1] != self.units:
            raise InputError(f"Dense {self.name!r}: kernel must have shape (input_dim, "
                             f"{self.units}); received {self.kernel.shape}")
        if self.use_bias and self.bias.shape != (self.units,):
            raise InputError(f"Dense {self.name!r}: bias must have shape ({self.units},); "
                             f"received {self.bias.shape}")

    def call(self, inputs, mask=None):
        x = _as_float(inputs, self.dtype)
        if x.shape[-1] != self.kernel.shape[0]:
            raise InputError(f"Dense {self.name!r} expects last dimension {self.kernel.shape[0]}; "
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
                             f"Dense {self.name!r} activation", overwrite=True)
        _jit.spent(time.perf_counter() - t0)
        return y

    def compute(self):
        """The kernel and bias prepared for the JIT kernels (None: NumPy only)."""
        if self._compute is None:
            if self.activation == "log_softmax":
                return None
            code = "softmax" if self.activation == "softmax" else resolve(
                self.activation, self.keras_version, f"Dense {self.name!r} activation")
            self._compute = DenseCompute(self.kernel, self.bias if self.use_bias else None,
                                         code)
        return self._compute

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_name(activation)
        _check_activation(self.activation, self.keras_version,
                          f"Activation {self.name!r} activation")

    def call(self, inputs, mask=None):
        return apply_activation(_as_float(inputs, self.dtype), self.activation,
                                self.keras_version, f"Activation {self.name!r}")

    def _config(self):
        return {"activation": self.activation}


class Softmax(Layer):
    """Keras ``Softmax`` with a mask (``keras_version`` picks the rule):

    * Keras 3 (``activations/softmax.py``): masked positions (``mask`` false, or <= 0.5 for a
      non-boolean mask) get -1e9 before the softmax and 0 after it;
    * tf-keras: ``inputs + (1 - cast(mask)) * -1e9``, and no zeroing after, so a fully
      masked row is uniform; with ``robust_masking`` -1e9 replaces the masked inputs.
    """

    uses_mask = True

    def __init__(self, axis=-1, robust_masking=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.robust_masking = bool(robust_masking)

    def masked_inputs(self, inputs, mask):
        """``(x with the mask applied, keep)``; ``keep`` is the boolean mask where the
        masked positions are replaced (gradient 0 there), else None."""
        x = _as_float(inputs, self.dtype)
        if mask is None:
            return x, None
        mask = np.asarray(mask)
        if mask.ndim > x.ndim or any(m not in (1, i) for m, i in
                                     zip(mask.shape[::-1], x.shape[::-1])):
            raise InputError(f"Softmax {self.name!r}: mask of shape {mask.shape} does not "
                             f"broadcast to inputs of shape {x.shape}")
        big = self.dtype(-1e9)
        if self.keras_version == 2 and not self.robust_masking:
            return x + (self.dtype(1) - mask.astype(self.dtype)) * big, None
        keep = mask if mask.dtype == bool else mask > 0.5
        return np.where(keep, x, big), keep

    def call(self, inputs, mask=None):
        x, keep = self.masked_inputs(inputs, mask)
        y = softmax(x, axis=self.axis)
        if keep is not None and self.keras_version != 2:
            y = np.where(keep, y, self.dtype(0))
        return y

    def _config(self):
        cfg = {"axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}
        if self.robust_masking:
            cfg["robust_masking"] = True
        return cfg


class Identity(Layer):
    """Layers that are the identity at inference (dropout and noise layers)."""


class Dropout(Identity):
    pass


class SpatialDropout1D(Identity):
    pass


class GaussianNoise(Identity):
    pass


class GaussianDropout(Identity):
    pass


class AlphaDropout(Identity):
    pass


class ActivityRegularization(Identity):
    pass


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
            raise InputError(f"Embedding {self.name!r}: embeddings must have shape "
                             f"{(self.input_dim, self.output_dim)}; received {self.embeddings.shape}")

    def call(self, inputs, mask=None):
        ids = np.asarray(inputs).astype(np.int32)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise InputError(f"Embedding {self.name!r}: indices must be in [0, {self.input_dim}); "
                             f"received values in [{ids.min()}, {ids.max()}]")
        return self.embeddings[ids]

    def compute_mask(self, inputs, mask):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero}


class Masking(Layer):
    """Mask timesteps whose features all equal ``mask_value``; zero them in the output."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _mask(self, inputs):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs, mask=None):
        x = _as_float(inputs, self.dtype)
        return np.where(self._mask(x)[..., None], x, self.dtype(0))

    def compute_mask(self, inputs, mask):
        return self._mask(_as_float(inputs, self.dtype))

    def _config(self):
        return {"mask_value": self.mask_value}


# ----------------------------------------------------------------------------- reshaping
class RepeatVector(Layer):
    supports_masking = False

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise InputError(f"RepeatVector {self.name!r} expects 2-D input; received {x.shape}")
        return np.repeat(x[:, None, :], self.n, axis=1)

    def output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def _config(self):
        return {"n": self.n}


class Flatten(Layer):
    supports_masking = False

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return x.reshape(x.shape[0], -1)

    def output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def _config(self):
        return {"data_format": self.data_format}


class Reshape(Layer):
    supports_masking = False

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs, mask=None):
        x = np.asarray(inputs)
        return x.reshape((x.shape[0],) + self.target_shape)

    def output_shape(self, input_shape):
        shape = list(self.target_shape)
        if -1 in shape:
            rest = input_shape[1:]
            if any(d is None for d in rest):
                shape[shape.index(-1)] = None
            else:
                known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
                shape[shape.index(-1)] = int(np.prod(rest, dtype=np.int64)) // known
        return (input_shape[0],) + tuple(shape)

    def _config(self):
        return {"target_shape": list(self.target_shape)}


class Permute(Layer):
    supports_masking = False

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            self._fail(f"dims must be a permutation of 1..{len(self.dims)}; received {self.dims}")

    def call(self, inputs, mask=None):
        return np.transpose(np.asarray(inputs), (0,) + self.dims)

    def output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def _config(self):
        return {"dims": list(self.dims)}


# ----------------------------------------------------------------------------- merging
def _broadcast_shape(shapes):
    out = []
    for dims in zip(*[s[::-1] for s in shapes]):
        known = [d for d in dims if d is not None and d != 1]
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out[::-1])


class _Merge(Layer):
    """Elementwise merge of a list of inputs; the output mask is the OR of all masks."""

    min_inputs = 2

    def _inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < self.min_inputs:
            raise InputError(f"{self.class_name} {self.name!r} expects a list of at least "
                             f"{self.min_inputs} inputs")
        xs = [_as_float(x, self.dtype) for x in inputs]
        if len({x.ndim for x in xs}) != 1:
            self._fail("inputs of different ranks are not supported")
        return xs

    def call(self, inputs, mask=None):
        xs = self._inputs(inputs)
        return self._merge(xs)

    def compute_mask(self, inputs, mask):
        if mask is None or any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = np.logical_or(out, m)
        return out

    def output_shape(self, input_shape):
        return _broadcast_shape(input_shape)


class Add(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    def _merge(self, xs):
        if len(xs) != 2:
            raise InputError(f"Subtract {self.name!r} expects exactly 2 inputs")
        return xs[0] - xs[1]


class Multiply(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / self.dtype(len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out


class Minimum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Concatenate along ``axis``; the mask rule is Keras 3 ``Concatenate.compute_mask``."""

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _merge(self, xs):
        return np.concatenate(xs, axis=self.axis)

    def compute_mask(self, inputs, mask):
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

    def output_shape(self, input_shape):
        shape = list(input_shape[0])
        ax = self.axis % len(shape)
        sizes = [s[ax] for s in input_shape]
        shape[ax] = None if None in sizes else sum(sizes)
        return tuple(shape)

    def _config(self):
        return {"axis": self.axis}

