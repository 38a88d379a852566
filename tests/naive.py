"""Independent oracle: Keras RNN semantics as a plain per-timestep NumPy loop.

Never imported by the library. Written from the Keras sources (``LSTMCell.call``,
``GRUCell.call``, ``SimpleRNNCell.call`` and the TF backend ``rnn()``), not from lstm_np's
kernels, and computed in float64 by default so that it is a reference for both float32 and
float64 results.
"""
import math

import numpy as np

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))   # exact identity, no overflow


def _softplus(x):
    return np.logaddexp(0.0, x)


ACTIVATIONS = {
    "linear": lambda x: x,
    None: lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hard_sigmoid_k2": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    # TF multiplies by alpha held as float32: float32(0.2), also in float64 models.
    "leaky_relu": lambda x: np.where(x >= 0, x, float(np.float32(0.2)) * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "celu": lambda x: np.maximum(x, 0.0) + np.expm1(np.minimum(x, 0.0)),
    "softplus": _softplus,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
    "hard_silu": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hard_swish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "soft_shrink": lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0.0),
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (np.clip(x, -1, 1) + 1) ** 2, x)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4.0)) / 2.0,
    "sparse_sigmoid": lambda x: np.clip(0.5 * (x + 1.0), 0.0, 1.0),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
}


def activation(name, keras_version=3):
    if name == "hard_sigmoid" and keras_version == 2:
        name = "hard_sigmoid_k2"
    return ACTIVATIONS[name]


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias, act, rec_act):
    """One LSTM step (Keras ``LSTMCell.call``); returns (h, c)."""
    z = x_t @ kernel + h @ recurrent_kernel
    if bias is not None:
        z = z + bias
    zi, zf, zc, zo = np.split(z, 4, axis=-1)
    c_new = rec_act(zf) * c + rec_act(zi) * act(zc)
    h_new = rec_act(zo) * act(c_new)
    return h_new, c_new


def lstm(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
         activation_name="tanh", recurrent_activation_name="sigmoid", go_backwards=False,
         zero_output_for_mask=False, return_sequences=False, keras_version=3,
         dtype=np.float64):
    """Keras LSTM layer semantics; returns ``(output, h, c)``.

    Masked steps carry the states; their output is the previous emitted output (zeros at
    first) or zero with ``zero_output_for_mask``; ``go_backwards`` reverses the walk and
    leaves outputs in processing order.
    """
    f = lambda a: None if a is None else np.asarray(a, dtype)
    x, kernel, recurrent_kernel, bias = f(x), f(kernel), f(recurrent_kernel), f(bias)
    act = activation(activation_name, keras_version)
    rec_act = activation(recurrent_activation_name, keras_version)
    B, T, _ = x.shape
    U = recurrent_kernel.shape[0]
    h = np.zeros((B, U), dtype) if initial_state is None else f(initial_state[0]).copy()
    c = np.zeros((B, U), dtype) if initial_state is None else f(initial_state[1]).copy()
    prev = np.zeros((B, U), dtype)
    outputs = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        h_new, c_new = lstm_cell(x[:, t], h, c, kernel, recurrent_kernel, bias, act, rec_act)
        if mask is None:
            h, c, out = h_new, c_new, h_new
        else:
            m = np.asarray(mask[:, t], bool)[:, None]
            h = np.where(m, h_new, h)
            c = np.where(m, c_new, c)
            out = np.where(m, h_new, 0.0 if zero_output_for_mask else prev)
        prev = out
        outputs.append(out)
    seq = np.stack(outputs, axis=1)
    return (seq if return_sequences else seq[:, -1]), h, c


