"""Weights in the JIT kernels' panel layout (NumPy only; packed once per layer).

A recurrent layer's ``kernel (D, G)`` and ``recurrent_kernel (U, G)`` (``G = gates * U``,
gate blocks in Keras order) are stacked into ``K = D + U`` rows and cut into panels of
``width`` units: panel ``p`` holds, for units ``p*width .. p*width + width - 1``, the
columns of every gate side by side (``[i | f | c | o]`` for the LSTM), so one panel row is
``gates * width`` numbers and a tile of it yields every gate of ``width`` units at once --
the gates are computed in registers, and no ``(B, G)`` pre-activation array is written.
The last panel is padded with zero columns; its padded units are never stored.
"""
import numpy as np

__all__ = ["pack_gates", "pack_bias", "pack_columns", "n_panels"]


def n_panels(units, width):
    return -(-units // width)


def pack_gates(kernel, recurrent_kernel, gates, width):
    """``(D, G), (U, G) -> (panels, D + U, gates * width)`` C-contiguous."""
    K = kernel.shape[0] + recurrent_kernel.shape[0]
    units = kernel.shape[1] // gates
    nb = n_panels(units, width)
    full = np.concatenate([kernel, recurrent_kernel]).reshape(K, gates, units)
    padded = np.zeros((K, gates, nb * width), kernel.dtype)
    padded[:, :, :units] = full
    out = padded.reshape(K, gates, nb, width).transpose(2, 0, 1, 3)
    return np.ascontiguousarray(out).reshape(nb, K, gates * width)


def pack_bias(bias, gates, units, width):
    """A ``(gates * units,)`` bias (or an empty one: zeros) -> ``(panels, gates * width)``."""
    nb = n_panels(units, width)
    padded = np.zeros((gates, nb * width), bias.dtype)
    if bias.size:
        padded[:, :units] = bias.reshape(gates, units)
    return np.ascontiguousarray(padded.reshape(gates, nb, width).transpose(1, 0, 2)).reshape(
        nb, gates * width)


def pack_columns(matrix, width):
    """``(K, N) -> (panels, K, width)``: plain column panels (Dense)."""
    K, N = matrix.shape
    nb = n_panels(N, width)
    padded = np.zeros((K, nb * width), matrix.dtype)
    padded[:, :N] = matrix
    return np.ascontiguousarray(padded.reshape(K, nb, width).transpose(1, 0, 2))
