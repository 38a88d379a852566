"""Shared Keras RNN-layer semantics: arguments, validation, masks, states, ``stateful``.

:class:`RecurrentLayer` is what every recurrent layer shares (``RNNLayer``, ``StackedRNN``,
``Bidirectional``): Keras's RNN call ``layer(x, initial_state=..., mask=...)``, its outputs
(the sequence output(s), then the states with ``return_state``) and its mask rule (Keras 3
``RNN.compute_mask``: the input mask is kept only with ``return_sequences``; states carry
none).

A cell family subclass of :class:`RNNLayer` (``LSTM``) only names its cell code, its weight
shapes and its state count; everything a Keras ``RNN`` layer does around the cell lives
here (Keras 3 ``keras/src/layers/rnn/rnn.py``): ``return_sequences``, ``return_state``,
``go_backwards``, ``stateful`` with ``reset_states()``, ``initial_state`` overriding the
stored states, ``zero_output_for_mask``, and float32 / float64 compute dtypes.
"""
import numpy as np

from ...activations import resolve
from ...errors import ArgumentError, ConfigError, GradientNotSupported, InputError
from ...kernels.dispatch import RNNCompute
from ...kernels.recurrent import _kernel_bias
from ..base import Layer, as_float_array, as_list

__all__ = ["RecurrentLayer", "RNNLayer"]


