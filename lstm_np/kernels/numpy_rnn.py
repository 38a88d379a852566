"""Recurrent layers on the pure-NumPy path (no numba): inference only.

What a careful NumPy user writes: the input projection as one GEMM (``CHUNK_BYTES`` of
timesteps at a time, so memory does not grow with the sequence), then per step one BLAS
product ``h @ U`` into a preallocated array and the gate arithmetic as whole-array ufuncs.
The cell equations, the addition order and the mask / ``go_backwards`` /
``zero_output_for_mask`` semantics are those of :mod:`lstm_np.kernels.rnn` (see its
docstring); activations are :func:`lstm_np.activations.activate`'s NumPy forms.
"""
import numpy as np

from ..activations import _activate_arrays

__all__ = ["rnn_forward_numpy", "CHUNK_BYTES"]

LSTM, GRU, GRU_BEFORE, SIMPLE_RNN = 0, 1, 2, 3
#: The projection is computed for at most this many bytes of timesteps at once.
CHUNK_BYTES = 32 << 20


def rnn_forward_numpy(cell, x, kernel, recurrent_kernel, bias, states0, mask, act, rec_act,
                      go_backwards=False, zero_output_for_mask=False, return_sequences=True,
                      ids=None, keep=False):
    """``(outputs, final_states)``, and with ``keep`` ``(outputs, final_states, (zs,
    history))`` as the JIT kernel keeps them for the backward pass (see
    :mod:`lstm_np.kernels.rnn`). ``ids`` (B, T) replaces ``x``: row ``ids[b, t]`` of the
    kernel is the projection (an Embedding or one-hot input)."""
    B, T = (ids.shape if ids is not None else x.shape[:2])
    U = recurrent_kernel.shape[0]
    dt = kernel.dtype
    G = kernel.shape[1]
    bias = np.asarray(bias).reshape(-1)
    has_bias = bias.size > 0
    b_in = bias[:G] if has_bias else None
    b_rec = bias[G:] if cell == GRU and has_bias else None
    h = states0[0].copy()
    c = states0[1].copy() if cell == LSTM else None
    outputs = np.empty((B, T, U), dt) if return_sequences else None
    prev = np.zeros((B, U), dt)
    z = np.empty((B, G), dt)
    has_mask = mask is not None and mask.size > 0
    chunk = max(1, min(T, CHUNK_BYTES // max(1, B * G * dt.itemsize)))
    rk_h = recurrent_kernel[:, 2 * U:] if cell == GRU_BEFORE else None
    rk_zr = recurrent_kernel[:, :2 * U] if cell == GRU_BEFORE else None
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    xw = None
    if keep:
        zs = np.empty((B, T, G), dt)
        history = np.empty((2 if cell == LSTM else 1, B, T, U), dt)
    for s, t in enumerate(order):
        if s % chunk == 0:                       # the projection of the next chunk
            steps = list(order[s:s + chunk])
            if ids is not None:
                xw = kernel[ids[:, steps]]                      # (B, n, G)
            else:
                xw = np.matmul(x[:, steps], kernel)              # (B, n, G)
            if cell != LSTM and has_bias:
                xw += b_in                                       # x W + b_in
        xt = xw[:, s % chunk]
        if keep:
            history[0, :, s] = h
            if cell == LSTM:
                history[1, :, s] = c
        if cell == LSTM:
            np.dot(h, recurrent_kernel, out=z)
            z += xt                                              # (x W + h U) ...
            if has_bias:
                z += b_in                                        # ... + b
            if keep:
                zs[:, s] = z
            i = _activate_arrays(z[:, :U], rec_act)
            f = _activate_arrays(z[:, U:2 * U], rec_act)
            g = _activate_arrays(z[:, 2 * U:3 * U], act)
            o = _activate_arrays(z[:, 3 * U:], rec_act)
            c_new = f * c + i * g
            h_new = o * _activate_arrays(c_new, act)
        elif cell == GRU:
            np.dot(h, recurrent_kernel, out=z)                   # h U
            if b_rec is not None:
                z += b_rec                                       # inner = h U + b_rec
            zr_pre = xt[:, :2 * U] + z[:, :2 * U]
            zr = _activate_arrays(zr_pre, rec_act)
            hh_pre = xt[:, 2 * U:] + zr[:, U:] * z[:, 2 * U:]
            hh = _activate_arrays(hh_pre, act)
            h_new = zr[:, :U] * h + (dt.type(1) - zr[:, :U]) * hh
            if keep:
                zs[:, s, :2 * U] = zr_pre
                zs[:, s, 2 * U:] = hh_pre
        elif cell == GRU_BEFORE:
            zr_pre = xt[:, :2 * U] + h @ rk_zr
            zr = _activate_arrays(zr_pre, rec_act)
            hh_pre = xt[:, 2 * U:] + (zr[:, U:] * h) @ rk_h
            hh = _activate_arrays(hh_pre, act)
            h_new = zr[:, :U] * h + (dt.type(1) - zr[:, :U]) * hh
            if keep:
                zs[:, s, :2 * U] = zr_pre
                zs[:, s, 2 * U:] = hh_pre
        else:
            z_pre = xt + h @ recurrent_kernel                    # (x W + b) + h U
            h_new = _activate_arrays(z_pre, act)
            if keep:
                zs[:, s] = z_pre
        if has_mask:
            m = mask[:, t][:, None]
            h = np.where(m, h_new, h)
            if cell == LSTM:
                c = np.where(m, c_new, c)
            prev = np.where(m, h_new, np.zeros_like(prev) if zero_output_for_mask else prev)
        else:
            h = h_new
            if cell == LSTM:
                c = c_new
            prev = h_new
        if return_sequences:
            outputs[:, s] = prev
    if not return_sequences:
        outputs = np.array(prev)
    states = np.stack([h, c]) if cell == LSTM else h[None]
    if keep:
        return outputs, states, (zs, history)
    return outputs, states
