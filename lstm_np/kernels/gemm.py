"""Packed matrix products for the JIT path: register-tiled micro-kernels over weight panels.

Weights are packed once (:mod:`lstm_np.kernels.packing`) into *panels* of ``NR = NV * L``
columns (``L`` lanes per vector, :func:`lstm_np.kernels.simd.lanes`): panel ``p`` is a
``(K, NR)`` block stored row after row, so one reduction step reads ``NV`` consecutive
vectors. A tile kernel multiplies ``MR`` rows of an activation matrix by one panel, keeping
the ``MR x NV`` accumulator vectors in registers for the whole reduction, and writes the
tile to a small scratch ``Z`` (``MR x NR``, row stride ``NR``) that an epilogue (bias,
activation, gates) reads while it is in L1.

Tile shapes: ``MR x NV`` accumulators use 24 of AVX-512's 32 registers (6 x 4); a row of
one (``MR = 1``, batch-1 recurrences) splits the reduction into two interleaved halves so
that eight independent FMA chains hide the FMA latency; it is bound by reading the panel.
"""
from functools import lru_cache

from numba import njit, types
from numba.extending import intrinsic, overload

from .._jit import jit_options
from .simd import REGISTERS, rget, rset, vadd, vbcast, vfma, vload, vregs, vsplat, vstore

__all__ = ["tile", "tile_kernel", "MR", "NV", "vlanes", "JIT_OPTIONS"]

#: Options of every kernel (:func:`lstm_np._jit.jit_options`).
JIT_OPTIONS = jit_options()

NV = 4                                  # vectors per panel row (LSTM, SimpleRNN, Dense)
MR = 6 if REGISTERS >= 32 else 3        # rows per tile (6 x 4 accumulators fill AVX-512)


@intrinsic
def vlanes(typingctx, arr):
    """Lanes of one vector of ``arr``'s dtype (a constant after compilation)."""
    if not isinstance(arr, types.Array) or arr.dtype not in (types.float32, types.float64):
        return None
    from .simd import VECTOR_BYTES
    n = VECTOR_BYTES // (arr.dtype.bitwidth // 8)

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)
    return types.intp(arr), codegen


@lru_cache(maxsize=None)
def tile_kernel(nv):
    """``Z[r, v] = sum_k A[a0 + r * lda + k] * P[p0 + k * ldp + v]`` for ``r < mr <= MR``,
    ``v < nv * lanes``.

    ``A``, ``P`` and ``Z`` are 1-D (flat) arrays of one float dtype; ``lda`` may be
    negative (rows in reverse order); ``ldp`` is the panel's row width (a multiple of
    the lanes, at least ``nv * lanes``); ``Z`` receives the tile at row stride
    ``nv * lanes``. Compiled once per dtype.

    Every row is summed in the same order whatever the tile height -- the first half of
    ``k`` and the second half in separate FMA chains, then added -- so a row's result does
    not depend on the batch it is in. One row runs both halves at once (enough independent
    chains to hide the FMA latency); two to six run them one after the other (``MR x nv``
    accumulators each).
    """
    pair = 2 * nv              # registers of the one-row form
    seq = MR * nv              # registers of the 2-6 row form

    def tile(A, a0, lda, P, p0, ldp, K, Z, mr):
        L = vlanes(P)
        zr = nv * L
        Kh = K // 2
        if mr == 1:
            acc = vregs(P, pair)
            for k in range(Kh):
                o = p0 + k * ldp
                o2 = p0 + (Kh + k) * ldp
                for r in range(1):
                    if r < mr:
                        a = vbcast(A[a0 + r * lda + k])
                        b = vbcast(A[a0 + r * lda + Kh + k])
                        for v in range(nv):
                            j = 2 * (r * nv + v)
                            rset(acc, j, vfma(a, vload(P, o + v * L), rget(acc, j)))
                            rset(acc, j + 1, vfma(b, vload(P, o2 + v * L), rget(acc, j + 1)))
            if K - Kh > Kh:                      # odd K: the second half's last term
                o2 = p0 + (K - 1) * ldp
                for r in range(1):
                    if r < mr:
                        b = vbcast(A[a0 + r * lda + K - 1])
                        for v in range(nv):
                            j = 2 * (r * nv + v) + 1
                            rset(acc, j, vfma(b, vload(P, o2 + v * L), rget(acc, j)))
            for r in range(1):
                for v in range(nv):
                    j = 2 * (r * nv + v)
                    vstore(Z, r * zr + v * L, vadd(rget(acc, j), rget(acc, j + 1)))
            return
        acc = vregs(P, seq)
        for half in range(2):
            k0 = 0 if half == 0 else Kh
            k1 = Kh if half == 0 else K
            for r in range(MR):
                for v in range(nv):
                    rset(acc, r * nv + v, vsplat(P, 0.0))
            for k in range(k0, k1):
                o = p0 + k * ldp
                for r in range(MR):
                    if r < mr:
                        a = vbcast(A[a0 + r * lda + k])
                        for v in range(nv):
                            j = r * nv + v
                            rset(acc, j, vfma(a, vload(P, o + v * L), rget(acc, j)))
            for r in range(MR):
                if r < mr:
                    for v in range(nv):
                        q = r * zr + v * L
                        if half == 0:
                            vstore(Z, q, rget(acc, r * nv + v))
                        else:
                            vstore(Z, q, vadd(vload(Z, q), rget(acc, r * nv + v)))

    return njit(**JIT_OPTIONS)(tile)


def tile(nv, A, a0, lda, P, p0, ldp, K, Z, mr):
    """``tile_kernel(nv)(A, a0, lda, P, p0, ldp, K, Z, mr)``; ``nv`` must be a compile-time
    constant, so a kernel compiles only the tile widths it uses."""
    raise NotImplementedError("tile() runs only inside jitted kernels")


@overload(tile, jit_options=JIT_OPTIONS)
def _tile_overload(nv, A, a0, lda, P, p0, ldp, K, Z, mr):
    if not isinstance(nv, types.IntegerLiteral):
        return None
    kernel = tile_kernel(nv.literal_value)

    def impl(nv, A, a0, lda, P, p0, ldp, K, Z, mr):
        kernel(A, a0, lda, P, p0, ldp, K, Z, mr)
    return impl
