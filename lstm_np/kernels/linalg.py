"""Matrix products inside jitted code without BLAS.

numba's ``np.dot`` calls BLAS through SciPy; lstm_np does not depend on SciPy, so the
BPTT kernels (:mod:`lstm_np.kernels.backward`) use :func:`dot`. On the pure-NumPy path it *is*
``np.dot``; compiled, it is a loop whose inner loop over a row of ``b`` vectorises.
"""
import numpy as np

from .._jit import jit

__all__ = ["dot"]


def _dot_loops(a, b):
    """``a @ b`` for 2-D arrays of one float dtype, any strides."""
    M, K = a.shape
    N = b.shape[1]
    bc = np.ascontiguousarray(b)        # rows of b contiguous: the inner loop vectorises
    out = np.zeros((M, N), dtype=a.dtype)
    for i in range(M):
        row = out[i]
        for k in range(K):
            aik = a[i, k]
            brow = bc[k]
            for j in range(N):
                row[j] += aik * brow[j]
    return out


dot = jit(_dot_loops, fallback=np.dot, contract=True)
