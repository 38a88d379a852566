"""Cell families of the recurrent kernels: their codes, gate and state counts, bias layout.

The computation is in :mod:`lstm_np.kernels.rnn` (numba) and
:mod:`lstm_np.kernels.numpy_rnn` (NumPy), chosen by :mod:`lstm_np.kernels.dispatch`; the
backward pass in :mod:`lstm_np.kernels.backward`. Shapes: ``U`` units, ``G`` gate width
(``4U`` LSTM, ``3U`` GRU, ``U`` SimpleRNN).

Bias: always a 1-D array, of length 0 (``use_bias=False``), ``G``, or ``2G`` for the GRU with
``reset_after`` (Keras's ``(2, 3U)`` bias flattened: input bias, then recurrent bias).
"""
import numpy as np

from ..errors import ConfigError

__all__ = ["LSTM_CELL", "GRU_CELL", "GRU_RESET_BEFORE_CELL", "SIMPLE_RNN_CELL", "N_STATES",
           "GATES", "BIAS_BLOCKS"]

LSTM_CELL = 0
GRU_CELL = 1                # GRU, reset_after=True (Keras 3 / TF2 default), bias (2, 3U)
GRU_RESET_BEFORE_CELL = 2   # GRU, reset_after=False (Keras 1 / TF1 style), bias (3U,)
SIMPLE_RNN_CELL = 3
# states per cell family
N_STATES = {LSTM_CELL: 2, GRU_CELL: 1, GRU_RESET_BEFORE_CELL: 1, SIMPLE_RNN_CELL: 1}
# gate blocks per cell family (G = GATES * U)
GATES = {LSTM_CELL: 4, GRU_CELL: 3, GRU_RESET_BEFORE_CELL: 3, SIMPLE_RNN_CELL: 1}
# bias length in units of G when use_bias (GRU reset_after: input and recurrent bias)
BIAS_BLOCKS = {LSTM_CELL: 1, GRU_CELL: 2, GRU_RESET_BEFORE_CELL: 1, SIMPLE_RNN_CELL: 1}


def _kernel_bias(cell, kernel, bias):
    """Keras's bias as the kernels take it: 1-D, ``(2, 3U)`` flattened; length checked."""
    bias = np.ascontiguousarray(bias).reshape(-1)
    G = kernel.shape[1]
    if bias.shape[0] not in (0, BIAS_BLOCKS[cell] * G):
        raise ConfigError(f"bias of {bias.shape[0]} numbers does not fit cell {cell} with gate "
                         f"width {G} (expected 0 or {BIAS_BLOCKS[cell] * G})")
    return bias
