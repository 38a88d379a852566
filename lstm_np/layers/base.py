"""The layer protocol: the few methods every lstm_np layer has, as Keras's ``Layer`` does.

Mirrors Keras 3 ``keras/src/layers/layer.py``. The graph runner (:class:`lstm_np.Model`:
predict, ``summary()``, output shapes, empty batches, states), the loaders
(:mod:`lstm_np.io`), the ``.npz`` format and :mod:`lstm_np.gradients` use only what is
listed here, never a layer's class.

Construction and config
    ``__init__(..., name=None, dtype="float32", keras_version=3, **training_only)``: Keras's
    arguments; the training-only ones (:data:`TRAINING_ONLY`) are accepted and ignored.
    ``from_config(config, keras_version)``: a Keras config dict -> layer (an unknown option
    raises ``UnsupportedKerasFeature`` naming the layer and the option). ``get_config()``:
    JSON-compatible, what ``.npz`` stores; ``serialize()``: ``{"class_name", "config"}``;
    ``class_name``: the Keras class name.
Weights
    ``weight_names`` (array attributes in Keras ``get_weights()`` order), ``get_weights()``,
    ``set_weights(list)``, ``n_weights``, ``count_params()``,
    ``preprocess_weights_for_loading(weights)`` (a Keras file's layout -> ours);
    ``sublayers`` (wrapped layers: their weights follow the layer's own) and
    ``flatten_layers()``.
Computation
    ``call(inputs, mask=None, **call_kwargs)`` -> an array, or a list of ``n_outputs``;
    ``compute_mask(inputs, mask=None)`` -> the output mask(s);
    ``compute_output_shape(input_shape)`` -> a shape, or a list of ``n_outputs``;
    ``call_takes_mask`` (Keras: the call has a ``mask`` argument; only then does ``call``
    receive the mask), ``call_kwargs`` (tensor keywords such as ``initial_state``),
    ``supports_masking`` (Keras 3: false drops the mask after the layer);
    ``stateful``, ``states``, ``reset_states()``.
Gradients
    ``tape_forward(inputs, mask=None, **call_kwargs)`` -> ``(outputs, cache)``: ``call``
    keeping what the backward pass needs; ``tape_backward(cache, d_outputs)`` ->
    ``(d_inputs, d_call_kwargs, d_weights)``. Without ``tape_backward`` a layer raises
    ``GradientNotSupported`` naming it and its class (``check_backward()``).

:meth:`Layer.apply` runs one graph node through this protocol; the runner calls nothing
else.

Adding a layer
--------------
1. Write one class in its family's file (``core``, ``activations``, ``merging``,
   ``reshaping``, ``regularization``, ``rnn/``...; a new family gets a new file), as the
   Keras class of the same name: ``__init__`` with Keras's arguments (passing ``**kwargs``
   to ``super().__init__``), ``get_config`` (``{**super().get_config(), ...}``),
   ``weight_names`` (and ``_check_weights`` for shapes), ``call``, ``compute_mask`` when
   it is not "pass the mask" (or ``supports_masking = False`` to drop it),
   ``compute_output_shape``; optionally ``tape_forward`` / ``tape_backward``.
2. Export it from ``lstm_np/layers/__init__.py`` and add one line
   ``"ClassName": ClassName`` to ``lstm_np/io/registry.py:LAYERS``.
3. Add a row to the README support table, and tests against Keras (every option, masks,
   every route: live, ``.keras``, ``.h5``, ``.npz``; gradients against
   ``tf.GradientTape``).
"""
import numpy as np

from ..errors import (ArgumentError, GradientNotSupported, InputError, LstmNpError,
                      UnsupportedKerasFeature)

__all__ = ["Layer", "TRAINING_ONLY", "CONFIG_META", "as_list", "as_float_array", "as_float",
           "dtype_of"]

