"""Backpropagation through time: one reverse time loop for every cell family.

The mirror of :mod:`lstm_np.kernels.recurrent`. One jitted driver walks the processing
order backwards and owns everything the forward driver owns — the mask, ``go_backwards``
and the output carry — and dispatches on the integer ``cell`` code to a per-cell step
backward (LSTM now; GRU and SimpleRNN plug into :func:`_cell_step_backward`).

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

Shapes: ``B`` batch, ``T`` timesteps, ``D`` input features, ``U`` units, ``G`` gate width
(``4U`` for the LSTM), ``S`` states (2 for the LSTM).

Memory: the forward cache is ``zs`` (B, T, G) and ``history`` (S, B, T, U) — for the LSTM
``B*T*4U + 2*B*T*U = 6*B*T*U`` numbers; the backward adds the pre-activation gradient
(B, T, G) and ``O(B*(G + S*U))`` per-step scratch: linear in ``T``. Cheap terms (gate
activations, the new cell state, ``act(c)``) are recomputed, not stored.
"""
import numpy as np

from .._jit import jit
from ..activation_grads import _activate_grad
from ..activations import _activate
from .recurrent import LSTM_CELL

__all__ = ["rnn_backward", "BACKWARD_CELLS"]

#: Cell families with a step backward in :func:`_cell_step_backward`.
BACKWARD_CELLS = frozenset({LSTM_CELL})


@jit
def _lstm_step_backward(x_t, kernel, recurrent_kernel, bias, z, states, d_new, act, rec_act,
                        dz, d_recurrent_kernel, d_bias):
    """Backward of one LSTM step (``_lstm_step``) for all rows.

    ``z`` (B, 4U) is the step's saved pre-activation, ``states`` (2, B, U) the ``[h, c]``
    that entered it, ``d_new`` (2, B, U) the gradient on the ``[h, c]`` it produced.
    Writes the pre-activation gradient into ``dz`` (B, 4U), which is also the gradient on
    ``x_t @ kernel``; adds into ``d_recurrent_kernel`` (U, 4U) and ``d_bias`` (4U,) or (0,);
    returns the gradient on ``states`` (2, B, U). ``x_t`` and ``kernel`` are unused (the
    LSTM needs no input projection in its backward); other cells may need them.
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
    d_states[0] = np.dot(dz, recurrent_kernel.T)            # (B, 4U) @ (4U, U)
    d_states[1] = dc * f
    d_recurrent_kernel += np.dot(h.T, dz)                   # (U, B) @ (B, 4U)
    if bias.shape[0] > 0:
        d_bias += dz.sum(axis=0)                            # (4U,)
    return d_states


@jit
def _cell_step_backward(cell, x_t, kernel, recurrent_kernel, bias, z, states, d_new, act,
                        rec_act, dxw, d_recurrent_kernel, d_bias):
    """Dispatch the step backward of cell family ``cell``.

    Contract for every cell: given the step input ``x_t`` (B, D), the weights, the saved
    ``z`` (B, G), the entering ``states`` (S, B, U) and the gradient ``d_new`` (S, B, U) on
    the states the step produced (``d_new[0]`` includes the output gradient), write the
    gradient on the input projection ``x_t @ kernel`` into ``dxw`` (B, G), add into
    ``d_recurrent_kernel`` and ``d_bias`` (any bias shape), and return the gradient on
    ``states`` (S, B, U). The driver turns ``dxw`` into ``dx`` and ``d_kernel``.
    """
    if cell == LSTM_CELL:
        return _lstm_step_backward(x_t, kernel, recurrent_kernel, bias, z, states, d_new, act,
                                   rec_act, dxw, d_recurrent_kernel, d_bias)
    raise ValueError("unknown cell code")


@jit
def _rnn_backward(cell, x, kernel, recurrent_kernel, bias, zs, history, mask, d_outputs,
                  d_states, act, rec_act, go_backwards, zero_output_for_mask,
                  return_sequences):
    """The reverse time loop. Returns ``(dx, d_states0, d_kernel, d_recurrent_kernel, d_bias)``.

    ``d_outputs`` is (B, T, U) with ``return_sequences`` else (B, 1, U), in processing
    order; ``d_states`` (S, B, U) is the gradient on the final states.
    """
    B, T, D = x.shape
    S = history.shape[0]
    U = history.shape[3]
    G = kernel.shape[1]
    has_mask = mask.shape[0] > 0
    dxw = np.zeros((B, T, G), dtype=x.dtype)           # grad on x @ kernel, time order
    d_recurrent_kernel = np.zeros_like(recurrent_kernel)  # (U, G)
    d_bias = np.zeros_like(bias)                       # (G,) or (0,)
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
        d_back = _cell_step_backward(cell, x_t, kernel, recurrent_kernel, bias, z, states,
                                     d_new, act, rec_act, dxw_t, d_recurrent_kernel, d_bias)
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
    dx = np.dot(dxw2, kernel.T).reshape(B, T, D)                  # (B, T, D)
    d_kernel = np.dot(x.reshape(B * T, D).T, dxw2)                # (D, G)
    return dx, d_carry, d_kernel, d_recurrent_kernel, d_bias


def rnn_backward(cell, d_outputs, d_states, cache, x, kernel, recurrent_kernel, bias, mask,
                 act, rec_act, go_backwards=False, zero_output_for_mask=False,
                 return_sequences=True):
    """Gradients of a recurrent layer's forward pass (arrays already validated by the layer).

    Parameters
    ----------
    cell : int
        Cell family code (``LSTM_CELL``).
    d_outputs : ndarray (B, T, U) if ``return_sequences`` else (B, U)
        Gradient on the outputs, in the order the forward returned them (processing order).
    d_states : ndarray (S, B, U)
        Gradient on the final states (``[h, c]`` for the LSTM); zeros when unused.
    cache : tuple ``(zs, history)``
        From :func:`lstm_np.kernels.recurrent.rnn_forward` with ``keep=True``:
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
    d_bias : ndarray (G,), or (0,) without bias
    """
    zs, history = cache
    dt = x.dtype
    if not return_sequences:
        d_outputs = d_outputs.reshape(d_outputs.shape[0], 1, d_outputs.shape[-1])
    return _rnn_backward(
        cell, x, kernel, recurrent_kernel, bias, zs, history, mask,
        np.ascontiguousarray(d_outputs, dtype=dt), np.ascontiguousarray(d_states, dtype=dt),
        act, rec_act, bool(go_backwards), bool(zero_output_for_mask), bool(return_sequences))