class RecurrentLayer(Layer):
    """The Keras RNN call and output structure; subclasses give ``return_sequences``,
    ``return_state``, :attr:`output_width`, :attr:`state_units` and
    :attr:`n_sequence_outputs`."""

    call_takes_mask = True
    call_kwargs = ("initial_state",)
    n_sequence_outputs = 1     # Bidirectional(merge_mode=None) has two

    def __init__(self, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, zero_output_for_mask=False, **kwargs):
        """Keras ``RNN``'s options, then the ``Layer`` arguments."""
        super().__init__(**kwargs)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    @property
    def output_width(self):
        """Features of each sequence output."""
        return self.units

    @property
    def state_units(self):
        """Width of each state, in ``initial_state`` / ``return_state`` order."""
        raise NotImplementedError

    @property
    def n_outputs(self):
        return self.n_sequence_outputs + (len(self.state_units) if self.return_state else 0)

    def __call__(self, x, initial_state=None, mask=None, training=None, **kwargs):
        """Run the layer as Keras's ``layer(x, initial_state=..., mask=...)`` does.

        Returns the output (``(B, T, U)`` with ``return_sequences``, else ``(B, U)``), or
        ``[output, *states]`` with ``return_state``.
        """
        if kwargs:
            raise ArgumentError(f"{self.label}: unknown call argument(s) "
                                f"{sorted(kwargs)}; it takes (x, initial_state, mask, training)")
        return self.call(x, mask=mask, initial_state=initial_state)

    def _structured(self, outputs):
        """A list of ``n_outputs`` -> Keras's structure (one array, or the list)."""
        return outputs[0] if self.n_outputs == 1 else list(outputs)

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        n_states = self.n_outputs - self.n_sequence_outputs
        return self._structured([out] * self.n_sequence_outputs + [None] * n_states)

    def compute_output_shape(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        u = self.output_width
        y = (b, t, u) if self.return_sequences else (b, u)
        states = [(b, s) for s in self.state_units] if self.return_state else []
        return self._structured([y] * self.n_sequence_outputs + states)


class RNNLayer(RecurrentLayer):
    """Base of the recurrent layers; subclasses set ``CELL``, ``GATES`` and ``STATE_NAMES``."""

    CELL = None          # cell family code for the kernels
    GATES = None         # gate blocks: the gate width is GATES * units
    STATE_NAMES = ()     # ("h", "c") for the LSTM

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, zero_output_for_mask=False,
                 time_major=False, dtype="float32", keras_version=3, name=None, **kwargs):
        super().__init__(return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         zero_output_for_mask=zero_output_for_mask,
                         name=name or type(self).__name__.lower(), dtype=dtype,
                         keras_version=keras_version, **kwargs)
        if time_major:
            self._fail("time_major=True is not supported")
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ConfigError(f"{self.label}: units must be a positive integer; received {units!r}")
        self.units = int(units)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self._act = resolve(activation, self.keras_version, f"{self.label} activation")
        self._rec_act = resolve(recurrent_activation, self.keras_version,
                                f"{self.label} recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel = self.recurrent_kernel = self.bias = None
        self._compute = None        # the weights prepared for the kernels (RNNCompute)
        self.states = None   # (S, B, U) stored states of a stateful layer

    @property
    def state_units(self):
        return [self.units] * len(self.STATE_NAMES)

    # ----------------------------------------------------------------- weights
    @property
    def built(self):
        return self.kernel is not None

    @property
    def input_dim(self):
        return None if self.kernel is None else self.kernel.shape[0]

    def weight_shapes(self, input_dim):
        """Keras weight shapes, in ``get_weights()`` order."""
        g = self.GATES * self.units
        shapes = [(input_dim, g), (self.units, g)]
        if self.use_bias:
            shapes.append((g,))
        return shapes

    @property
    def weight_names(self):
        return ("kernel", "recurrent_kernel", "bias")[:3 if self.use_bias else 2]

    def set_weights(self, weights):
        """Set ``[kernel (D, G), recurrent_kernel (U, G), bias (G,)]`` as Keras orders them."""
        weights = as_list(weights, f"{self.label} set_weights")
        n = self.n_weights
        if len(weights) != n:
            raise InputError(f"{self.label} expects {n} weight arrays "
                             f"({', '.join(self.weight_names)}); received {len(weights)}")
        arrays = [as_float_array(w, self.dtype, f"{self.label} weight {i}")
                  for i, w in enumerate(weights)]
        if arrays[0].ndim != 2:
            raise InputError(f"{self.label}: kernel must be 2-D (input_dim, "
                             f"{self.GATES * self.units}); received shape {arrays[0].shape}")
        expected = self.weight_shapes(arrays[0].shape[0])
        for name, arr, shape in zip(self.weight_names, arrays, expected):
            if arr.shape != shape:
                raise InputError(f"{self.label}: {name} must have shape {shape}; "
                                 f"received {arr.shape}")
        self.kernel, self.recurrent_kernel = arrays[0], arrays[1]
        self.bias = arrays[2] if self.use_bias else np.zeros(0, self.dtype)
        self._compute = None

    # ------------------------------------------------------------------ states
    def reset_states(self, states=None):
        """Zero the stored states of a stateful layer (Keras 3 ``reset_state``).

        ``states`` may give values instead (Keras 2 ``reset_states(states)``). Without values
        the next call (or :meth:`step`) may use a new batch size.
        """
        if states is None:   # zeros of whatever batch size comes next
            self.states = None
            return
        if isinstance(states, np.ndarray) and states.ndim == 2:
            states = [states]
        states = as_list(states, f"{self.label} reset_states")
        first = np.shape(states[0]) if states else ()
        if len(first) != 2:
            raise InputError(f"{self.label}: reset_states expects "
                             f"{len(self.STATE_NAMES)} state array(s) of shape (batch, "
                             f"{self.units}); received shapes {[np.shape(s) for s in states]}")
        self.states = self._check_states(states, first[0], "reset_states")

    reset_state = reset_states

    def _check_states(self, states, batch, what):
        n = len(self.STATE_NAMES)
        if isinstance(states, np.ndarray) and n == 1 and states.ndim == 2:
            states = [states]
        states = as_list(states, f"{self.label} {what}")
        if len(states) != n:
            raise InputError(f"{self.label}: {what} expects {n} state array(s) "
                             f"{list(self.STATE_NAMES)}; received {len(states)}")
        out = np.empty((n, batch, self.units), self.dtype)
        for k, (state_name, s) in enumerate(zip(self.STATE_NAMES, states)):
            s = as_float_array(s, self.dtype, f"{self.label} {what} {state_name}")
            if s.shape != (batch, self.units):
                raise InputError(f"{self.label}: {what} {state_name} must have shape "
                                 f"{(batch, self.units)}; received {s.shape}")
            out[k] = s
        return out

    # -------------------------------------------------------------------- call
    def _check_inputs(self, x, mask):
        if not self.built:
            raise InputError(f"{self.label} has no weights: call set_weights() first")
        x = as_float_array(x, self.dtype, f"{self.label} input")
        if x.ndim != 3 or x.shape[2] != self.input_dim:
            raise InputError(f"{self.label} expects input of shape (batch, timesteps, "
                             f"{self.input_dim}); received {x.shape}")
        if x.shape[1] == 0:
            raise InputError(f"{self.label} expects at least one timestep; "
                             f"received input of shape {x.shape}")
        if mask is None:
            mask = np.zeros((0, 0), np.bool_)
        else:
            mask = np.asarray(mask)
            if mask.dtype == object or mask.dtype.kind not in "biuf":
                raise InputError(f"{self.label}: mask must be boolean; received dtype {mask.dtype}")
            if mask.shape != x.shape[:2]:
                raise InputError(f"{self.label}: mask must have shape {x.shape[:2]} "
                                 f"(batch, timesteps); received {mask.shape}")
            mask = np.ascontiguousarray(mask, dtype=np.bool_)
        return x, mask

    def _check_batch(self, batch):
        """The stored states' batch size must be the input's (Keras 3 ``RNN.call``)."""
        if self.states is not None and self.states.shape[1] != batch:
            kind = "stateful" if self.stateful else "streaming (step)"
            raise InputError(f"{self.label} is {kind} with batch size "
                             f"{self.states.shape[1]}; received a batch of {batch} "
                             f"(call reset_states() to change the batch size)")

    def _initial_states(self, batch, initial_state):
        if self.stateful:
            self._check_batch(batch)
        if initial_state is not None:
            return self._check_states(initial_state, batch, "initial_state")
        if self.stateful and self.states is not None:
            return self.states
        return np.zeros((len(self.STATE_NAMES), batch, self.units), self.dtype)

    def call(self, inputs, mask=None, initial_state=None):
        outputs, states, _ = self.forward(inputs, initial_state=initial_state, mask=mask)
        return self._package(outputs, states)

    def tape_forward(self, inputs, mask=None, initial_state=None):
        outputs, states, cache = self.forward(inputs, initial_state=initial_state, mask=mask,
                                              keep=True)
        return self._package(outputs, states), (cache, initial_state is not None)

    def tape_backward(self, cache, d_outputs):
        cache, has_initial_state = cache
        g = self.backward(d_outputs[0], list(d_outputs[1:]) or None, cache)
        d_kwargs = {"initial_state": g["initial_state"]} if has_initial_state else {}
        return g["x"], d_kwargs, g["weights"]

    def check_backward(self):
        from ...kernels.backward import BACKWARD_CELLS
        if self.CELL not in BACKWARD_CELLS:
            raise GradientNotSupported(f"gradients: {self.label} has no backward pass")

    def forward(self, x, initial_state=None, mask=None, keep=False):
        """Run the layer; returns ``(outputs, final_states (S, B, U), cache)``.

        With ``keep=True`` the cache holds what :meth:`backward` needs: the validated input
        (B, T, D) and mask, pre-activations (B, T, G) and the states entering each step
        (S, B, T, U).
        """
        x, mask = self._check_inputs(x, mask)
        states0 = self._initial_states(x.shape[0], initial_state)
        result = self.compute().forward(x, states0, mask if mask.size else None,
                                        self.go_backwards, self.zero_output_for_mask,
                                        self.return_sequences, keep)
        outputs, states = result[0], result[1]
        cache = result[2] if keep else None
        if keep:  # the backward pass also needs the validated input and mask
            cache = (x, mask) + cache
        if self.stateful:
            self.states = states
        return outputs, states, cache

    def _package(self, outputs, states):
        if self.return_state:
            return [outputs] + [s for s in states]
        return outputs

    def step(self, x_t, states=None):
        """Advance one timestep for streaming: ``x_t`` (B, D) -> ``h`` (B, U).

        ``states`` defaults to the stored states (zeros at first) and the new states are
        stored, as a stateful Keras layer fed one timestep at a time would do; masks and
        ``go_backwards`` do not apply to a single step. A batch size other than the stored
        states' raises :class:`~lstm_np.InputError` (``reset_states()`` first to change it).
        """
        if not (type(x_t) is np.ndarray and x_t.dtype == self.dtype
                and x_t.flags.c_contiguous):   # the streaming fast path skips the copy
            x_t = as_float_array(x_t, self.dtype, f"{self.label} step input")
        if x_t.ndim != 2 or x_t.shape[1] != self.input_dim:
            if not self.built:
                raise InputError(f"{self.label} has no weights: call set_weights() first")
            raise InputError(f"{self.label}.step expects input of shape (batch, "
                             f"{self.input_dim}); received {x_t.shape}")
        batch = x_t.shape[0]
        if states is not None:
            states = self._check_states(states, batch, "states")
        elif self.states is not None:
            self._check_batch(batch)
            states = self.states
        else:
            states = np.zeros((len(self.STATE_NAMES), batch, self.units), self.dtype)
        new = self.compute().step(x_t, states)
        self.states = new
        return new[0]

    def compute(self):
        """The layer's weights prepared for the kernels (rebuilt after ``set_weights``)."""
        if self._compute is None:
            self._compute = RNNCompute(self.CELL, self.kernel, self.recurrent_kernel,
                                       _kernel_bias(self.CELL, self.kernel, self.bias),
                                       self._act, self._rec_act)
        return self._compute

    def get_config(self):
        return dict(name=self.name, units=self.units, activation=self.activation,
                    recurrent_activation=self.recurrent_activation, use_bias=self.use_bias,
                    return_sequences=self.return_sequences, return_state=self.return_state,
                    go_backwards=self.go_backwards, stateful=self.stateful,
                    zero_output_for_mask=self.zero_output_for_mask,
                    dtype=np.dtype(self.dtype).name, keras_version=self.keras_version)

    def __repr__(self):
        return (f"{self.class_name}(units={self.units}, name={self.name!r}, "
                f"return_sequences={self.return_sequences}, return_state={self.return_state})")

    # ---------------------------------------------------------------- backward
    def backward(self, d_outputs, d_states=None, cache=None):
        """Gradients of a :meth:`forward` pass run with ``keep=True`` (BPTT).

        Everything the forward honoured is honoured here: the mask (gradients flow through
        carried states and repeated outputs), ``go_backwards``, ``zero_output_for_mask``,
        ``return_sequences``, ``use_bias``, every activation (derivatives at kinks as TF's
        autodiff gives them, see :mod:`lstm_np.activation_grads`).

        Parameters
        ----------
        d_outputs : array_like or None
            Gradient on the forward's ``outputs``: (B, T, U) with ``return_sequences``
            (processing order, i.e. reversed with ``go_backwards``, as the output), else
            (B, U). ``None`` means zeros.
        d_states : list of array_like or None, optional
            Gradients on the final states returned with ``return_state`` (``[dh, dc]`` for
            the LSTM), each (B, U) or ``None``. ``None`` means zeros.
        cache : tuple
            The third value of ``forward(x, ..., keep=True)``. The weights must not have
            changed since. It holds the input, the mask, the pre-activations (B, T, G)
            and the states entering each step (S, B, T, U): for the LSTM ``6 B T U``
            numbers besides the input (GRU ``4 B T U``, SimpleRNN ``2 B T U``); nothing
            grows faster than linearly in ``T``.

        Returns
        -------
        dict
            ``"x"`` (B, T, D) in the input's time order; ``"initial_state"``, a list
            ``[dh0, dc0]`` for the LSTM, ``[dh0]`` for the GRU and SimpleRNN (one (B, U)
            array per state, in ``initial_state`` order);
            ``"kernel"`` (D, G), ``"recurrent_kernel"`` (U, G) and, with ``use_bias``,
            ``"bias"`` in Keras's bias shape ((G,); (2, 3U) for a GRU with ``reset_after``)
            -- the weight gradients in Keras ``get_weights()`` order, also given as the
            list ``"weights"``. Arrays have the layer's dtype.

        Examples
        --------
        >>> out, states, cache = layer.forward(x, mask=mask, keep=True)
        >>> g = layer.backward(d_out, [dh, dc], cache)
        >>> g["x"].shape == x.shape
        True
        """
        from ...kernels.backward import BACKWARD_CELLS, rnn_backward
        if self.CELL not in BACKWARD_CELLS:
            raise GradientNotSupported(f"{self.label}: cell family {self.CELL} has "
                                      f"no backward pass")
        if not isinstance(cache, tuple) or len(cache) != 4:
            raise InputError(f"{self.label}: backward needs the cache of "
                             f"forward(..., keep=True)")
        x, mask, zs, history = cache
        S, B, T = history.shape[0], x.shape[0], x.shape[1]
        if x.shape[2] != self.input_dim or zs.shape[2] != self.GATES * self.units:
            raise InputError(f"{self.label}: the cache does not match the layer's "
                             f"weights (forward was run with another layer or weights)")
        out_shape = (B, T, self.units) if self.return_sequences else (B, self.units)
        if d_outputs is None:
            d_outputs = np.zeros(out_shape, self.dtype)
        d_outputs = as_float_array(d_outputs, self.dtype, f"{self.label} d_outputs")
        if d_outputs.shape != out_shape:
            raise InputError(f"{self.label}: d_outputs must have the outputs' shape "
                             f"{out_shape}; received {d_outputs.shape}")
        d_final = np.zeros((S, B, self.units), self.dtype)          # (S, B, U)
        if d_states is not None:
            if isinstance(d_states, np.ndarray) and d_states.ndim == 2:
                d_states = [d_states]
            d_states = list(d_states)
            if len(d_states) > S:
                raise InputError(f"{self.label}: d_states has {len(d_states)} "
                                 f"arrays; the layer has {S} states {list(self.STATE_NAMES)}")
            for k, d in enumerate(d_states):
                if d is None:
                    continue
                d = as_float_array(d, self.dtype, f"{self.label} d_states[{k}]")
                if d.shape != (B, self.units):
                    raise InputError(f"{self.label}: d_states[{k}] "
                                     f"({self.STATE_NAMES[k]}) must have shape "
                                     f"{(B, self.units)}; received {d.shape}")
                d_final[k] = d
        dx, d_states0, d_kernel, d_recurrent_kernel, d_bias = rnn_backward(
            self.CELL, d_outputs, d_final, (zs, history), x, self.kernel,
            self.recurrent_kernel, self.bias, mask, self._act, self._rec_act,
            self.go_backwards, self.zero_output_for_mask, self.return_sequences)
        weights = [d_kernel, d_recurrent_kernel] + ([d_bias] if self.use_bias else [])
        grads = {"x": dx, "initial_state": [s for s in d_states0],
                 "kernel": d_kernel, "recurrent_kernel": d_recurrent_kernel}
        if self.use_bias:
            grads["bias"] = d_bias
        grads["weights"] = weights
        return grads
