"""Recurrent layers on the JIT path: one worker runs the whole time loop for a block of rows.

Rows of a batch never interact, so a batch is cut into row blocks and each block runs the
complete sequence on one thread (no synchronisation per step; a busy core slows only its
own block). Per step, a block multiplies ``[x_t | h]`` (``FUSED`` mode: one product over
``K = D + U`` rows of the packed weights) or ``h`` alone -- the input part then comes from
a projection computed ``CH`` timesteps at a time (``SPLIT``), or is a row of the packed
kernel for one-hot and id inputs (``GATHER``) -- by each weight panel
(:mod:`lstm_np.kernels.packing`), and applies the gates to the tile while it is in
registers: no ``(B, T, G)`` pre-activation array is written.

Keras semantics (Keras 3 ``backend/tensorflow/rnn.py`` ``rnn()`` and the cells' ``call``,
implementation 2; tf-keras is identical), per cell family:

* LSTM: ``z = (x W + h U) + b`` for gates i, f, c, o; ``c = f * c_tm1 + i * act(z_c)``;
  ``h = o * act(c)``;
* GRU ``reset_after``: ``x_g = x W_g + b_in_g``, ``inner_g = h U_g + b_rec_g``;
  ``z = ra(x_z + inner_z)``, ``r = ra(x_r + inner_r)``, ``hh = act(x_h + r * inner_h)``;
* GRU ``reset_after=False``: ``x_g = x W_g + b_g``; ``z, r`` as above without a recurrent
  bias; ``hh = act(x_h + (r * h) U_h)``;
* both GRUs: ``h = z * h_tm1 + (1 - z) * hh``; SimpleRNN: ``h = act((x W + b) + h U)``;
* at a masked step the states are carried and the output is the previous emitted output
  (zeros with ``zero_output_for_mask``); ``go_backwards`` walks ``t = T-1 .. 0`` and leaves
  outputs in processing order; the last output is the last processed step's.

Panels (:func:`panel_units`): the LSTM and GRU put every gate of ``L`` units (one vector) side
by side, so a tile gives all gates of those units; SimpleRNN panels are ``4L`` units.

Arrays are flat (1-D, C order) with their shapes passed as integers: ``x`` (B, T, D),
``ids`` (B, T), ``mask`` (B, T) or empty, ``h0``/``c0``/``h_fin``/``c_fin`` (B, U), ``out``
(B, T, U) with ``return_sequences`` else (B, U). ``c0``/``c_fin`` are unused but for the
LSTM.
"""
from functools import lru_cache

import numpy as np
from numba import njit, types
from numba.extending import overload

from .gemm import JIT_OPTIONS, MR, tile, vlanes
from .simd import (
    atomic_load, atomic_store, vadd, vload, vload_n, vmul, vsplat, vstore, vstore_n, vsub,
)
from .vmath import vact

__all__ = ["rnn_kernel", "step_kernel", "duo_kernel", "onehot_rows", "FUSED", "SPLIT", "GATHER", "LSTM", "GRU", "GRU_BEFORE",
           "SIMPLE_RNN", "panel_units", "panel_vectors", "choose_chunk"]

FUSED, SPLIT, GATHER = 0, 1, 2
# cell family codes (as lstm_np.kernels.recurrent)
LSTM, GRU, GRU_BEFORE, SIMPLE_RNN = 0, 1, 2, 3

def panel_units(cell, lanes_):
    """Units per panel: one vector per gate, SimpleRNN four vectors of units."""
    return 4 * lanes_ if cell == SIMPLE_RNN else lanes_


def panel_vectors(cell):
    """Vectors per panel row (the panel width is this times the lanes)."""
    return 3 if cell in (GRU, GRU_BEFORE) else 4


