"""Keras 3 operations recorded in functional graphs: the ones masks are made of.

Keras 3 computes masks with ops on symbolic tensors, and a functional model's config
records each op as a node (``module: keras.src.ops...``), and the ``mask`` argument of
every masked call as a reference to the op's output (``Layer.__call__`` step 6):

* ``Masking``: ``Any(NotEqual(x, mask_value), axis=-1)`` (``Masking.compute_mask``);
* ``Embedding(mask_zero=True)``: ``NotEqual(ids, 0)``;
* ``Concatenate``: ``Any(Concatenate([LogicalOr(ExpandDims(m), ZerosLike(x)), OnesLike(y)]))``,
  the merge layers ``LogicalOr(m1, m2)``;
* a mask the user computes: ``keras.ops.not_equal(ids, 0)``, ``ops.any(x > 0, axis=-1)``...

``keras.activations.softmax(x)`` (the ``Softmax`` op) is evaluated too.

:class:`KerasOp` evaluates those element-wise comparisons, logical operations,
reductions and shape helpers with NumPy (``keras/src/ops/numpy.py`` semantics). Any other
op (``Softmax``, ``ReLU``, arithmetic) is refused by name with ``UnsupportedKerasFeature``.
An op's output carries no mask (ops are not layers: no ``compute_mask``).
"""
import numpy as np

from ..errors import GradientNotSupported, InputError, UnsupportedKerasFeature
from .activations import softmax
from .base import Layer
from .merging import broadcast_shape

__all__ = ["KerasOp", "OPS"]


def _dtype(name):
    dt = np.dtype(str(name))
    if dt.kind not in "biuf":
        raise UnsupportedKerasFeature(f"dtype {name!r} in a Keras op is not supported")
    return dt


def _binary(fn):
    return lambda x1, x2: fn(np.asarray(x1), x2)


def _reduce(fn):
    def op(x, axis=None, keepdims=False):
        axis = tuple(axis) if isinstance(axis, list) else axis
        return fn(np.asarray(x), axis=axis, keepdims=bool(keepdims))
    return op


def _like(fill):
    def op(x, dtype=None):
        x = np.asarray(x)
        return np.full(x.shape, fill, _dtype(dtype) if dtype is not None else x.dtype)
    return op


def _squeeze(x, axis=None):
    return np.squeeze(np.asarray(x), axis=tuple(axis) if isinstance(axis, list) else axis)


#: Keras op class name -> NumPy implementation taking the op's call arguments and the
#: options of its config, by Keras's argument names.
OPS = {
    "NotEqual": _binary(np.not_equal),
    "Equal": _binary(np.equal),
    "Greater": _binary(np.greater),
    "GreaterEqual": _binary(np.greater_equal),
    "Less": _binary(np.less),
    "LessEqual": _binary(np.less_equal),
    "LogicalAnd": _binary(np.logical_and),
    "LogicalOr": _binary(np.logical_or),
    "LogicalXor": _binary(np.logical_xor),
    "LogicalNot": lambda x: np.logical_not(np.asarray(x)),
    "Any": _reduce(np.any),
    "All": _reduce(np.all),
    "ExpandDims": lambda x, axis: np.expand_dims(np.asarray(x), tuple(axis) if isinstance(
        axis, list) else axis),
    "Squeeze": _squeeze,
    "ZerosLike": _like(0),
    "OnesLike": _like(1),
    "Concatenate": lambda xs, axis=0: np.concatenate([np.asarray(x) for x in xs], axis=axis),
    "Cast": lambda x, dtype: np.asarray(x).astype(_dtype(dtype)),
    # keras.activations.softmax(x) / ops.softmax: the Softmax layer's function, no mask
    "Softmax": lambda x, axis=-1: softmax(np.asarray(x, np.float32) if np.asarray(
        x).dtype.kind != "f" else np.asarray(x), axis=tuple(axis) if isinstance(axis, list)
        else axis),
}
#: Config keys each op accepts besides ``name`` (its constructor arguments).
_OPTIONS = {"Any": ("axis", "keepdims"), "All": ("axis", "keepdims"), "ExpandDims": ("axis",),
            "Squeeze": ("axis",), "ZerosLike": ("dtype",), "OnesLike": ("dtype",),
            "Concatenate": ("axis",), "Cast": ("dtype",), "Softmax": ("axis",)}


def is_slot(value):
    return isinstance(value, dict) and set(value) == {"__tensor__"}


def _fill(template, values):
    if is_slot(template):
        return values[template["__tensor__"]]
    if isinstance(template, list):
        return [_fill(t, values) for t in template]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    return template