def _run(cell_fn, x, initial_states, mask, go_backwards, zero_output_for_mask,
         return_sequences, dtype):
    """The TF-backend ``rnn()`` loop around ``cell_fn(x_t, states) -> (out, states)``."""
    B, T, _ = x.shape
    states = [np.array(s, dtype) for s in initial_states]
    prev = np.zeros_like(states[0])
    outputs = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        out_new, states_new = cell_fn(x[:, t], states)
        if mask is None:
            states, out = states_new, out_new
        else:
            m = np.asarray(mask[:, t], bool)[:, None]
            states = [np.where(m, n, o) for n, o in zip(states_new, states)]
            out = np.where(m, out_new, 0.0 if zero_output_for_mask else prev)
        prev = out
        outputs.append(out)
    seq = np.stack(outputs, axis=1)
    return (seq if return_sequences else seq[:, -1]), states


def gru_cell(x_t, h, kernel, recurrent_kernel, bias, act, rec_act, reset_after):
    """One GRU step (Keras ``GRUCell.call``, implementation 2); returns h.

    ``bias`` is None, (3U,) for ``reset_after=False`` or (2, 3U) for ``reset_after=True``.
    """
    U = h.shape[1]
    if bias is None:
        input_bias = recurrent_bias = None
    elif reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, None
    matrix_x = x_t @ kernel
    if input_bias is not None:
        matrix_x = matrix_x + input_bias
    x_z, x_r, x_h = matrix_x[:, :U], matrix_x[:, U:2 * U], matrix_x[:, 2 * U:]
    if reset_after:
        matrix_inner = h @ recurrent_kernel
        if recurrent_bias is not None:
            matrix_inner = matrix_inner + recurrent_bias
    else:
        matrix_inner = h @ recurrent_kernel[:, :2 * U]
    z = rec_act(x_z + matrix_inner[:, :U])
    r = rec_act(x_r + matrix_inner[:, U:2 * U])
    if reset_after:
        recurrent_h = r * matrix_inner[:, 2 * U:]
    else:
        recurrent_h = (r * h) @ recurrent_kernel[:, 2 * U:]
    hh = act(x_h + recurrent_h)
    return z * h + (1 - z) * hh


def gru(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
        activation_name="tanh", recurrent_activation_name="sigmoid", reset_after=True,
        go_backwards=False, zero_output_for_mask=False, return_sequences=False,
        keras_version=3, dtype=np.float64):
    """Keras GRU layer semantics; returns ``(output, h)``."""
    f = lambda a: None if a is None else np.asarray(a, dtype)
    x, kernel, recurrent_kernel, bias = f(x), f(kernel), f(recurrent_kernel), f(bias)
    act = activation(activation_name, keras_version)
    rec_act = activation(recurrent_activation_name, keras_version)
    B, U = x.shape[0], recurrent_kernel.shape[0]
    h0 = np.zeros((B, U), dtype) if initial_state is None else f(initial_state[0])

    def cell(x_t, states):
        h = gru_cell(x_t, states[0], kernel, recurrent_kernel, bias, act, rec_act, reset_after)
        return h, [h]

    out, (h,) = _run(cell, x, [h0], mask, go_backwards, zero_output_for_mask,
                     return_sequences, dtype)
    return out, h


def simple_rnn(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
               activation_name="tanh", go_backwards=False, zero_output_for_mask=False,
               return_sequences=False, keras_version=3, dtype=np.float64):
    """Keras SimpleRNN layer semantics (``SimpleRNNCell.call``: ``act((x W + b) + h U)``);
    returns ``(output, h)``."""
    f = lambda a: None if a is None else np.asarray(a, dtype)
    x, kernel, recurrent_kernel, bias = f(x), f(kernel), f(recurrent_kernel), f(bias)
    act = activation(activation_name, keras_version)
    B, U = x.shape[0], recurrent_kernel.shape[0]
    h0 = np.zeros((B, U), dtype) if initial_state is None else f(initial_state[0])

    def cell(x_t, states):
        h = x_t @ kernel
        if bias is not None:
            h = h + bias
        h = act(h + states[0] @ recurrent_kernel)
        return h, [h]

    out, (h,) = _run(cell, x, [h0], mask, go_backwards, zero_output_for_mask,
                     return_sequences, dtype)
    return out, h
