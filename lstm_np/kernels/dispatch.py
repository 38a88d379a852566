"""Which implementation computes a layer -- numba kernels or NumPy -- and on how many threads.

Layers hold a compute object (:class:`RNNCompute`, :class:`DenseCompute`) built from their
Keras weights. Its ``forward`` asks :mod:`lstm_np._jit` whether the kernel for this dtype
and these activations is ready: if so it runs the JIT kernels (weights packed once,
rows split across worker threads), else the NumPy path, whose time it reports so that the
``auto`` mode knows when compiling pays.

Threads: one pool of ``LSTM_NP_NUM_THREADS`` workers (default: the CPUs this process may
use), the only owner of threads in a call -- the kernels never call a multithreaded BLAS,
so BLAS thread variables do not matter to them. A batch is split into row blocks, each
running the whole sequence on one thread (no per-step synchronisation: a busy core slows
only its own block), the first on the calling thread.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _jit
from ..activations import LINEAR, SIGMOID, TANH, _activate_arrays
from .numpy_rnn import rnn_forward_numpy
from .packing import pack_bias, pack_columns, pack_gates

__all__ = ["RNNCompute", "DenseCompute", "n_threads", "run_blocks", "row_blocks"]

LSTM, GRU, GRU_BEFORE, SIMPLE_RNN = 0, 1, 2, 3
GATES = {LSTM: 4, GRU: 3, GRU_BEFORE: 3, SIMPLE_RNN: 1}
NAMES = {LSTM: "LSTM", GRU: "GRU", GRU_BEFORE: "GRU(reset_after=False)", SIMPLE_RNN: "SimpleRNN"}
#: activations with a Dense kernel of their own (float32); others share one kernel
SPECIALISED = (LINEAR, TANH, SIGMOID)
FUSED, SPLIT, GATHER = 0, 1, 2
#: row blocks smaller than this project their input a chunk of timesteps at a time (the
#: per-step product then reads only the recurrent weights); larger ones fuse it in
SPLIT_BELOW = 24
#: multiply-adds per call below which a call stays on the calling thread
PARALLEL_WORK = 1 << 22
#: the two-thread panel split (``duo_kernel``) for batches of at most ``MR`` rows, sequences
#: of at least DUO_STEPS and at least DUO_PANELS weight panels
DUO_STEPS = 16
DUO_PANELS = 4

_POOL = None
_POOL_LOCK = threading.Lock()


def n_threads():
    """Worker threads: ``LSTM_NP_NUM_THREADS`` if set, else the CPUs this process may use."""
    env = os.environ.get("LSTM_NP_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        return os.cpu_count() or 1


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max(1, n_threads() - 1) or 1,
                                       thread_name_prefix="lstm_np")
        return _POOL


def run_blocks(fn, blocks):
    """``fn(*b)`` for every block: the first on the calling thread, the rest on the pool."""
    if len(blocks) == 1:
        fn(*blocks[0])
        return
    futures = [_pool().submit(fn, *b) for b in blocks[1:]]
    try:
        fn(*blocks[0])
    finally:
        for f in futures:
            f.result()


def row_blocks(rows, work, quantum=6):
    """``[(r0, r1), ...]``: ``rows`` split for the workers when ``work`` (multiply-adds)
    pays for it; block sizes are multiples of ``quantum`` (the tile height) where possible."""
    threads = n_threads()
    if threads < 2 or rows < 2 or work < PARALLEL_WORK:
        return [(0, rows)]
    n = min(threads, rows)
    tiles = -(-rows // quantum)
    if tiles >= n:
        bounds = [min(rows, quantum * (tiles * i // n)) for i in range(n + 1)]
    else:
        bounds = [rows * i // n for i in range(n + 1)]
    bounds[-1] = rows
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _empty(dtype):
    return np.zeros(0, dtype)


_RNN_KERNELS = {}
_DENSE_KERNELS = {}


def _rnn_unit(cell, f32, act, rec_act):
    key = (cell, f32, act, rec_act)
    if key not in _RNN_KERNELS:
        def build():
            from .rnn import rnn_kernel
            return rnn_kernel(*key)
        what = f"{NAMES[cell]} {'float32' if f32 else 'float64'}"
        _RNN_KERNELS[key] = _jit.Kernel(build, what)
    return _RNN_KERNELS[key]


def _step_unit(cell, f32, act, rec_act):
    key = ("step", cell, f32, act, rec_act)
    if key not in _RNN_KERNELS:
        def build():
            from .rnn import step_kernel
            return step_kernel(cell, f32, act, rec_act)
        what = f"{NAMES[cell]} {'float32' if f32 else 'float64'} step"
        _RNN_KERNELS[key] = _jit.Kernel(build, what)
    return _RNN_KERNELS[key]


def _duo_unit(cell, f32, act, rec_act):
    key = ("duo", cell, f32, act, rec_act)
    if key not in _RNN_KERNELS:
        def build():
            from .rnn import duo_kernel
            return duo_kernel(cell, f32, act, rec_act)
        what = f"{NAMES[cell]} {'float32' if f32 else 'float64'} two-thread"
        _RNN_KERNELS[key] = _jit.Kernel(build, what)
    return _RNN_KERNELS[key]


def _rnn_example(dtype):
    f, i, b = _empty(dtype), _empty(np.int32), _empty(np.bool_)
    return (0, f, i, f, f, f, f, b, f, f, f, 0, 0, 0, 0, 0, 0, False, False, False, 0, 0,
            False, f, f)


def _specialised(code, f32):
    return code if f32 and code in SPECIALISED else -1


def _rnn_specialised(cell, act, rec_act, f32):
    """The activation codes a recurrent kernel is compiled for: Keras's defaults
    (``tanh`` / ``sigmoid``; SimpleRNN ``tanh``) in float32 get kernels of their own, every
    other pair shares one kernel per cell that reads the codes at run time (-1), so a model
    zoo or a test suite of many activations compiles a few kernels, not one per pair."""
    if f32 and act == TANH and (cell == SIMPLE_RNN or rec_act == SIGMOID):
        return (TANH, -1 if cell == SIMPLE_RNN else SIGMOID)
    return (-1, -1)


def onehot_ids(x):
    """``ids`` (B, T) int32 if every timestep of ``x`` (B, T, D) is one-hot or all zeros
    (id -1), else None: ``x @ W`` is then exactly row ``ids`` of ``W``."""
    from .rnn import onehot_rows
    B, T, D = x.shape
    ids = np.empty(B * T, np.int32)
    if not onehot_rows(x.reshape(-1), D, ids):
        return None
    return ids


class RNNCompute:
    """A recurrent layer's computation: Keras weights in, outputs and final states out.

    ``cell`` is the family code, ``kernel`` (D, G), ``recurrent_kernel`` (U, G), ``bias``
    1-D (empty, G, or 2G for the GRU with ``reset_after``), activations as codes.
    """

    def __init__(self, cell, kernel, recurrent_kernel, bias, act, rec_act):
        self.cell = cell
        self.kernel, self.recurrent_kernel = kernel, recurrent_kernel
        self.bias = np.ascontiguousarray(bias).reshape(-1)
        self.act, self.rec_act = act, rec_act
        self.dtype = kernel.dtype
        f32 = self.dtype == np.float32
        key = (cell, f32) + _rnn_specialised(cell, act, rec_act, f32)
        self._unit = _rnn_unit(*key)
        self._example = _rnn_example(self.dtype)
        self._step_unit = _step_unit(*key) if cell != GRU_BEFORE else None
        self._duo_unit = _duo_unit(*key) if cell != GRU_BEFORE else None
        self._duo_fn = None
        self._fn = self._step_fn = None     # the compiled kernels, once ready
        self._packed = None
        self._finite = None

    def _pack(self):
        if self._packed is None:
            from .rnn import panel_units
            from .simd import lanes
            L = lanes(self.dtype)
            W = panel_units(self.cell, L)
            g = GATES[self.cell]
            U = self.recurrent_kernel.shape[0]
            P = pack_gates(self.kernel, self.recurrent_kernel, g, W).reshape(-1)
            if self.cell == GRU:
                b = self.bias.reshape(2, -1) if self.bias.size else np.zeros(
                    (2, g * U), self.dtype)
                bp = np.concatenate([pack_bias(b[0], g, U, W).reshape(-1),
                                     pack_bias(b[1], g, U, W).reshape(-1)])
            else:
                bp = pack_bias(self.bias, g, U, W).reshape(-1)
            self._packed = (P, bp, W * g)
        return self._packed

    def units(self):
        """``[(kernel unit, example arguments)]``: every kernel this layer may run."""
        out = [(self._unit, self._example)]
        if self._step_unit is not None:
            out.append((self._step_unit, self._step_example()))
        if self._duo_unit is not None:
            out.append((self._duo_unit, self._duo_example()))
        return out

    def kernel_finite(self):
        if self._finite is None:
            self._finite = bool(np.isfinite(self.kernel).all())
        return self._finite

    def forward(self, x, states0, mask=None, go_backwards=False, zero_output_for_mask=False,
                return_sequences=True, keep=False):
        """``(outputs, final_states (S, B, U))`` for ``x`` (B, T, D) C-contiguous in the
        layer's dtype, ``states0`` (S, B, U), ``mask`` (B, T) bool or None; with ``keep``
        also ``(zs (B, T, G), history (S, B, T, U))`` for the backward pass."""
        fn = self._fn or _jit.get(self._unit, self._example)
        if fn is None:
            t0 = time.perf_counter()
            result = rnn_forward_numpy(self.cell, x, self.kernel, self.recurrent_kernel,
                                       self.bias, states0, mask, self.act, self.rec_act,
                                       go_backwards, zero_output_for_mask, return_sequences,
                                       keep=keep)
            _jit.spent(time.perf_counter() - t0)
            return result
        self._fn = fn
        return self._forward_jit(fn, x, states0, mask, go_backwards, zero_output_for_mask,
                                 return_sequences, keep)

    def _forward_duo(self, x, states0, mask, go_backwards, zero_output_for_mask,
                     return_sequences):
        """Two threads splitting the panels (:func:`lstm_np.kernels.rnn.duo_kernel`) when
        the batch is one tile and the sequence long enough; None when it does not apply."""
        from .gemm import MR
        from .rnn import choose_chunk
        B, T, D = x.shape
        P, bp, NR = self._pack()
        U = self.recurrent_kernel.shape[0]
        W = NR // (3 if self.cell == GRU else 4) if self.cell != SIMPLE_RNN else NR
        nb = -(-U // W)
        if B > MR or T < DUO_STEPS or nb < DUO_PANELS or n_threads() < 2:
            return None
        fn = self._duo_fn or _jit.get(self._duo_unit, self._duo_example())
        if fn is None:
            return None
        self._duo_fn = fn
        dt = self.dtype
        split = nb - nb // 2
        CH = choose_chunk(T, B, nb * NR, dt.itemsize)
        out = np.empty((B, T, U) if return_sequences else (B, U), dt)
        h_fin = np.empty((B, U), dt)
        c_fin = np.empty((B, U), dt) if self.cell == LSTM else _empty(dt)
        H = np.empty(2 * B * U, dt)
        CS = np.zeros(2 * B * nb * W if self.cell == LSTM else 0, dt)
        F = np.empty(2 * B * (nb - split) * 2 * W, dt)
        sync = np.full(32, -1, np.int64)
        sync[0], sync[24] = -2, 0                         # PUBLISHED, FINISHED
        h0 = np.ascontiguousarray(states0[0]).reshape(-1)
        c0 = np.ascontiguousarray(states0[1]).reshape(-1) if self.cell == LSTM else _empty(dt)
        m = _empty(np.bool_) if mask is None or mask.size == 0 else \
            np.ascontiguousarray(mask, np.bool_).reshape(-1)
        args = (x.reshape(-1), P, bp, h0, c0, m, out.reshape(-1), h_fin.reshape(-1),
                c_fin.reshape(-1), B, T, D, U, CH, bool(go_backwards),
                bool(zero_output_for_mask), bool(return_sequences), int(self.act),
                int(self.rec_act), H, CS, F, sync, split)
        follower = _pool().submit(fn, 1, *args)
        try:
            fn(0, *args)
        finally:
            sync[24] = 1
            follower.result()
        states = np.stack([h_fin, c_fin]) if self.cell == LSTM else h_fin[None]
        return out, states

    def _duo_example(self):
        f, b = _empty(self.dtype), _empty(np.bool_)
        i64 = np.zeros(0, np.int64)
        return (0, f, f, f, f, f, b, f, f, f, 0, 0, 0, 0, 0, False, False, False, 0, 0,
                f, f, f, i64, 0)

    def step(self, x_t, states):
        """One timestep: ``x_t`` (B, D) C-contiguous in the dtype, ``states`` (S, B, U)
        C-contiguous -> the new states (a new array); ``new[0]`` is the output."""
        fn = self._step_fn
        if fn is None and self._step_unit is not None:
            fn = _jit.get(self._step_unit, self._step_example())
            self._step_fn = fn
        if fn is None:
            return self.forward(x_t[:, None, :], states, None, False, False, False)[1]
        P, bp, _ = self._packed or self._pack()
        new = np.empty_like(states)
        fn(x_t, P, bp, states, new, self.act, self.rec_act)
        return new

    def _step_example(self):
        f = _empty(self.dtype)
        return (np.zeros((0, 0), self.dtype), f, f, np.zeros((0, 0, 0), self.dtype),
                np.zeros((0, 0, 0), self.dtype), 0, 0)

    def _forward_jit(self, fn, x, states0, mask, go_backwards, zero_output_for_mask,
                     return_sequences, keep=False):
        from .rnn import choose_chunk
        P, bp, NR = self._pack()
        dt = self.dtype
        U = self.recurrent_kernel.shape[0]
        D = self.kernel.shape[0]
        B, T = x.shape[:2]
        ids = onehot_ids(x) if T > 1 and self.kernel_finite() else None
        if ids is not None:         # x @ W is a row of W: gathered, not multiplied
            xf = _empty(dt)
        else:
            xf = x.reshape(-1)
            ids = _empty(np.int32)
        G = self.kernel.shape[1]
        if self._duo_unit is not None and ids.size == 0 and not keep:
            result = self._forward_duo(x, states0, mask, go_backwards, zero_output_for_mask,
                                       return_sequences)
            if result is not None:
                return result
        blocks = row_blocks(B, B * T * G * (D + U))
        rows = max(b - a for a, b in blocks)
        if ids.size:
            mode = GATHER
        elif rows < SPLIT_BELOW and T > 1:
            mode = SPLIT
        else:
            mode = FUSED
        nb = P.size // ((D + U) * NR)
        CH = choose_chunk(T, rows, nb * NR, dt.itemsize) if mode == SPLIT else 1
        out = np.empty((B, T, U) if return_sequences else (B, U), dt)
        h_fin = np.empty((B, U), dt)
        c_fin = np.empty((B, U), dt) if self.cell == LSTM else _empty(dt)
        h0 = np.ascontiguousarray(states0[0]).reshape(-1)
        c0 = np.ascontiguousarray(states0[1]).reshape(-1) if self.cell == LSTM else _empty(dt)
        m = _empty(np.bool_) if mask is None or mask.size == 0 else \
            np.ascontiguousarray(mask, np.bool_).reshape(-1)
        outf, hf, cf = out.reshape(-1), h_fin.reshape(-1), c_fin.reshape(-1)
        S = 2 if self.cell == LSTM else 1
        zs = np.empty((B, T, G), dt) if keep else _empty(dt)
        hist = np.empty((S, B, T, U), dt) if keep else _empty(dt)
        flags = (bool(go_backwards), bool(zero_output_for_mask), bool(return_sequences),
                 int(self.act), int(self.rec_act), bool(keep), zs.reshape(-1),
                 hist.reshape(-1))

        def block(r0, r1):
            fn(mode, xf, ids, P, bp, h0, c0, m, outf, hf, cf, r0, r1, T, D, U, CH, *flags)

        run_blocks(block, blocks)
        states = np.stack([h_fin, c_fin]) if self.cell == LSTM else h_fin[None]
        if keep:
            return out, states, (zs, hist)
        return out, states


def _dense_unit(f32, act):
    key = (f32, act)
    if key not in _DENSE_KERNELS:
        def build():
            from .dense import dense_kernel
            return dense_kernel(*key)
        _DENSE_KERNELS[key] = _jit.Kernel(build, f"Dense {'float32' if f32 else 'float64'}")
    return _DENSE_KERNELS[key]


def _dense_example(dtype):
    f = _empty(dtype)
    return (f, f, f, f, 0, 0, 0, 0, 0)


class DenseCompute:
    """``act(x @ kernel + bias)`` over the last axis; ``activation`` a code or ``"softmax"``."""

    def __init__(self, kernel, bias, activation):
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
        self.dtype = kernel.dtype
        f32 = self.dtype == np.float32
        self.softmax = activation == "softmax"
        code = -2 if self.softmax else int(activation)   # -2: dense.SOFTMAX (numba-free here)
        self.code = code
        self._unit = _dense_unit(f32, code if self.softmax else _specialised(code, f32))
        self._example = _dense_example(self.dtype)
        self._packed = None

    def _pack(self):
        if self._packed is None:
            from .simd import lanes
            NR = 4 * lanes(self.dtype)
            P = pack_columns(self.kernel, NR).reshape(-1)
            bp = np.zeros(P.size // self.kernel.shape[0], self.dtype)
            if self.bias is not None:
                bp[:self.bias.size] = self.bias
            self._packed = (P, bp)
        return self._packed

    def units(self):
        return [(self._unit, self._example)]

    def forward(self, x2):
        """``x2`` (M, K) C-contiguous in the kernel's dtype -> (M, N)."""
        fn = _jit.get(self._unit, self._example)
        if fn is None:
            return None
        P, bp = self._pack()
        M, K = x2.shape
        N = self.kernel.shape[1]
        y = np.empty((M, N), self.dtype)
        xf, yf = x2.reshape(-1), y.reshape(-1)
        code = max(self.code, 0)

        def block(m0, m1):
            fn(xf, P, bp, yf, K, N, m0, m1, code)

        run_blocks(block, row_blocks(M, M * K * N))
        return y
