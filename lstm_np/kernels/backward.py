"""Backpropagation through time: one reverse time loop for every cell family.

The mirror of the forward (:mod:`lstm_np.kernels.rnn`). One jitted driver walks the processing
order backwards and owns everything the forward driver owns — the mask, ``go_backwards``
and the output carry — and calls its cell family's step backward (LSTM, GRU with
``reset_after`` True or False, SimpleRNN); :func:`_rnn_backward_for` makes one driver per
family.

Gradients follow the forward's ``where`` selections (Keras 3 ``backend/tensorflow/rnn.py``
``rnn()``), as TF's autodiff does:

* the gradient on a step's *emitted* output is the upstream gradient on that output plus,
  when the next step is masked and repeats it (``zero_output_for_mask=False``), the
  gradient on the next step's emitted output; the emitted output before the first step is
  the constant zero, so what reaches it is dropped;
* at a masked step the states are carried: their gradient passes through unchanged, and
  the cell receives none (its pre-activation gradient is zero for that row);
* at a valid step the cell receives the state gradient plus the emitted-output gradient
  on ``h``;
* ``go_backwards``: processing step ``s`` read input timestep ``t = T-1-s``; the input
  gradient is returned in the input's (time) order, while ``d_outputs`` is in the output's
  processing order, as the forward returned it.

Bias: the GRU and SimpleRNN add their input bias to the projection ``x W`` (see
:mod:`lstm_np.kernels.rnn`), so its gradient is the sum of ``dxw`` over batch and
time, added once by the driver; a step backward adds only what else reaches the bias (the
LSTM's whole bias, the GRU ``reset_after`` recurrent bias ``b_rec``).

Shapes: ``B`` batch, ``T`` timesteps, ``D`` input features, ``U`` units, ``G`` gate width
(``4U`` LSTM, ``3U`` GRU, ``U`` SimpleRNN), ``S`` states (2 for the LSTM, else 1).

Memory: the forward cache is ``zs`` (B, T, G) and ``history`` (S, B, T, U) — for the LSTM
``B*T*4U + 2*B*T*U = 6*B*T*U`` numbers, the GRU ``4*B*T*U``, the SimpleRNN ``2*B*T*U``;
the backward adds the pre-activation gradient (B, T, G) and ``O(B*(G + S*U))`` per-step
scratch: linear in ``T``. Cheap terms (gate activations, the new cell state, ``act(c)``,
the GRU's ``h_tm1 U_h + b_rec_h``) are recomputed, not stored.
"""
import numpy as np

from .._jit import jit
from ..activation_grads import _activate_grad
from ..activations import _activate
from .linalg import dot
from .recurrent import (
    GRU_CELL, GRU_RESET_BEFORE_CELL, LSTM_CELL, SIMPLE_RNN_CELL, _kernel_bias,
)

__all__ = ["rnn_backward", "BACKWARD_CELLS"]

#: Cell families with a step backward (:func:`_rnn_backward_for`).
BACKWARD_CELLS = frozenset({LSTM_CELL, GRU_CELL, GRU_RESET_BEFORE_CELL, SIMPLE_RNN_CELL})


@jit
def _lstm_step_backward(x_t, kernel, recurrent_kernel, bias, z, states, d_new, act, rec_act,
                        dz, d_recurrent_kernel, d_bias):
    """Backward of one LSTM step (``_lstm_step``) for all rows.

    ``z`` (B, 4U) is the step's saved pre-activation, ``states`` (2, B, U) the ``[h, c]``
    that entered it, ``d_new`` (2, B, U) the gradient on the ``[h, c]`` it produced.
    Writes the pre-activation gradient into ``dz`` (B, 4U), which is also the gradient on
    ``x_t @ kernel``; adds into ``d_recurrent_kernel`` (U, 4U) and ``d_bias`` (4U,) or (0,);
    returns the gradient on ``states`` (2, B, U). ``recurrent_kernel`` is transposed (4U, U)
    (:func:`_backward_recurrent`). ``x_t`` and ``kernel`` are unused (the LSTM needs no
    input projection in its backward); other cells may need them.
    """
    h = states[0]                                           # (B, U)
    c = states[1]                                           # (B, U)
    U = h.shape[1]
    zi = z[:, :U]                                           # (B, U) each
    zf = z[:, U:2 * U]
    zg = z[:, 2 * U:3 * U]
    zo = z[:, 3 * U:]
    i = _activate(zi, rec_act)                              # recomputed gates (B, U)
    f = _activate(zf, rec_act)
    g = _activate(zg, act)
    o = _activate(zo, rec_act)
    c_new = f * c + i * g                                   # (B, U), as the forward
    a = _activate(c_new, act)                               # act(c_new) (B, U)
    dh = d_new[0]                                           # (B, U)
    dc = d_new[1] + dh * o * _activate_grad(c_new, a, act)  # (B, U)
    dz[:, :U] = dc * g * _activate_grad(zi, i, rec_act)
    dz[:, U:2 * U] = dc * c * _activate_grad(zf, f, rec_act)
    dz[:, 2 * U:3 * U] = dc * i * _activate_grad(zg, g, act)
    dz[:, 3 * U:] = dh * a * _activate_grad(zo, o, rec_act)
    d_states = np.empty_like(states)                        # (2, B, U)
    d_states[0] = dot(dz, recurrent_kernel)               # (B, 4U) @ (4U, U): U.T
    d_states[1] = dc * f
    d_recurrent_kernel += dot(h.T, dz)                   # (U, B) @ (B, 4U)
    if bias.shape[0] > 0:
        d_bias += dz.sum(axis=0)                            # (4U,)
    return d_states