def choose_chunk(T, rows, gate_width, itemsize, budget=4 << 20):
    """Timesteps projected at once in SPLIT mode: the projection buffer stays near
    ``budget`` bytes (a multiple of the tile height, at least one tile)."""
    ch = budget // max(1, rows * gate_width * itemsize)
    ch = max(MR, min(T, ch))
    return -(-ch // MR) * MR

_INLINE = dict(JIT_OPTIONS, inline="always")


@njit(**_INLINE)
def _lstm_cell(X, xb, Z, zb, bias, bb, c_old, L, ac, ra, f32, scratch):
    """``(h, c, z_i, z_f, z_c, z_o)`` of ``L`` units: ``z = (x W + h U) + b``."""
    zi = vadd(vadd(vload(X, xb), vload(Z, zb)), vload(bias, bb))
    zf = vadd(vadd(vload(X, xb + L), vload(Z, zb + L)), vload(bias, bb + L))
    zg = vadd(vadd(vload(X, xb + 2 * L), vload(Z, zb + 2 * L)), vload(bias, bb + 2 * L))
    zo = vadd(vadd(vload(X, xb + 3 * L), vload(Z, zb + 3 * L)), vload(bias, bb + 3 * L))
    c = vadd(vmul(vact(zf, ra, f32, scratch), c_old),
             vmul(vact(zi, ra, f32, scratch), vact(zg, ac, f32, scratch)))
    return vmul(vact(zo, ra, f32, scratch), vact(c, ac, f32, scratch)), c, zi, zf, zg, zo


@njit(**_INLINE)
def _gru_cell(X, xb, Z, zb, bias, bb, rbb, h_old, L, ac, ra, f32, scratch):
    """``(h, z_pre, r_pre, hh_pre)`` of ``L`` units, ``reset_after``: ``x_g = x W_g + b_in``,
    ``inner_g = h U_g + b_rec``; ``hh = act(x_h + r * inner_h)``; ``h = z h_tm1 + (1 - z) hh``."""
    xz = vadd(vload(X, xb), vload(bias, bb))
    xr = vadd(vload(X, xb + L), vload(bias, bb + L))
    xh = vadd(vload(X, xb + 2 * L), vload(bias, bb + 2 * L))
    iz = vadd(vload(Z, zb), vload(bias, rbb))
    ir = vadd(vload(Z, zb + L), vload(bias, rbb + L))
    ih = vadd(vload(Z, zb + 2 * L), vload(bias, rbb + 2 * L))
    z_pre = vadd(xz, iz)
    r_pre = vadd(xr, ir)
    z = vact(z_pre, ra, f32, scratch)
    r = vact(r_pre, ra, f32, scratch)
    hh_pre = vadd(xh, vmul(r, ih))
    hh = vact(hh_pre, ac, f32, scratch)
    return vadd(vmul(z, h_old), vmul(vsub(vsplat(Z, 1.0), z), hh)), z_pre, r_pre, hh_pre


@njit(**_INLINE)
def _simple_cell(X, xb, Z, zb, bias, bb, ac, f32, scratch):
    """``(h, z)`` of one vector of units: ``z = (x W + b) + h U``, ``h = act(z)``."""
    z = vadd(vadd(vload(X, xb), vload(bias, bb)), vload(Z, zb))
    return vact(z, ac, f32, scratch), z


@lru_cache(maxsize=None)
def _projection_kernel(nv):
    def project_chunk(x, P, XW, r0, rows, s0, n_ch, CH, T, D, K, p_first, p_count,
                      go_backwards):
        """``XW[i, q] = x[r0 + i, t(s0 + q)] @ W`` (packed panels ``p_first ..
        p_first + p_count``, no bias) for ``q < n_ch``.

        Panel-major: each panel of ``W`` is read from memory once per chunk and reused for
        every row and timestep; a tile's rows are consecutive processing steps of one row,
        read in place from ``x`` (stride ``+-D``).
        """
        L = vlanes(P)
        NR = nv * L
        Z = np.empty(MR * NR, P.dtype)
        step = -D if go_backwards else D
        for p in range(p_first, p_first + p_count):
            for i in range(rows):
                for c0 in range(0, n_ch, MR):
                    m = min(MR, n_ch - c0)
                    s = s0 + c0
                    t = T - 1 - s if go_backwards else s
                    tile(nv, x, ((r0 + i) * T + t) * D, step, P, p * K * NR, NR, D, Z, m)
                    for q in range(m):
                        xb = ((i * CH + c0 + q) * p_count + p - p_first) * NR
                        for v in range(nv):
                            vstore(XW, xb + v * L, vload(Z, q * NR + v * L))
    return njit(**JIT_OPTIONS)(project_chunk)


def project_chunk(nv, x, P, XW, r0, rows, s0, n_ch, CH, T, D, K, p_first, p_count,
                  go_backwards):
    """The input projection of a chunk of timesteps (``nv`` a compile-time constant)."""
    raise NotImplementedError("project_chunk() runs only inside jitted kernels")


@overload(project_chunk, jit_options=JIT_OPTIONS)
def _project_chunk_overload(nv, x, P, XW, r0, rows, s0, n_ch, CH, T, D, K, p_first, p_count,
                            go_backwards):
    if not isinstance(nv, types.IntegerLiteral):
        return None
    kernel = _projection_kernel(nv.literal_value)

    def impl(nv, x, P, XW, r0, rows, s0, n_ch, CH, T, D, K, p_first, p_count, go_backwards):
        kernel(x, P, XW, r0, rows, s0, n_ch, CH, T, D, K, p_first, p_count, go_backwards)
    return impl


@lru_cache(maxsize=None)
def rnn_kernel(cell, f32, act, rec_act):
    """The row-block kernel of one cell family, dtype (``f32``) and activation pair (codes:
    :func:`lstm_np.activations.resolve`; -1: given at run time as ``act_rt``/``rec_rt``,
    one kernel for every other activation); SimpleRNN ignores ``rec_act``."""
    nv = panel_vectors(cell)

    def rnn_rows(mode, x, ids, P, bias, h0, c0, mask, out, h_fin, c_fin, r0, r1, T, D, U,
                 CH, go_backwards, zero_output_for_mask, return_sequences, act_rt, rec_rt,
                 keep, zs, hist):
        """Rows ``r0 .. r1`` through the whole sequence (see the module docstring).

        ``P``: flat packed weights ``(nb, D + U, NR)``; ``bias``: flat packed bias
        ``(nb, NR)`` (the GRU with ``reset_after``: input bias then recurrent bias, twice
        that); ``CH``: timesteps per projection chunk (SPLIT mode). With ``keep``, what
        the backward pass needs (:mod:`lstm_np.kernels.backward`): ``zs`` (B, T, G) the
        arguments of the activations in Keras's gate layout (computed for masked steps too)
        and ``hist`` (S, B, T, U) the states entering each step, in processing order.
        """
        ac = act if act >= 0 else act_rt
        ra = rec_act if rec_act >= 0 else rec_rt
        L = vlanes(P)
        W = 4 * L if cell == SIMPLE_RNN else L          # units per panel
        NR = nv * L
        nb = -(-U // W)
        Up = nb * W
        K = D + U
        rows = r1 - r0
        XA = D if mode == FUSED else 0                 # the x part of an A row
        lda = XA + U
        tiles = -(-rows // MR)
        A = np.zeros((2, rows * lda), P.dtype)         # double-buffered [x_t | h] rows
        C = np.empty(rows * Up if cell == LSTM else 0, P.dtype)   # cell states
        prev = np.zeros(rows * Up, P.dtype)            # last emitted output
        Z = np.empty(MR * NR, P.dtype)                 # recurrent tile: h U
        ZX = np.empty(MR * NR, P.dtype)                # input tile: x W (FUSED)
        scratch = np.empty(L, P.dtype)
        has_mask = mask.size > 0
        XW = np.empty(rows * CH * nb * NR if mode == SPLIT else 0, P.dtype)
        # GRU reset_after=False: z of every unit, and the rows of r * h_tm1
        ZS = np.empty(rows * Up if cell == GRU_BEFORE else 0, P.dtype)
        A2 = np.zeros(rows * U if cell == GRU_BEFORE else 0, P.dtype)
        rec_bias = nb * NR if cell == GRU else 0        # offset of the recurrent bias
        zstride = 2 * L if cell == GRU_BEFORE else NR   # row stride of the phase-1 tiles
        zero = vsplat(P, 0.0)
        one_v = vsplat(P, 1.0)
        zrow = np.zeros(NR, P.dtype)
        G = (4 if cell == LSTM else (1 if cell == SIMPLE_RNN else 3)) * U
        Btot = h0.size // U
        for i in range(rows):
            for u in range(U):
                A[0, i * lda + XA + u] = h0[(r0 + i) * U + u]
                if cell == LSTM:
                    C[i * Up + u] = c0[(r0 + i) * U + u]
        cur = 0
        for s in range(T):
            t = T - 1 - s if go_backwards else s
            if keep:                                   # the states entering step s
                for i in range(rows):
                    hk = ((r0 + i) * T + s) * U
                    for u in range(U):
                        hist[hk + u] = A[cur, i * lda + XA + u]
                        if cell == LSTM:
                            hist[(Btot + r0 + i) * T * U + s * U + u] = C[i * Up + u]
            if mode == FUSED:
                for i in range(rows):
                    xb = ((r0 + i) * T + t) * D
                    for d in range(D):
                        A[cur, i * lda + d] = x[xb + d]
            elif mode == SPLIT and s % CH == 0:
                project_chunk(nv, x, P, XW, r0, rows, s, min(CH, T - s), CH, T, D, K, 0, nb,
                              go_backwards)
            Ac = A[cur]
            An = A[1 - cur]
            for tb in range(tiles):
                i0 = tb * MR
                nrows = min(MR, rows - i0)
                for p in range(nb):
                    pb = p * K * NR                     # panel start
                    bb = p * NR
                    n = min(W, U - p * W)               # real units in this panel
                    if cell == GRU_BEFORE:              # phase 1: z and r only
                        tile(2, Ac, i0 * lda + XA, lda, P, pb + D * NR, NR, U, Z, nrows)
                        if mode == FUSED:
                            tile(2, Ac, i0 * lda, lda, P, pb, NR, D, ZX, nrows)
                    else:
                        tile(nv, Ac, i0 * lda + XA, lda, P, pb + D * NR, NR, U, Z, nrows)
                        if mode == FUSED:
                            tile(nv, Ac, i0 * lda, lda, P, pb, NR, D, ZX, nrows)
                    for ri in range(nrows):
                        i = i0 + ri
                        r = r0 + i
                        hb = i * lda + XA + p * W
                        cb = i * Up + p * W
                        zb = ri * zstride
                        valid = not has_mask or mask[r * T + t]
                        # where the input part of the gates is: ZX, XW or a kernel row
                        if mode == FUSED:
                            xsrc = ZX
                            xb = zb
                        elif mode == GATHER:
                            row = ids[r * T + t]
                            xsrc = P if row >= 0 else zrow      # an all-zero input step
                            xb = pb + row * NR if row >= 0 else 0
                        else:
                            xsrc = XW
                            xb = ((i * CH + s % CH) * nb + p) * NR
                        zk = (r * T + s) * G + p * W    # this panel's units in zs
                        if valid or keep:
                            if cell == LSTM:
                                h, c, zi, zf, zg, zo = _lstm_cell(xsrc, xb, Z, zb, bias, bb,
                                                                  vload(C, cb), L, ac, ra,
                                                                  f32, scratch)
                                if keep:
                                    vstore_n(zs, zk, zi, n)
                                    vstore_n(zs, zk + U, zf, n)
                                    vstore_n(zs, zk + 2 * U, zg, n)
                                    vstore_n(zs, zk + 3 * U, zo, n)
                                if valid:
                                    vstore(C, cb, c)
                                    vstore_n(An, hb, h, n)
                                    vstore(prev, cb, h)
                            elif cell == GRU:
                                h, zp, rp, hp = _gru_cell(xsrc, xb, Z, zb, bias, bb,
                                                          rec_bias + bb, vload_n(Ac, hb, n), L,
                                                          ac, ra, f32, scratch)
                                if keep:
                                    vstore_n(zs, zk, zp, n)
                                    vstore_n(zs, zk + U, rp, n)
                                    vstore_n(zs, zk + 2 * U, hp, n)
                                if valid:
                                    vstore_n(An, hb, h, n)
                                    vstore(prev, cb, h)
                            elif cell == GRU_BEFORE:    # phase 1: z and r only
                                zp = vadd(vadd(vload(xsrc, xb), vload(bias, bb)), vload(Z, zb))
                                rp = vadd(vadd(vload(xsrc, xb + L), vload(bias, bb + L)),
                                          vload(Z, zb + L))
                                if keep:
                                    vstore_n(zs, zk, zp, n)
                                    vstore_n(zs, zk + U, rp, n)
                                vstore(ZS, cb, vact(zp, ra, f32, scratch))
                                vstore_n(A2, i * U + p * W,
                                         vmul(vact(rp, ra, f32, scratch), vload_n(Ac, hb, n)), n)
                            else:
                                for v in range(4):
                                    nn = min(L, n - v * L)
                                    if nn <= 0:
                                        break
                                    h, zv = _simple_cell(xsrc, xb + v * L, Z, zb + v * L, bias,
                                                         bb + v * L, ac, f32, scratch)
                                    if keep:
                                        vstore_n(zs, zk + v * L, zv, nn)
                                    if valid:
                                        vstore_n(An, hb + v * L, h, nn)
                                        vstore(prev, cb + v * L, h)
                        if not valid:                   # carry the states
                            for v in range(W // L):
                                nn = min(L, n - v * L)
                                if nn <= 0:
                                    break
                                vstore_n(An, hb + v * L, vload_n(Ac, hb + v * L, nn), nn)
                                if zero_output_for_mask:
                                    vstore(prev, cb + v * L, zero)
                if cell == GRU_BEFORE:                  # phase 2: the candidate and h
                    for p in range(nb):
                        pb = p * K * NR
                        n = min(W, U - p * W)
                        tile(1, A2, i0 * U, U, P, pb + D * NR + 2 * L, NR, U, Z, nrows)
                        if mode == FUSED:
                            tile(1, Ac, i0 * lda, lda, P, pb + 2 * L, NR, D, ZX, nrows)
                        for ri in range(nrows):
                            i = i0 + ri
                            r = r0 + i
                            valid = not has_mask or mask[r * T + t]
                            if not valid and not keep:
                                continue
                            hb = i * lda + XA + p * W
                            cb = i * Up + p * W
                            if mode == FUSED:
                                xh = vload(ZX, ri * L)
                            elif mode == GATHER:
                                row = ids[r * T + t]
                                xh = vload(P, pb + row * NR + 2 * L) if row >= 0 else zero
                            else:
                                xh = vload(XW, ((i * CH + s % CH) * nb + p) * NR + 2 * L)
                            hp = vadd(vadd(xh, vload(bias, p * NR + 2 * L)), vload(Z, ri * L))
                            if keep:
                                vstore_n(zs, (r * T + s) * G + 2 * U + p * W, hp, n)
                            if valid:
                                hh = vact(hp, ac, f32, scratch)
                                z = vload(ZS, cb)
                                h = vadd(vmul(z, vload_n(Ac, hb, n)), vmul(vsub(one_v, z), hh))
                                vstore_n(An, hb, h, n)
                                vstore(prev, cb, h)
                if return_sequences:
                    for ri in range(nrows):
                        i = i0 + ri
                        ob = ((r0 + i) * T + s) * U
                        for q in range(0, U, L):
                            vstore_n(out, ob + q, vload(prev, i * Up + q), min(L, U - q))
            cur = 1 - cur
        Ac = A[cur]
        for i in range(rows):
            for u in range(U):
                h_fin[(r0 + i) * U + u] = Ac[i * lda + XA + u]
                if cell == LSTM:
                    c_fin[(r0 + i) * U + u] = C[i * Up + u]
                if not return_sequences:
                    out[(r0 + i) * U + u] = prev[i * Up + u]

    return njit(**JIT_OPTIONS)(rnn_rows)


@njit(**JIT_OPTIONS)
def onehot_rows(x, D, ids):
    """True if each row of ``x`` (flat, rows of ``D``) is zero but for at most one 1.0;
    ``ids`` receives its position (-1: an all-zero row). Stops at the first other row."""
    for r in range(ids.size):
        idx = -1
        for d in range(D):
            v = x[r * D + d]
            if v != 0.0:
                if v == 1.0 and idx < 0:
                    idx = d
                else:
                    return False
        ids[r] = idx
    return True


@lru_cache(maxsize=None)
def step_kernel(cell, f32, act, rec_act):
    """One timestep of every row, for streaming: LSTM, GRU (``reset_after``) and SimpleRNN.

    ``x2`` (B, D) and the states ``s_in3`` (S, B, U: h, then c for the LSTM) are read in
    place (C-contiguous); the new states go to ``s_out3`` (another array). The arithmetic is the
    sequence kernel's, so a step equals one timestep of :func:`rnn_kernel` bit for bit.
    """
    nv = panel_vectors(cell)

    def rnn_step(x2, P, bias, s_in3, s_out3, act_rt, rec_rt):
        B, D = x2.shape
        U = s_in3.shape[2]
        x = x2.reshape(-1)
        s_in = s_in3.reshape(-1)
        s_out = s_out3.reshape(-1)
        ac = act if act >= 0 else act_rt
        ra = rec_act if rec_act >= 0 else rec_rt
        L = vlanes(P)
        W = 4 * L if cell == SIMPLE_RNN else L
        NR = nv * L
        nb = -(-U // W)
        K = D + U
        Z = np.empty(MR * NR, P.dtype)
        ZX = np.empty(MR * NR, P.dtype)
        scratch = np.empty(L, P.dtype)
        BU = B * U                                  # c follows h in the states
        for i0 in range(0, B, MR):
            nrows = min(MR, B - i0)
            for p in range(nb):
                pb = p * K * NR
                bb = p * NR
                n = min(W, U - p * W)
                tile(nv, s_in, i0 * U, U, P, pb + D * NR, NR, U, Z, nrows)
                tile(nv, x, i0 * D, D, P, pb, NR, D, ZX, nrows)
                for ri in range(nrows):
                    hb = (i0 + ri) * U + p * W
                    zb = ri * NR
                    if cell == LSTM:
                        h, c, _, _, _, _ = _lstm_cell(ZX, zb, Z, zb, bias, bb,
                                                      vload_n(s_in, BU + hb, n), L, ac, ra,
                                                      f32, scratch)
                        vstore_n(s_out, BU + hb, c, n)
                        vstore_n(s_out, hb, h, n)
                    elif cell == GRU:
                        h, _, _, _ = _gru_cell(ZX, zb, Z, zb, bias, bb, nb * NR + bb,
                                               vload_n(s_in, hb, n), L, ac, ra, f32, scratch)
                        vstore_n(s_out, hb, h, n)
                    else:
                        for v in range(4):
                            nn = min(L, n - v * L)
                            if nn <= 0:
                                break
                            h, _ = _simple_cell(ZX, zb + v * L, Z, zb + v * L, bias,
                                                bb + v * L, ac, f32, scratch)
                            vstore_n(s_out, hb + v * L, h, nn)

    return njit(**JIT_OPTIONS)(rnn_step)


#: ``sync`` slots of the two-thread kernel, one cache line (8 int64) apart
PUBLISHED, DONE, STARTED, FINISHED = 0, 8, 16, 24
#: spins (~1 ns each) the leader waits for a follower already working on the same step
WAIT_SPINS = 4000


@lru_cache(maxsize=None)
def duo_kernel(cell, f32, act, rec_act):
    """A few rows on two threads: the leader and a follower split the weight panels.

    For small batches the step is bound by reading the recurrent weights; two threads each
    read half. The *leader* (``role`` 0, the calling thread) owns the result: per step it
    computes panels ``0 .. split``, then takes the follower's panels from ``F`` if the
    follower finished that very step (``DONE``), waiting at most ``WAIT_SPINS`` and only if
    the follower has started it, else computes them itself; then it publishes the step.
    The *follower* (``role`` 1) computes panels ``split .. nb`` of step ``s`` once step
    ``s - 1`` is published, into its own ``F`` slot, and reports it only if the leader has
    not moved on meanwhile. So the leader never waits for a thread the OS has descheduled
    (it runs at one thread's speed), and the result is the same bits whichever thread
    computed a panel. Only the leader writes the shared states ``H``/``CS`` and the outputs.
    LSTM, GRU (``reset_after``) and SimpleRNN; all rows in one tile (``B <= MR``).
    ``sync`` starts as -2 in ``PUBLISHED``, -1 in ``DONE`` and ``STARTED``, 0 in ``FINISHED``.
    """
    nv = panel_vectors(cell)

    def rnn_duo(role, x, P, bias, h0, c0, mask, out, h_fin, c_fin, B, T, D, U, CH,
                go_backwards, zero_output_for_mask, return_sequences, act_rt, rec_rt,
                H, CS, F, sync, split):
        ac = act if act >= 0 else act_rt
        ra = rec_act if rec_act >= 0 else rec_rt
        L = vlanes(P)
        W = 4 * L if cell == SIMPLE_RNN else L
        NR = nv * L
        nb = -(-U // W)
        Up = nb * W
        K = D + U
        nf = nb - split                                  # the follower's panels
        p_first = 0 if role == 0 else split
        p_count = split if role == 0 else nf
        XW = np.empty(B * CH * p_count * NR, P.dtype)    # own panels' projection
        Z = np.empty(MR * NR, P.dtype)
        ZX = np.empty(MR * NR, P.dtype)
        scratch = np.empty(L, P.dtype)
        rec_bias = nb * NR if cell == GRU else 0
        zero = vsplat(P, 0.0)
        has_mask = mask.size > 0
        if role == 1:                                    # ---- the follower
            s = 0
            chunk = -CH
            while True:
                if atomic_load(sync, FINISHED) != 0:
                    return
                pub = atomic_load(sync, PUBLISHED)
                if pub < s - 1:
                    continue
                if pub > s - 1:                          # the leader went ahead alone
                    s = pub + 1
                if s >= T:
                    return
                atomic_store(sync, STARTED, s)
                if s >= chunk + CH:
                    chunk = s
                    project_chunk(nv, x, P, XW, 0, B, s, min(CH, T - s), CH, T, D, K,
                                  split, nf, go_backwards)
                cur = s % 2
                for j in range(nf):
                    p = split + j
                    pb = p * K * NR
                    tile(nv, H, cur * B * U, U, P, pb + D * NR, NR, U, Z, B)
                    for i in range(B):
                        fb = ((cur * B + i) * nf + j) * 2 * W
                        hb = cur * B * U + i * U + p * W
                        xb = ((i * CH + s - chunk) * nf + j) * NR
                        zb = i * NR
                        n = min(W, U - p * W)
                        if cell == LSTM:
                            h, c, _, _, _, _ = _lstm_cell(
                                XW, xb, Z, zb, bias, p * NR,
                                vload(CS, cur * B * Up + i * Up + p * W), L, ac, ra, f32, scratch)
                            vstore(F, fb, h)
                            vstore(F, fb + W, c)
                        elif cell == GRU:
                            h, _, _, _ = _gru_cell(XW, xb, Z, zb, bias, p * NR,
                                                   rec_bias + p * NR, vload_n(H, hb, n), L, ac,
                                                   ra, f32, scratch)
                            vstore(F, fb, h)
                        else:
                            for v in range(4):
                                h, _ = _simple_cell(XW, xb + v * L, Z, zb + v * L, bias,
                                                    p * NR + v * L, ac, f32, scratch)
                                vstore(F, fb + v * L, h)
                if atomic_load(sync, PUBLISHED) == s - 1:
                    atomic_store(sync, DONE, s)
                s += 1
        # ---- the leader
        prev = np.zeros(B * Up, P.dtype)
        for i in range(B):
            for u in range(U):
                H[i * U + u] = h0[i * U + u]
                if cell == LSTM:
                    CS[i * Up + u] = c0[i * U + u]
        atomic_store(sync, PUBLISHED, -1)                # the initial states are ready
        for s in range(T):
            t = T - 1 - s if go_backwards else s
            cur = s % 2
            nxt = 1 - cur
            if s % CH == 0:
                project_chunk(nv, x, P, XW, 0, B, s, min(CH, T - s), CH, T, D, K, 0, split,
                              go_backwards)
            taken = False
            for p in range(nb):
                mine = p < split
                if not mine and p == split:              # the follower's share of step s
                    if atomic_load(sync, STARTED) == s:
                        spins = 0
                        while atomic_load(sync, DONE) < s and spins < WAIT_SPINS:
                            spins += 1
                    taken = atomic_load(sync, DONE) == s
                if mine or not taken:
                    pb = p * K * NR
                    tile(nv, H, cur * B * U, U, P, pb + D * NR, NR, U, Z, B)
                    if not mine:                         # no projection for these panels
                        tile(nv, x, t * D, T * D, P, pb, NR, D, ZX, B)
                n = min(W, U - p * W)
                for i in range(B):
                    hc = cur * B * U + i * U + p * W
                    hn = nxt * B * U + i * U + p * W
                    cc = cur * B * Up + i * Up + p * W
                    cn = nxt * B * Up + i * Up + p * W
                    pv = i * Up + p * W
                    if has_mask and not mask[i * T + t]:          # carry the states
                        for v in range(W // L):
                            nn = min(L, n - v * L)
                            if nn <= 0:
                                break
                            vstore_n(H, hn + v * L, vload_n(H, hc + v * L, nn), nn)
                            if zero_output_for_mask:
                                vstore(prev, pv + v * L, zero)
                        if cell == LSTM:
                            vstore(CS, cn, vload(CS, cc))
                    elif not mine and taken:                      # the follower's result
                        fb = ((cur * B + i) * nf + p - split) * 2 * W
                        for v in range(W // L):
                            nn = min(L, n - v * L)
                            if nn <= 0:
                                break
                            h = vload(F, fb + v * L)
                            vstore_n(H, hn + v * L, h, nn)
                            vstore(prev, pv + v * L, h)
                        if cell == LSTM:
                            vstore(CS, cn, vload(F, fb + W))
                    else:
                        if mine:
                            xsrc = XW
                            xb = ((i * CH + s % CH) * split + p) * NR
                        else:
                            xsrc = ZX
                            xb = i * NR
                        zb = i * NR
                        if cell == LSTM:
                            h, c, _, _, _, _ = _lstm_cell(xsrc, xb, Z, zb, bias, p * NR,
                                                          vload(CS, cc), L, ac, ra, f32,
                                                          scratch)
                            vstore(CS, cn, c)
                            vstore_n(H, hn, h, n)
                            vstore(prev, pv, h)
                        elif cell == GRU:
                            h, _, _, _ = _gru_cell(xsrc, xb, Z, zb, bias, p * NR,
                                                   rec_bias + p * NR, vload_n(H, hc, n), L, ac,
                                                   ra, f32, scratch)
                            vstore_n(H, hn, h, n)
                            vstore(prev, pv, h)
                        else:
                            for v in range(4):
                                nn = min(L, n - v * L)
                                if nn <= 0:
                                    break
                                h, _ = _simple_cell(xsrc, xb + v * L, Z, zb + v * L, bias,
                                                    p * NR + v * L, ac, f32, scratch)
                                vstore_n(H, hn + v * L, h, nn)
                                vstore(prev, pv + v * L, h)
            atomic_store(sync, PUBLISHED, s)
            if return_sequences:
                for i in range(B):
                    ob = (i * T + s) * U
                    for q in range(0, U, L):
                        vstore_n(out, ob + q, vload(prev, i * Up + q), min(L, U - q))
        atomic_store(sync, FINISHED, 1)
        fin = T % 2
        for i in range(B):
            for u in range(U):
                h_fin[i * U + u] = H[fin * B * U + i * U + u]
                if cell == LSTM:
                    c_fin[i * U + u] = CS[fin * B * Up + i * Up + u]
                if not return_sequences:
                    out[i * U + u] = prev[i * Up + u]

    return njit(**JIT_OPTIONS)(rnn_duo)