def _slots(template):
    if is_slot(template):
        return [template["__tensor__"]]
    if isinstance(template, list):
        return [i for t in template for i in _slots(t)]
    if isinstance(template, dict):
        return [i for t in template.values() for i in _slots(t)]
    return []


class KerasOp(Layer):
    """One recorded Keras op node, evaluated with NumPy.

    Parameters
    ----------
    op : str
        Keras op class name (``"NotEqual"``, ``"Any"``, ...; see :data:`OPS`).
    options : dict
        The op's config without ``name`` (``{"axis": -1, "keepdims": False}``).
    args, kwargs : list, dict
        The call's arguments with each tensor replaced by ``{"__tensor__": i}``, ``i``
        indexing the node's input tensors in order; constants stay as they are.
    """

    supports_masking = False
    is_op = True

    def __init__(self, op, options=None, args=(), kwargs=None, name=None, keras_version=3):
        self.op = str(op)
        super().__init__(name=name, dtype=None, keras_version=keras_version)
        if self.op not in OPS:
            raise UnsupportedKerasFeature(
                f"Keras op {self.op} ({self.name!r}) is not supported: of the raw ops a "
                f"functional graph can record, lstm_np evaluates only the ones masks are "
                f"made of and softmax ({', '.join(sorted(OPS))}); use a layer instead")
        self.options = dict(options or {})
        extra = set(self.options) - set(_OPTIONS.get(self.op, ()))
        if extra:
            raise UnsupportedKerasFeature(f"Keras op {self.op} ({self.name!r}): unsupported "
                                          f"option(s) {sorted(extra)}")
        self.args, self.kwargs = list(args), dict(kwargs or {})
        self.n_inputs = len(set(_slots(self.args) + _slots(self.kwargs)))
        if sorted(set(_slots(self.args) + _slots(self.kwargs))) != list(range(self.n_inputs)):
            raise UnsupportedKerasFeature(f"Keras op {self.op} ({self.name!r}): malformed "
                                          f"tensor slots")

    @property
    def class_name(self):
        return self.op

    def serialize(self):
        """lstm_np's ``.npz`` stores an op node under the class name ``KerasOp``."""
        return {"class_name": "KerasOp", "config": self.get_config()}

    def call(self, inputs, mask=None):
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != self.n_inputs:
            raise InputError(f"Keras op {self.op} ({self.name!r}) takes {self.n_inputs} "
                             f"tensor(s); received {len(values)}")
        args, kwargs = _fill(self.args, values), _fill(self.kwargs, values)
        try:
            return np.asarray(OPS[self.op](*args, **kwargs, **self.options))
        except (TypeError, ValueError, IndexError) as exc:
            raise InputError(f"Keras op {self.op} ({self.name!r}): {exc}") from None

    def compute_mask(self, inputs, mask=None):
        return None

    def tape_backward(self, cache, d_outputs):
        """Ops make masks: no gradient flows through them (a float one is refused)."""
        g = d_outputs[0]
        if np.asarray(g).dtype.kind == "f" and np.any(g):
            raise GradientNotSupported(f"gradients: Keras op {self.op} ({self.name!r}) has no "
                                       f"backward pass")
        return [None] * self.n_inputs, {}, []

    def compute_output_shape(self, input_shape):
        """Shape rules of the ops in :data:`OPS` (``None`` for unknown dimensions)."""
        shapes = [tuple(s) for s in input_shape]   # an op node's args are always a list
        opt = dict(self.options, **{k: v for k, v in self.kwargs.items() if not is_slot(v)})
        if self.op in ("Any", "All", "Squeeze"):
            (s,) = shapes
            axis = opt.get("axis")
            if axis is None:
                return () if self.op != "Squeeze" else tuple(d for d in s if d != 1)
            axes = {a % len(s) for a in (axis if isinstance(axis, list) else [axis])}
            if opt.get("keepdims"):
                return tuple(1 if i in axes else d for i, d in enumerate(s))
            return tuple(d for i, d in enumerate(s) if i not in axes)
        if self.op == "ExpandDims":
            s = list(shapes[0])
            axis = opt["axis"]
            s.insert(axis % (len(s) + 1) if axis < 0 else axis, 1)
            return tuple(s)
        if self.op == "Concatenate":
            ax = opt.get("axis", 0) % len(shapes[0])
            sizes = [s[ax] for s in shapes]
            out = list(shapes[0])
            out[ax] = None if None in sizes else sum(sizes)
            return tuple(out)
        if self.op == "Softmax":
            return shapes[0]
        return broadcast_shape(shapes)

    def get_config(self):
        return {"name": self.name, "op": self.op, "options": self.options,
                "args": self.args, "kwargs": self.kwargs}

    def __repr__(self):
        return f"KerasOp({self.op}, name={self.name!r})"