@jit(inline=True)
def _gru_step_backward(recurrent_kernel_t, bias, z, states, d_new, act, rec_act, reset_after,
                       dxw, d_recurrent_kernel, d_bias):
    """Backward of one GRU step (``_gru_step``) for all rows; both Keras conventions.

    ``recurrent_kernel_t`` is Keras's (U, 3U) recurrent kernel *transposed*, (3U, U)
    C-contiguous, so that each gate block ``U_k.T`` is a contiguous row block. ``z`` (B, 3U)
    holds ``z_pre, r_pre, hh_pre``; ``states`` (1, B, U) is ``[h_tm1]``. With
    ``h = zg * h_tm1 + (1 - zg) * hh``, ``hh = act(hh_pre)``:

    * ``reset_after``: ``hh_pre = x_h + r * inner_h``, ``inner = h_tm1 U + b_rec``; the
      recurrent part ``inner_h`` is recomputed; the gradient on ``inner`` (B, 3U) is
      ``[dz_pre, dr_pre, d_hh_pre * r]``, which also reaches ``b_rec = bias[3U:]``;
    * otherwise: ``hh_pre = x_h + (r * h_tm1) U_h``, ``z_pre, r_pre = x + h_tm1 U[:, :2U]``.

    Writes ``[dz_pre, dr_pre, d_hh_pre]`` into ``dxw`` (B, 3U) (the gradient on
    ``x_t W + b_in``), adds into ``d_recurrent_kernel`` (U, 3U, Keras layout) and, with
    ``reset_after``, into ``d_bias[3U:]``; returns the gradient on ``states`` (1, B, U).
    One activation (and derivative) call covers z and r, as in the forward.
    """
    T = z.dtype.type
    h = states[0]                                           # (B, U)
    U = h.shape[1]
    zr = _activate(z[:, :2 * U], rec_act)                   # (B, 2U) recomputed z, r
    zg = zr[:, :U]
    r = zr[:, U:]
    hh_pre = z[:, 2 * U:]                                   # (B, U)
    hh = _activate(hh_pre, act)
    dh = d_new[0]                                           # (B, U)
    d_hh_pre = dh * (T(1) - zg) * _activate_grad(hh_pre, hh, act)   # (B, U)
    d_zr = np.empty((h.shape[0], 2 * U), dtype=z.dtype)     # grad on z, r (B, 2U)
    d_zr[:, :U] = dh * (h - hh)
    d_rh = d_hh_pre                                         # reset_after=False: below
    if reset_after:
        inner_h = dot(h, recurrent_kernel_t[2 * U:].T)   # (B, U) = h_tm1 U_h
        if bias.shape[0] > 0:
            inner_h = inner_h + bias[5 * U:]
        d_zr[:, U:] = d_hh_pre * inner_h
    else:
        d_rh = dot(d_hh_pre, recurrent_kernel_t[2 * U:])  # (B, U) grad on r * h_tm1
        d_zr[:, U:] = d_rh * h
    d_zr = d_zr * _activate_grad(z[:, :2 * U], zr, rec_act)  # (B, 2U) grad on z_pre, r_pre
    dxw[:, :2 * U] = d_zr
    dxw[:, 2 * U:] = d_hh_pre
    d_states = np.empty_like(states)                        # (1, B, U)
    if reset_after:
        d_inner = dxw.copy()                                # (B, 3U) grad on h U + b_rec
        d_inner[:, 2 * U:] = d_hh_pre * r
        d_states[0] = dh * zg + dot(d_inner, recurrent_kernel_t)     # (B, 3U) @ (3U, U)
        d_recurrent_kernel += dot(h.T, d_inner)          # (U, B) @ (B, 3U)
        if bias.shape[0] > 0:
            d_bias[3 * U:] += d_inner.sum(axis=0)           # recurrent bias (3U,)
    else:
        d_states[0] = dh * zg + d_rh * r + dot(d_zr, recurrent_kernel_t[:2 * U])
        d_recurrent_kernel[:, :2 * U] += dot(h.T, d_zr)  # (U, 2U)
        d_recurrent_kernel[:, 2 * U:] += dot((r * h).T, d_hh_pre)   # (U, U)
    return d_states