#: Keras config keys that only matter for training or construction: accepted and ignored.
TRAINING_ONLY = frozenset({
    "trainable", "seed", "autocast", "build_config", "lora_rank", "lora_alpha",
    "quantization_config",
    "kernel_initializer", "recurrent_initializer", "bias_initializer", "embeddings_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "embeddings_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint", "embeddings_constraint",
    "rate", "stddev", "noise_shape", "l1", "l2",                 # dropout, noise, regularizers
    "dropout", "recurrent_dropout", "unroll", "unit_forget_bias", "implementation",
    "use_cudnn", "reset_after_default",                          # recurrent layers
    # a first layer's declaration of the model input (tf-keras ``Layer.__init__``)
    "input_shape", "batch_input_shape", "batch_shape", "batch_size", "input_dim",
    "input_length", "input_dtype",
})

#: Keys of a serialised layer that are not constructor arguments.
CONFIG_META = ("module", "registered_name", "build_config", "compile_config",
               "shared_object_id")

_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}


def dtype_of(dtype):
    """A Keras dtype (str, numpy dtype or Keras 3 ``DTypePolicy`` dict) -> float32 / float64."""
    if isinstance(dtype, dict):  # {"class_name": "DTypePolicy", "config": {"name": ...}}
        dtype = dtype.get("config", {}).get("name", "float32")
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = repr(dtype)
    if name.startswith("mixed_"):
        name = "float32"
    if name not in _FLOAT_DTYPES:
        raise UnsupportedKerasFeature(f"dtype {dtype!r} is not supported (use float32 or float64)")
    return _FLOAT_DTYPES[name]


def as_float_array(value, dtype, what):
    """``value`` as a C-contiguous array of ``dtype``, refusing non-numeric data."""
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise InputError(f"{what} must be numeric (float, int or bool); received dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_float(x, dtype):
    """``x`` as an array of ``dtype``, copied only when it has another dtype."""
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def as_list(value, what):
    """``list(value)`` for a sequence of arrays; anything else is an ``ArgumentError``."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise ArgumentError(f"{what} expects a list of arrays; received {type(value).__name__}")
    return list(value)


_COUNTERS = {}


def default_name(cls_name):
    """Keras's default layer names: ``snake_case(class)``, then ``_1``, ``_2``, ..."""
    n = _COUNTERS.get(cls_name, 0)
    _COUNTERS[cls_name] = n + 1
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls_name).lstrip("_")
    return base if n == 0 else f"{base}_{n}"


