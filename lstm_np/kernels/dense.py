"""``Dense`` on the JIT path: ``act(x @ kernel + bias)`` with packed column panels, and the
row-wise softmax Keras applies for ``activation="softmax"`` (``keras.activations.softmax``:
``exp(x - max) / sum``, last axis).

A worker takes a block of rows; for each panel of the kernel (``K x NR``, read once per
block and kept in L2) it runs every tile of the block's rows (read in place from ``x``),
adds the bias and applies the activation to the tile, then, for softmax, normalises each
of its rows while they are in cache. Arrays are flat: ``x`` (M, K), ``y`` (M, N).
"""
import math
from functools import lru_cache

import numpy as np
from numba import njit

from .gemm import JIT_OPTIONS, MR, tile, vlanes
from .simd import vadd, vbcast, vhmax, vhsum, vload, vmaximum, vmul, vsplat, vstore, vstore_n, vsub
from .vmath import vact, vexp_f32

__all__ = ["dense_kernel", "SOFTMAX"]

#: activation code of a row-wise softmax (not an elementwise activation)
SOFTMAX = -2


@lru_cache(maxsize=None)
def dense_kernel(f32, act):
    """The Dense row-block kernel for one dtype (``f32``) and activation code (SOFTMAX; -1:
    given at run time as ``act_rt``)."""
    elementwise = act if act != SOFTMAX else 0          # 0: linear before the softmax

    def dense_rows(x, P, bias, y, K, N, m0, m1, act_rt):
        """Rows ``m0 .. m1`` of ``y = act(x @ W + b)``; ``P`` flat ``(np, K, 4L)``, ``bias``
        flat ``(np * 4L,)`` (zeros without a bias)."""
        ac = elementwise if elementwise >= 0 else act_rt
        L = vlanes(P)
        NR = 4 * L
        npan = -(-N // NR)
        Z = np.empty(MR * NR, P.dtype)
        scratch = np.empty(L, P.dtype)
        rows = m1 - m0
        for p in range(npan):
            c0 = p * NR
            for i0 in range(0, rows, MR):
                m = min(MR, rows - i0)
                tile(4, x, (m0 + i0) * K, K, P, p * K * NR, NR, K, Z, m)
                for q in range(m):
                    yb = (m0 + i0 + q) * N + c0
                    for v in range(4):
                        nn = min(L, N - c0 - v * L)
                        if nn <= 0:
                            break
                        z = vadd(vload(Z, q * NR + v * L), vload(bias, c0 + v * L))
                        vstore_n(y, yb + v * L, vact(z, ac, f32, scratch), nn)
        if act == SOFTMAX:
            for m in range(m0, m1):
                if f32:
                    _softmax_row_f32(y, m * N, N)
                else:
                    _softmax_row_any(y, m * N, N)

    return njit(**JIT_OPTIONS)(dense_rows)


@njit(**JIT_OPTIONS)
def _softmax_row_f32(y, start, N):
    """``y[start:start+N] = exp(y - max) * (1 / sum)`` in place: Keras ``softmax`` as TF's
    kernel computes it (the sum's reciprocal times each exponential); NaN anywhere in the
    row makes the whole row NaN, as in Keras."""
    L = vlanes(y)
    full = (N // L) * L
    mx = vsplat(y, -np.inf)
    for j in range(0, full, L):
        mx = vmaximum(mx, vload(y, start + j))
    top = vhmax(mx) if full > 0 else y.dtype.type(-np.inf)
    for j in range(full, N):
        v = y[start + j]
        if top == top and not (v <= top):
            top = v
    acc = vsplat(y, 0.0)
    t = vbcast(top)
    for j in range(0, full, L):
        e = vexp_f32(vsub(vload(y, start + j), t))
        vstore(y, start + j, e)
        acc = vadd(acc, e)
    total = vhsum(acc) if full > 0 else y.dtype.type(0)
    for j in range(full, N):
        e = y.dtype.type(math.exp(float(y[start + j] - top)))
        y[start + j] = e
        total += e
    inv = y.dtype.type(1) / total
    iv = vbcast(inv)
    for j in range(0, full, L):
        vstore(y, start + j, vmul(vload(y, start + j), iv))
    for j in range(full, N):
        y[start + j] = y[start + j] * inv


@njit(**JIT_OPTIONS)
def _softmax_row_any(y, start, N):
    """:func:`_softmax_row_f32` for any dtype, one lane at a time (float64)."""
    top = y[start]
    for j in range(1, N):
        v = y[start + j]
        if top == top and not (v <= top):
            top = v
    total = y.dtype.type(0)
    for j in range(N):
        e = math.exp(y[start + j] - top)
        y[start + j] = e
        total += e
    inv = y.dtype.type(1) / total
    for j in range(N):
        y[start + j] = y[start + j] * inv