@jit(inline=True)
def _simple_rnn_step_backward(recurrent_kernel, z, states, d_new, act, dxw,
                              d_recurrent_kernel):
    """Backward of one SimpleRNN step (``_simple_rnn_step``): ``h = act(z)``,
    ``z = (x_t W + b) + h_tm1 U``. Writes ``dz`` into ``dxw`` (B, U), adds into
    ``d_recurrent_kernel`` (U, U), returns the gradient on ``states`` (1, B, U);
    ``recurrent_kernel`` is transposed (:func:`_backward_recurrent`)."""
    h = states[0]                                           # (B, U)
    y = _activate(z, act)                                   # (B, U) recomputed output
    dz = d_new[0] * _activate_grad(z, y, act)               # (B, U)
    dxw[:, :] = dz
    d_states = np.empty_like(states)
    d_states[0] = dot(dz, recurrent_kernel)               # (B, U) @ (U, U): U.T
    d_recurrent_kernel += dot(h.T, dz)
    return d_states


@jit
def _backward_recurrent(cell, recurrent_kernel):
    """The recurrent kernel in the layout the step backwards take: transposed, (G, U)
    C-contiguous, so that ``d @ U.T`` and every GRU gate block are contiguous rows."""
    return np.ascontiguousarray(recurrent_kernel.T)


_DRIVERS = {}


def _rnn_backward_for(cell):
    """The reverse time loop for cell family ``cell``: one jitted driver per family, so a
    model's first gradient compiles only its own cells' step backwards (``cell`` is a
    constant of the closure, and numba prunes the other branches before typing them; its
    cache keys closures by their constants)."""
    if cell in _DRIVERS:
        return _DRIVERS[cell]

    def _rnn_backward(x, kernel, recurrent_kernel, bias, zs, history, mask, d_outputs,
                      d_states, act, rec_act, go_backwards, zero_output_for_mask,
                      return_sequences):
        """Returns ``(dx, d_states0, d_kernel, d_recurrent_kernel, d_bias)``.

        ``d_outputs`` is (B, T, U) with ``return_sequences`` else (B, 1, U), in processing
        order; ``d_states`` (S, B, U) is the gradient on the final states. Each cell's step
        backward follows one contract: given the step input ``x_t`` (B, D), the weights, the
        saved ``z`` (B, G), the entering ``states`` (S, B, U) and the gradient ``d_new``
        (S, B, U) on the states the step produced (``d_new[0]`` includes the output
        gradient), it writes the gradient on the input projection ``x_t @ kernel`` (plus
        the input bias, for the GRU and SimpleRNN) into ``dxw_t`` (B, G), adds into
        ``d_recurrent_kernel`` (U, G, Keras layout) and into ``d_bias`` (flat, as
        :func:`_kernel_bias`) what does not come through ``dxw_t``, and returns the gradient
        on ``states`` (S, B, U); ``rk`` is in the layout of :func:`_backward_recurrent`.
        """
        B, T, D = x.shape
        S = history.shape[0]
        U = history.shape[3]
        G = kernel.shape[1]
        has_mask = mask.shape[0] > 0
        dxw = np.zeros((B, T, G), dtype=x.dtype)           # grad on x @ kernel, time order
        d_recurrent_kernel = np.zeros_like(recurrent_kernel)  # (U, G)
        d_bias = np.zeros_like(bias)                       # (G,), (2G,) or (0,)
        rk = _backward_recurrent(cell, recurrent_kernel)
        d_carry = d_states.copy()                          # (S, B, U) grad on states leaving step s
        d_prev = np.zeros((B, U), dtype=x.dtype)           # grad on the output emitted at step s
        d_new = np.empty((S, B, U), dtype=x.dtype)         # what the cell at step s receives
        dxw_t = np.empty((B, G), dtype=x.dtype)
        for s in range(T - 1, -1, -1):
            t = T - 1 - s if go_backwards else s
            d_emit = d_prev.copy()                         # (B, U)
            if return_sequences:
                d_emit += d_outputs[:, s, :]
            elif s == T - 1:
                d_emit += d_outputs[:, 0, :]
            d_new[:, :, :] = d_carry
            d_new[0] += d_emit
            if has_mask:
                for b in range(B):
                    if not mask[b, t]:
                        d_new[:, b, :] = 0
            states = np.ascontiguousarray(history[:, :, s, :])   # (S, B, U)
            z = np.ascontiguousarray(zs[:, s, :])                # (B, G)
            x_t = np.ascontiguousarray(x[:, t, :])               # (B, D)
            if cell == LSTM_CELL:
                d_back = _lstm_step_backward(x_t, kernel, rk, bias, z, states, d_new, act,
                                             rec_act, dxw_t, d_recurrent_kernel, d_bias)
            elif cell == SIMPLE_RNN_CELL:
                d_back = _simple_rnn_step_backward(rk, z, states, d_new, act, dxw_t,
                                                   d_recurrent_kernel)
            else:
                d_back = _gru_step_backward(rk, bias, z, states, d_new, act, rec_act,
                                            cell == GRU_CELL, dxw_t, d_recurrent_kernel, d_bias)
            if has_mask:
                for b in range(B):
                    if mask[b, t]:
                        d_carry[:, b, :] = d_back[:, b, :]
                        d_prev[b, :] = 0
                    elif zero_output_for_mask:             # carried states, zero output
                        d_prev[b, :] = 0
                    else:                                  # carried states, repeated output
                        d_prev[b, :] = d_emit[b, :]
            else:
                d_carry = d_back
            dxw[:, t, :] = dxw_t
        dxw2 = dxw.reshape(B * T, G)                                   # (B*T, G)
        dx = dot(dxw2, kernel.T).reshape(B, T, D)                  # (B, T, D)
        d_kernel = dot(x.reshape(B * T, D).T, dxw2)                # (D, G)
        if cell != LSTM_CELL and bias.shape[0] > 0:        # input bias, added in the projection
            d_bias[:G] += dxw2.sum(axis=0)
        return dx, d_carry, d_kernel, d_recurrent_kernel, d_bias

    _DRIVERS[cell] = jit(_rnn_backward)
    return _DRIVERS[cell]