class Layer:
    """Base of every layer: no weights, the identity, the mask passed on (Keras ``Layer``).

    Subclasses override what differs; see the module docstring for the protocol.
    """

    #: Keras's ``_call_has_mask_arg``: only such a layer's ``call`` receives the mask, and
    #: only it accepts a ``mask=`` call argument in a graph.
    call_takes_mask = False
    #: Tensor keyword arguments ``call`` takes besides ``inputs`` and ``mask``.
    call_kwargs = ()
    #: Keras 3 ``supports_masking``: when false, ``compute_mask`` drops the mask.
    supports_masking = True
    #: Array attributes holding the weights, in Keras ``get_weights()`` order.
    weight_names = ()
    #: Wrapped layers, whose weights follow the layer's own (overridden by wrappers).
    sublayers = ()
    #: Config keys holding nested layer configs (a wrapper's ``"layer"``): the registry
    #: builds those layers before ``from_config`` sees the config (layers never import it).
    sublayer_config_keys = ()
    #: ``stateful`` layers keep ``states`` across calls until ``reset_states()``.
    stateful = False
    #: A stateful layer's stored states (``None``: zeros at the next call).
    states = None
    #: A Keras 3 operation recorded in a graph (``keras.ops``), not a layer.
    is_op = False

    def __init__(self, name=None, dtype="float32", keras_version=3, **kwargs):
        self.name = name or default_name(type(self).__name__)
        self.keras_version = int(keras_version)
        self.dtype = dtype_of(dtype) if dtype is not None else np.float32
        unknown = set(kwargs) - TRAINING_ONLY
        if unknown:
            raise ArgumentError(f"{self.label}: unknown argument(s) {sorted(unknown)}")
        for key in ("lora_rank", "quantization_config"):
            if kwargs.get(key):
                self._fail(f"{key}={kwargs[key]!r} is not supported")

    @property
    def class_name(self):
        """The Keras class name (``summary()``, ``.npz``, error messages)."""
        return type(self).__name__

    @property
    def label(self):
        """``Dense 'dense'``: how messages name the layer."""
        return f"{self.class_name} {self.name!r}"

    def _fail(self, message):
        raise UnsupportedKerasFeature(f"{self.label}: {message}")

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, config, keras_version=3):
        """Build the layer from its Keras config dict (Keras ``Layer.from_config``).

        The config's keys are the constructor's arguments; ``keras_version`` picks the
        Keras semantics (``hard_sigmoid``, masks) unless the config names one.
        """
        cfg = {k: v for k, v in config.items() if k not in CONFIG_META}
        cfg.setdefault("keras_version", keras_version)
        try:
            return cls(**cfg)
        except TypeError as exc:   # an unknown option (ArgumentError) or a missing one
            if isinstance(exc, LstmNpError):
                raise UnsupportedKerasFeature(str(exc)) from None
            raise UnsupportedKerasFeature(
                f"{cls.__name__} {config.get('name', '?')!r}: {exc}") from None

    def get_config(self):
        """The layer's arguments as JSON-compatible data (``from_config`` reads it back)."""
        return {"name": self.name, "dtype": np.dtype(self.dtype).name}

    def serialize(self):
        """``{"class_name", "config"}``: the entry a model config lists for the layer."""
        return {"class_name": self.class_name, "config": self.get_config()}

    # ----------------------------------------------------------------- weights
    @property
    def n_weights(self):
        """How many arrays ``set_weights`` takes (the layer's, then its sublayers')."""
        return len(self.weight_names) + sum(s.n_weights for s in self.sublayers)

    def _own_weights(self):
        arrays = [getattr(self, n) for n in self.weight_names]
        return [] if any(a is None for a in arrays) else arrays

    def get_weights(self):
        """Copies of the weights in Keras ``get_weights()`` order ([] before they are set)."""
        return [w.copy() for w in self._own_weights()] + [
            w for s in self.sublayers for w in s.get_weights()]

    def _weights_description(self):
        """``kernel, bias`` for a layer; its sublayers' after their names."""
        parts = [", ".join(self.weight_names)] if self.weight_names else []
        parts += [f"{s.name}: {s._weights_description()}" for s in self.sublayers]
        return "; ".join(parts)

    def set_weights(self, weights):
        """Set the weights from a list in Keras ``get_weights()`` order."""
        weights = as_list(weights, f"{self.label} set_weights")
        if len(weights) != self.n_weights:
            raise InputError(f"{self.label} expects {self.n_weights} weight arrays "
                             f"({self._weights_description()}); received {len(weights)}")
        for name, w in zip(self.weight_names, weights):
            setattr(self, name, as_float_array(w, self.dtype, f"{self.label} weight {name}"))
        start = len(self.weight_names)
        for sub in self.sublayers:
            sub.set_weights(weights[start:start + sub.n_weights])
            start += sub.n_weights
        self._check_weights()

    def _check_weights(self):
        """Raise ``InputError`` when the weights just set do not fit the config."""

    def count_params(self):
        return sum(int(np.prod(w.shape)) for w in self._own_weights()) + sum(
            s.count_params() for s in self.sublayers)

    def preprocess_weights_for_loading(self, weights):
        """Weights as a Keras file stores them -> as ``set_weights`` takes them (tf-keras
        ``hdf5_format.preprocess_weights_for_loading``; the identity but for CuDNN RNNs)."""
        own = len(self.weight_names)
        out, start = list(weights[:own]), own
        for sub in self.sublayers:
            out += sub.preprocess_weights_for_loading(weights[start:start + sub.n_weights])
            start += sub.n_weights
        return out

    def flatten_layers(self):
        """This layer and every sublayer, depth first (Keras ``Layer._flatten_layers``)."""
        yield self
        for sub in self.sublayers:
            yield from sub.flatten_layers()

    def reset_states(self):
        """Zero the stored states of this layer and its sublayers."""
        for sub in self.sublayers:
            sub.reset_states()

    # -------------------------------------------------------------------- call
    @property
    def n_outputs(self):
        """How many tensors ``call`` returns (several: a list)."""
        return 1

    def call(self, inputs, mask=None):
        """The computation (Keras ``Layer.call``): arrays in, an array (or a list) out."""
        return inputs

    def __call__(self, *args, **kwargs):
        """``layer(inputs, ...)`` as in Keras: runs :meth:`call`."""
        return self.call(*args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The output mask (Keras ``Layer.compute_mask``): the input's, or ``None`` when
        ``supports_masking`` is false (Keras 3 drops it)."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        """Output shape (a list for several outputs); ``None`` for unknown dimensions."""
        return tuple(input_shape)

    def _as_outputs(self, value):
        """``call`` / ``compute_mask`` / ``compute_output_shape`` results as a list of
        :attr:`n_outputs` (``None`` masks for every output)."""
        if self.n_outputs == 1:
            return [value]
        return [None] * self.n_outputs if value is None else list(value)

    def output_shapes(self, input_shape):
        """:meth:`compute_output_shape` as a list of :attr:`n_outputs` shapes."""
        return self._as_outputs(self.compute_output_shape(input_shape))

    def apply(self, inputs, mask=None, mask_in_call=True, keep=False, **call_kwargs):
        """One graph node: ``(outputs, masks, cache)``, the first two lists of ``n_outputs``.

        ``call`` receives ``mask`` only when :attr:`call_takes_mask` and ``mask_in_call``
        (Keras 3 does not fill in the mask of a call given ``initial_state`` tensors);
        the output masks are ``compute_mask(inputs, mask)`` either way. With ``keep`` the
        layer runs :meth:`tape_forward` and ``cache`` is what :meth:`tape_backward` takes.
        """
        call_mask = mask if self.call_takes_mask and mask_in_call else None
        if keep:
            outputs, cache = self.tape_forward(inputs, mask=call_mask, **call_kwargs)
        else:
            outputs, cache = self.call(inputs, mask=call_mask, **call_kwargs), None
        return self._as_outputs(outputs), self._as_outputs(self.compute_mask(inputs, mask)), cache

    # --------------------------------------------------------------- gradients
    def tape_forward(self, inputs, mask=None, **call_kwargs):
        """``call``, also returning what :meth:`tape_backward` needs: ``(outputs, cache)``."""
        return self.call(inputs, mask=mask, **call_kwargs), None

    def tape_backward(self, cache, d_outputs):
        """Gradients of ``sum(outputs * d_outputs)`` for one :meth:`tape_forward`.

        ``d_outputs`` holds one array per output (zeros where no gradient flows). Returns
        ``(d_inputs, d_call_kwargs, d_weights)``: ``d_inputs`` has the inputs' structure
        (``None``: no gradient, e.g. integer ids), ``d_call_kwargs`` a dict such as
        ``{"initial_state": [...]}``, ``d_weights`` a list in ``get_weights()`` order.
        """
        raise self._no_backward()

    def _no_backward(self):
        return GradientNotSupported(f"gradients: layer {self.name!r} of class "
                                    f"{self.class_name} has no backward pass")

    def check_backward(self):
        """Raise ``GradientNotSupported`` unless this layer and its sublayers have a
        backward pass (checked before a gradient computes anything)."""
        if type(self).tape_backward is Layer.tape_backward:
            raise self._no_backward()
        for sub in self.sublayers:
            sub.check_backward()

    def __repr__(self):
        return f"{self.class_name}(name={self.name!r})"
