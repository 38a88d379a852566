"""Keras's activation layers (``keras/src/layers/activations``): ``Activation`` and
``Softmax``, and activations by Keras name (``softmax`` and ``log_softmax`` included), forward
and backward, for every layer with an ``activation`` argument."""
import numpy as np

from ..activation_grads import activate_grad
from ..activations import activate, resolve
from ..errors import InputError
from .base import Layer, as_float

__all__ = ["Activation", "Softmax", "activation_name", "apply_activation",
           "activation_backward", "check_activation", "softmax", "log_softmax"]


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


def activation_backward(name, keras_version, z, y, g, where):
    """``d loss / d z`` for ``y = act(z)`` and ``g = d loss / d y`` (TF's derivative at kinks)."""
    if name == "softmax":
        return y * (g - np.sum(g * y, axis=-1, keepdims=True))
    if name == "log_softmax":
        return g - softmax(z) * np.sum(g, axis=-1, keepdims=True)
    return g * activate_grad(z, resolve(name, keras_version, where), y)


def check_activation(identifier, keras_version, where):
    """Raise ``UnsupportedActivation`` now for a name :func:`apply_activation` cannot run."""
    name = activation_name(identifier)
    if name not in ("softmax", "log_softmax"):
        resolve(name, keras_version, where)


class Activation(Layer):
    """``activation(x)`` (Keras ``Activation``)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_name(activation)
        check_activation(self.activation, self.keras_version, f"{self.label} activation")

    def call(self, inputs, mask=None):
        return apply_activation(as_float(inputs, self.dtype), self.activation,
                                self.keras_version, self.label)

    def tape_forward(self, inputs, mask=None):
        z = as_float(inputs, self.dtype)
        y = apply_activation(z, self.activation, self.keras_version, self.label)
        return y, (z, y)

    def tape_backward(self, cache, d_outputs):
        z, y = cache
        return activation_backward(self.activation, self.keras_version, z, y, d_outputs[0],
                                   self.label), {}, []

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class Softmax(Layer):
    """Keras ``Softmax`` with a mask (``keras_version`` picks the rule):

    * Keras 3 (``activations/softmax.py``): masked positions (``mask`` false, or <= 0.5 for a
      non-boolean mask) get -1e9 before the softmax and 0 after it;
    * tf-keras: ``inputs + (1 - cast(mask)) * -1e9``, and no zeroing after, so a fully
      masked row is uniform; with ``robust_masking`` -1e9 replaces the masked inputs.
    """

    call_takes_mask = True

    def __init__(self, axis=-1, robust_masking=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.robust_masking = bool(robust_masking)

    def masked_inputs(self, inputs, mask):
        """``(x with the mask applied, keep)``; ``keep`` is the boolean mask where the
        masked positions are replaced (gradient 0 there), else None."""
        x = as_float(inputs, self.dtype)
        if mask is None:
            return x, None
        mask = np.asarray(mask)
        if mask.ndim > x.ndim or any(m not in (1, i) for m, i in
                                     zip(mask.shape[::-1], x.shape[::-1])):
            raise InputError(f"{self.label}: mask of shape {mask.shape} does not "
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

    def tape_forward(self, inputs, mask=None):
        y = self.call(inputs, mask)
        _, keep = self.masked_inputs(inputs, mask)
        return y, (y, keep)

    def tape_backward(self, cache, d_outputs):
        y, keep = cache           # keep: positions replaced by -1e9 (Keras 3, robust) get 0
        g = d_outputs[0]
        if keep is not None and self.keras_version != 2:       # zeroed after the softmax
            g = np.where(keep, g, g.dtype.type(0))
        dz = y * (g - np.sum(g * y, axis=self.axis, keepdims=True))
        if keep is not None:
            dz = np.where(keep, dz, dz.dtype.type(0))
        return dz, {}, []

    def get_config(self):
        cfg = {**super().get_config(),
               "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}
        if self.robust_masking:
            cfg["robust_masking"] = True
        return cfg
