"""The recurrent driver: one time loop, one place for masks, direction and state carrying.

Every cell family (LSTM now; GRU and SimpleRNN share the same contract) is a pure step
function ``states -> new_states`` selected by an integer ``cell`` code, so one jitted driver
serves them all. Keras semantics mirrored here (Keras 3 ``backend/tensorflow/rnn.py``
``rnn()``; Keras 2 ``backend.rnn`` is identical):

* the input projection ``x @ kernel`` is computed once for all timesteps (one GEMM);
* per step the LSTM pre-activation is ``(x_t W + h U) + b`` in that order
  (``LSTMCell.call`` with ``implementation=2``);
* ``go_backwards`` walks ``t = T-1 .. 0`` and leaves the outputs in processing order;
* at a masked step the states are carried (``where(mask, new, old)``) and the output is
  the previously *emitted* output, starting from zeros, or zeros with
  ``zero_output_for_mask``; the last output is the output of the last processed step.

Shapes: ``B`` batch, ``T`` timesteps, ``D`` input features, ``U`` units, ``G`` gate width
(``4U`` for the LSTM), ``S`` number of states (2 for the LSTM: ``h, c``).
"""
import numpy as np

from .._jit import jit
from ..activations import _activate

__all__ = ["LSTM_CELL", "N_STATES", "GATES", "rnn_forward", "rnn_step"]

LSTM_CELL = 0
N_STATES = {LSTM_CELL: 2}   # states per cell family
GATES = {LSTM_CELL: 4}      # gate blocks per cell family (G = GATES * U)


@jit
def _lstm_step(xw_t, states, recurrent_kernel, bias, act, rec_act, z_out):
    """One LSTM step on pre-projected input ``xw_t = x_t @ kernel`` (B, 4U).

    Mirrors ``LSTMCell.call`` / ``_compute_carry_and_output_fused``: gates i, f, c, o;
    ``c = f * c_tm1 + i * act(z_c)``; ``h = o * act(c)``. Writes ``z`` into ``z_out``.
    """
    h = states[0]                                    # (B, U)
    c = states[1]                                    # (B, U)
    U = h.shape[1]
    z = xw_t + np.dot(h, recurrent_kernel)           # (B, 4U)
    if bias.shape[0] > 0:
        z = z + bias
    i = _activate(z[:, :U], rec_act)
    f = _activate(z[:, U:2 * U], rec_act)
    g = _activate(z[:, 2 * U:3 * U], act)
    o = _activate(z[:, 3 * U:], rec_act)
    new = np.empty_like(states)                      # (2, B, U)
    new[1] = f * c + i * g
    new[0] = o * _activate(new[1], act)
    z_out[:, :] = z
    return new


@jit
def _cell_step(cell, xw_t, states, recurrent_kernel, bias, act, rec_act, z_out):
    """Dispatch one step of cell family ``cell``; returns the new states (S, B, U)."""
    if cell == LSTM_CELL:
        return _lstm_step(xw_t, states, recurrent_kernel, bias, act, rec_act, z_out)
    raise ValueError("unknown cell code")


@jit
def _rnn_forward(cell, x, kernel, recurrent_kernel, bias, states0, mask, act, rec_act,
                 go_backwards, zero_output_for_mask, return_sequences, keep):
    """The time loop. Returns ``(outputs, final_states, zs, history)``.

    outputs (B, T or 1, U) in processing order; final_states (S, B, U); when ``keep``,
    zs (B, T, G) holds the pre-activations and history (S, B, T, U) the states entering each
    step (processing order), which the backward pass needs; otherwise both are empty.
    """
    B, T, D = x.shape
    S, _, U = states0.shape
    G = kernel.shape[1]
    xw = np.dot(x.reshape(B * T, D), kernel).reshape(B, T, G)   # (B, T, G), one GEMM
    states = states0.copy()                                    # (S, B, U)
    has_mask = mask.shape[0] > 0
    n_out = T if return_sequences else 1
    outputs = np.zeros((B, n_out, U), dtype=x.dtype)           # (B, T|1, U)
    prev = np.zeros((B, U), dtype=x.dtype)                     # last emitted output
    if keep:
        zs = np.empty((B, T, G), dtype=x.dtype)
        history = np.empty((S, B, T, U), dtype=x.dtype)
    else:
        zs = np.empty((0, 0, 0), dtype=x.dtype)
        history = np.empty((0, 0, 0, 0), dtype=x.dtype)
    z = np.empty((B, G), dtype=x.dtype)
    for s in range(T):
        t = T - 1 - s if go_backwards else s
        if keep:
            history[:, :, s, :] = states
        new = _cell_step(cell, xw[:, t, :], states, recurrent_kernel, bias, act, rec_act, z)
        if keep:
            zs[:, s, :] = z
        if has_mask:
            for b in range(B):
                if mask[b, t]:
                    states[:, b, :] = new[:, b, :]
                    prev[b, :] = new[0, b, :]
                elif zero_output_for_mask:
                    prev[b, :] = 0
        else:
            states = new
            prev[:, :] = new[0]
        outputs[:, s if return_sequences else 0, :] = prev
    return outputs, states, zs, history


def rnn_forward(cell, x, kernel, recurrent_kernel, bias, states0, mask, act, rec_act,
                go_backwards=False, zero_output_for_mask=False, return_sequences=True,
                keep=False):
    """Run a recurrent layer over a sequence (arrays already validated by the layer).

    Parameters
    ----------
    cell : int
        Cell family code (``LSTM_CELL``).
    x : ndarray (B, T, D), C-contiguous, float32 or float64
    kernel : ndarray (D, G); recurrent_kernel : ndarray (U, G); bias : ndarray (G,) or (0,)
    states0 : ndarray (S, B, U)
        Initial states, ``[h, c]`` for the LSTM.
    mask : ndarray (B, T) of bool, or an empty (0, 0) array for no mask.
    act, rec_act : int
        Activation codes from :func:`lstm_np.activations.resolve`.

    Returns
    -------
    outputs : ndarray (B, T, U) if ``return_sequences`` else (B, U)
    final_states : ndarray (S, B, U)
    cache : tuple ``(zs, history)`` or ``None``
        Saved intermediates for the backward pass when ``keep`` (B·T·(G + S·U) numbers).
    """
    outputs, states, zs, history = _rnn_forward(
        cell, x, kernel, recurrent_kernel, bias, states0, mask, act, rec_act,
        bool(go_backwards), bool(zero_output_for_mask), bool(return_sequences), bool(keep))
    if not return_sequences:
        outputs = outputs[:, 0, :]
    return outputs, states, ((zs, history) if keep else None)


@jit
def _rnn_step(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act):
    z = np.empty((x_t.shape[0], kernel.shape[1]), dtype=x_t.dtype)
    return _cell_step(cell, np.dot(x_t, kernel), states, recurrent_kernel, bias, act,
                      rec_act, z)


def rnn_step(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act):
    """One timestep for streaming: ``x_t`` (B, D), ``states`` (S, B, U) -> new states.

    The output of the step is ``new_states[0]`` (``h``).
    """
    return _rnn_step(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act)