def rnn_backward(cell, d_outputs, d_states, cache, x, kernel, recurrent_kernel, bias, mask,
                 act, rec_act, go_backwards=False, zero_output_for_mask=False,
                 return_sequences=True):
    """Gradients of a recurrent layer's forward pass (arrays already validated by the layer).

    Parameters
    ----------
    cell : int
        Cell family code (``LSTM_CELL``, ``GRU_CELL``, ``GRU_RESET_BEFORE_CELL``,
        ``SIMPLE_RNN_CELL``).
    d_outputs : ndarray (B, T, U) if ``return_sequences`` else (B, U)
        Gradient on the outputs, in the order the forward returned them (processing order).
    d_states : ndarray (S, B, U)
        Gradient on the final states (``[h, c]`` for the LSTM, ``[h]`` otherwise); zeros
        when unused.
    cache : tuple ``(zs, history)``
        From the layer's forward with ``keep=True`` (:mod:`lstm_np.kernels.dispatch`):
        ``zs`` (B, T, G) pre-activations and ``history`` (S, B, T, U) states entering each
        step, both in processing order. For the LSTM that is ``6 B T U`` numbers; the
        backward adds ``4 B T U`` (the pre-activation gradient) and no ``T**2`` term.
    x, kernel, recurrent_kernel, bias, mask, act, rec_act, go_backwards,
    zero_output_for_mask, return_sequences
        Exactly what the forward pass received.

    Returns
    -------
    dx : ndarray (B, T, D)
        In the input's time order (also with ``go_backwards``).
    d_states0 : ndarray (S, B, U)
        Gradient on the initial states.
    d_kernel : ndarray (D, G)
    d_recurrent_kernel : ndarray (U, G)
    d_bias : ndarray of the bias's shape ((G,), (2, G) for ``GRU_CELL``), or (0,) without
        bias
    """
    zs, history = cache
    dt = x.dtype
    bias_shape = np.shape(bias)
    bias = _kernel_bias(cell, kernel, bias)
    if not return_sequences:
        d_outputs = d_outputs.reshape(d_outputs.shape[0], 1, d_outputs.shape[-1])
    if cell not in BACKWARD_CELLS:
        raise ValueError(f"no backward pass for cell code {cell}")
    dx, d_states0, d_kernel, d_recurrent_kernel, d_bias = _rnn_backward_for(cell)(
        x, kernel, np.ascontiguousarray(recurrent_kernel), bias, zs, history, mask,
        np.ascontiguousarray(d_outputs, dtype=dt), np.ascontiguousarray(d_states, dtype=dt),
        act, rec_act, bool(go_backwards), bool(zero_output_for_mask), bool(return_sequences))
    return dx, d_states0, d_kernel, d_recurrent_kernel, d_bias.reshape(bias_shape)
