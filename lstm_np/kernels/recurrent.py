"""The recurrent driver: one time loop, one place for masks, direction and state carrying.

Every cell family (LSTM, GRU with ``reset_after`` True or False, SimpleRNN) is a pure step
function ``states -> new_states`` selected by an integer ``cell`` code, so one jitted driver
serves them all. Keras semantics mirrored here (Keras 3 ``backend/tensorflow/rnn.py``
``rnn()``; Keras 2 ``backend.rnn`` is identical):

* the input projection ``x @ kernel`` is computed once for all timesteps (one GEMM);
  the GRU and SimpleRNN add their input bias to it there, as their cells do
  (``matrix_x = x W + b_in``), while the LSTM adds its bias inside the step;
* per step the pre-activations follow each Keras cell's addition order exactly:
  LSTM ``(x_t W + h U) + b`` (``LSTMCell.call``, ``implementation=2``); GRU
  ``(x_t W + b_in) + (h U + b_rec)`` and ``hh = act(x_h + r * (h U_h + b_rec_h))`` with
  ``reset_after``, ``hh = act(x_h + (r * h) U_h)`` without, then
  ``h = z * h_tm1 + (1 - z) * hh`` (``GRUCell.call``, ``implementation=2``); SimpleRNN
  ``act((x_t W + b) + h U)`` (``SimpleRNNCell.call``);
* ``go_backwards`` walks ``t = T-1 .. 0`` and leaves the outputs in processing order;
* at a masked step the states are carried (``where(mask, new, old)``) and the output is
  the previously *emitted* output, starting from zeros, or zeros with
  ``zero_output_for_mask``; the last output is the output of the last processed step.

Shapes: ``B`` batch, ``T`` timesteps, ``D`` input features, ``U`` units, ``G`` gate width
(``4U`` LSTM, ``3U`` GRU, ``U`` SimpleRNN), ``S`` number of states (2 for the LSTM: ``h, c``;
1 for the GRU and SimpleRNN: ``h``).

Bias: always a 1-D array, of length 0 (``use_bias=False``), ``G``, or ``2G`` for the GRU with
``reset_after`` (Keras's ``(2, 3U)`` bias flattened: input bias, then recurrent bias).

What ``zs`` (the ``keep=True`` cache, ``(B, T, G)``) holds per cell, in gate order -- always
the arguments the activations were applied to:

* LSTM: ``z = (x W + h U) + b`` for i, f, c, o;
* GRU: ``z_pre, r_pre, hh_pre`` with ``hh_pre = x_h + r * (h U_h + b_rec_h)``
  (``reset_after``) or ``x_h + (r * h) U_h``; a backward pass recomputes the recurrent part
  ``h_tm1 U_h (+ b_rec_h)`` from ``history`` where it needs it;
* SimpleRNN: ``(x W + b) + h U``.
"""
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._jit import JIT_ENABLED, jit
from ..activations import SIGMOID, TANH, _act, _activate, _sigmoid_f32, _tanh1, _tanh_f32
from .linalg import dot

__all__ = ["LSTM_CELL", "GRU_CELL", "GRU_RESET_BEFORE_CELL", "SIMPLE_RNN_CELL", "N_STATES",
           "GATES", "BIAS_BLOCKS", "rnn_forward", "rnn_step", "prepare_step_weights"]

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


#: Recurrent products up to this many multiply-adds (B * U * G) run in a hand loop: a
#: multithreaded BLAS call per timestep costs more in thread hand-offs than it saves.
SMALL_MATMUL = 1 << 20


def _matmul_into_arrays(h, recurrent_kernel, acc, limit):
    np.dot(h, recurrent_kernel, out=acc)


@jit(fallback=_matmul_into_arrays, contract=True)
def _matmul_into(h, recurrent_kernel, acc, limit):
    """``acc = h @ recurrent_kernel`` (B, G); products of up to ``limit`` multiply-adds
    (``SMALL_MATMUL``, or more in a batch-split worker) run in this loop, larger ones in BLAS.

    Eight rows of the kernel at a time, reused across the batch rows: each ``acc`` row is
    loaded and stored once per eight multiply-adds (not once per one), and the contiguous
    inner loop over ``G`` vectorises.
    """
    B, U = h.shape
    G = recurrent_kernel.shape[1]
    if B * U * G > limit:
        acc[:, :] = dot(h, recurrent_kernel)
        return
    acc[:, :] = 0
    W = recurrent_kernel
    k = 0
    while k + 8 <= U:
        w0, w1, w2, w3 = W[k], W[k + 1], W[k + 2], W[k + 3]
        w4, w5, w6, w7 = W[k + 4], W[k + 5], W[k + 6], W[k + 7]
        for b in range(B):
            h0, h1, h2, h3 = h[b, k], h[b, k + 1], h[b, k + 2], h[b, k + 3]
            h4, h5, h6, h7 = h[b, k + 4], h[b, k + 5], h[b, k + 6], h[b, k + 7]
            row = acc[b]
            for j in range(G):
                row[j] += ((h0 * w0[j] + h1 * w1[j]) + (h2 * w2[j] + h3 * w3[j])
                           + ((h4 * w4[j] + h5 * w5[j]) + (h6 * w6[j] + h7 * w7[j])))
        k += 8
    while k < U:
        w = W[k]
        for b in range(B):
            hk = h[b, k]
            row = acc[b]
            for j in range(G):
                row[j] += hk * w[j]
        k += 1


def _lstm_gates_arrays(xw_t, acc, bias, states, act, rec_act, z_out, new):
    U = states.shape[2]
    z = xw_t + acc                                   # (B, 4U)
    if bias.shape[0] > 0:
        z = z + bias
    z_out[:, :] = z
    i = _activate(z[:, :U], rec_act)
    f = _activate(z[:, U:2 * U], rec_act)
    g = _activate(z[:, 2 * U:3 * U], act)
    o = _activate(z[:, 3 * U:], rec_act)
    new[1] = f * states[1] + i * g
    new[0] = o * _activate(new[1], act)


@jit(fallback=_lstm_gates_arrays)
def _lstm_gates(xw_t, acc, bias, states, act, rec_act, z_out, new):
    """LSTM gate arithmetic for one step, fused into one pass per row (numba form).

    ``z = (x_t W + h U) + b``; gates i, f, c, o; ``c = f * c_tm1 + i * act(z_c)``;
    ``h = o * act(c)`` (``LSTMCell.call`` / ``_compute_carry_and_output_fused``).
    tanh/sigmoid take an inlined fast path (float32: the vectorised rational forms of
    :func:`lstm_np.activations._tanh_f32`); other activations go through :func:`_act`.
    """
    B, G = acc.shape
    U = G // 4
    has_bias = bias.shape[0] > 0
    fast = act == TANH and rec_act == SIGMOID
    for b in range(B):
        for j in range(G):
            v = xw_t[b, j] + acc[b, j]
            if has_bias:
                v += bias[j]
            z_out[b, j] = v
        if fast and z_out.itemsize == 4:
            # float32: Eigen's rational tanh (as TF's CPU kernels), on 1-D row views so the
            # loop has no index arithmetic and LLVM vectorises it (8 lanes with AVX2)
            zi = z_out[b, :U]
            zf = z_out[b, U:2 * U]
            zg = z_out[b, 2 * U:3 * U]
            zo = z_out[b, 3 * U:]
            c_old = states[1, b]
            c_new = new[1, b]
            h_new = new[0, b]
            for j in range(U):
                c = _sigmoid_f32(zf[j]) * c_old[j] + _sigmoid_f32(zi[j]) * _tanh_f32(zg[j])
                c_new[j] = c
                h_new[j] = _sigmoid_f32(zo[j]) * _tanh_f32(c)
            continue
        if not fast:
            for j in range(U):
                i = _act(z_out[b, j], rec_act)
                f = _act(z_out[b, U + j], rec_act)
                g = _act(z_out[b, 2 * U + j], act)
                o = _act(z_out[b, 3 * U + j], rec_act)
                new[1, b, j] = f * states[1, b, j] + i * g
                new[0, b, j] = o * _act(new[1, b, j], act)   # c rounded to the dtype first
            continue
        for j in range(U):   # tanh / sigmoid written out: the loop body stays inlined
            v = float(z_out[b, j])
            e = math.exp(-abs(v))
            r = 1.0 / (1.0 + e)
            i = r if v >= 0.0 else e * r
            v = float(z_out[b, U + j])
            e = math.exp(-abs(v))
            r = 1.0 / (1.0 + e)
            f = r if v >= 0.0 else e * r
            v = float(z_out[b, 3 * U + j])
            e = math.exp(-abs(v))
            r = 1.0 / (1.0 + e)
            o = r if v >= 0.0 else e * r
            g = _tanh1(float(z_out[b, 2 * U + j]))
            new[1, b, j] = f * states[1, b, j] + i * g
            new[0, b, j] = o * _tanh1(float(new[1, b, j]))


@jit
def _lstm_step(xw_t, states, recurrent_kernel, bias, act, rec_act, z_out, acc, new, limit):
    """One LSTM step on pre-projected input ``xw_t = x_t @ kernel`` (B, 4U).

    Writes the new states into ``new`` (2, B, U) and ``z`` into ``z_out``; ``acc`` (B, 4U)
    is scratch for ``h @ recurrent_kernel`` (``limit`` as :func:`_matmul_into`).
    """
    _matmul_into(states[0], recurrent_kernel, acc, limit)
    _lstm_gates(xw_t, acc, bias, states, act, rec_act, z_out, new)


@jit
def _gru_step(xw_t, states, recurrent_kernel, bias, act, rec_act, reset_after, z_out, acc, new,
              limit):
    """One GRU step on ``xw_t = x_t @ kernel + b_in`` (B, 3U); both Keras conventions.

    Mirrors ``GRUCell.call`` (implementation 2), gates z, r, h:

    * ``reset_after``: ``inner = h U + b_rec``; ``hh = act(x_h + r * inner_h)``;
      ``bias`` is ``[b_in, b_rec]`` flattened (6U,) or (0,);
    * otherwise: ``inner = h U[:, :2U]``; ``hh = act(x_h + (r * h) U[:, 2U:])``; the
      recurrent kernel comes *transposed*, (3U, U) C-contiguous (:func:`_prepare_recurrent`),
      so both column blocks of ``U`` are contiguous (Fortran-ordered) views and ``np.dot``
      never copies them;

    with ``z = ra(x_z + inner_z)``, ``r = ra(x_r + inner_r)`` and
    ``h = z * h_tm1 + (1 - z) * hh``. Writes ``z_pre, r_pre, hh_pre`` into ``z_out``. One
    activation call covers z and r (elementwise, so identical to two calls; each call site
    of ``_activate`` costs compile time).
    """
    T = xw_t.dtype.type
    h = states[0]                                        # (B, U)
    U = h.shape[1]
    if reset_after:
        _matmul_into(h, recurrent_kernel, acc, limit)    # (B, 3U), no BLAS thread hand-off
        inner = acc
        if bias.shape[0] > 0:
            inner += bias[3 * U:]
    else:
        inner = dot(h, recurrent_kernel[:2 * U].T)       # (B, 2U)
    z_out[:, :2 * U] = xw_t[:, :2 * U] + inner[:, :2 * U]
    zr = _activate(z_out[:, :2 * U], rec_act)            # (B, 2U)
    z = zr[:, :U]
    r = zr[:, U:]
    if reset_after:
        hh_pre = xw_t[:, 2 * U:] + r * inner[:, 2 * U:]  # (B, U)
    else:
        hh_pre = xw_t[:, 2 * U:] + dot(r * h, recurrent_kernel[2 * U:].T)
    z_out[:, 2 * U:] = hh_pre
    hh = _activate(hh_pre, act)
    new[0] = z * h + (T(1) - z) * hh


@jit
def _simple_rnn_step(xw_t, states, recurrent_kernel, act, z_out, acc, new, limit):
    """One SimpleRNN step on ``xw_t = x_t @ kernel + b`` (B, U): ``h = act(xw_t + h U)``.

    Mirrors ``SimpleRNNCell.call``. Writes the pre-activation into ``z_out``.
    """
    _matmul_into(states[0], recurrent_kernel, acc, limit)
    z_out[:, :] = xw_t + acc                         # (B, U)
    new[0] = _activate(z_out, act)


@jit
def _prepare_recurrent(cell, recurrent_kernel):
    """The recurrent kernel in the layout the step of ``cell`` takes (see the steps)."""
    if cell == GRU_RESET_BEFORE_CELL:
        return np.ascontiguousarray(recurrent_kernel.T)   # (3U, U)
    return recurrent_kernel


@jit
def _add_input_bias(cell, xw, bias):
    """Add the input bias to the projection ``xw`` (..., G) in place, except for the LSTM.

    GRU and SimpleRNN cells compute ``x W + b_in`` before adding the recurrent term.
    """
    G = xw.shape[-1]
    if cell != LSTM_CELL and bias.shape[0] > 0:
        xw += bias[:G]


@jit
def _cell_step(cell, xw_t, states, recurrent_kernel, bias, act, rec_act, z_out, acc, new,
               limit):
    """One step of cell family ``cell``: writes the new states (S, B, U) into ``new``.

    ``xw_t`` already holds the input bias for non-LSTM cells (:func:`_add_input_bias`),
    ``recurrent_kernel`` is in the layout of :func:`_prepare_recurrent`; ``z_out`` receives
    the activation arguments and ``acc`` (B, G) is scratch; ``limit`` as :func:`_matmul_into`.
    Nothing is allocated for the LSTM and SimpleRNN.
    """
    if cell == LSTM_CELL:
        _lstm_step(xw_t, states, recurrent_kernel, bias, act, rec_act, z_out, acc, new, limit)
    elif cell == GRU_CELL or cell == GRU_RESET_BEFORE_CELL:
        _gru_step(xw_t, states, recurrent_kernel, bias, act, rec_act, cell == GRU_CELL,
                  z_out, acc, new, limit)
    elif cell == SIMPLE_RNN_CELL:
        _simple_rnn_step(xw_t, states, recurrent_kernel, act, z_out, acc, new, limit)
    else:
        raise ValueError("unknown cell code")


@jit
def _project(cell, x, kernel, bias, limit):
    """The input projection for all timesteps, one GEMM: ``x @ kernel`` (B, T, G), plus the
    input bias for non-LSTM cells (:func:`_add_input_bias`)."""
    B, T, D = x.shape
    G = kernel.shape[1]
    xw = np.empty((B, T, G), dtype=x.dtype)
    _matmul_into(x.reshape(B * T, D), kernel, xw.reshape(B * T, G), limit)
    _add_input_bias(cell, xw, bias)
    return xw


@jit
def _rnn_loop(cell, xw, rk, bias, states0, mask, act, rec_act, go_backwards,
              zero_output_for_mask, return_sequences, keep, limit):
    """The time loop over the projected input ``xw`` (B, T, G), ``rk`` as
    :func:`_prepare_recurrent` returns it. Returns ``(outputs, final_states, zs, history)``.

    outputs (B, T or 1, U) in processing order; final_states (S, B, U); when ``keep``,
    zs (B, T, G) holds the pre-activations (per cell: see the module docstring) and
    history (S, B, T, U) the states entering each step (processing order), which the
    backward pass needs; otherwise both are empty.
    """
    B, T, G = xw.shape
    S, _, U = states0.shape
    states = states0.copy()                                    # (S, B, U)
    has_mask = mask.shape[0] > 0
    n_out = T if return_sequences else 1
    outputs = np.zeros((B, n_out, U), dtype=xw.dtype)           # (B, T|1, U)
    prev = np.zeros((B, U), dtype=xw.dtype)                     # last emitted output
    if keep:
        zs = np.empty((B, T, G), dtype=xw.dtype)
        history = np.empty((S, B, T, U), dtype=xw.dtype)
    else:
        zs = np.empty((0, 0, 0), dtype=xw.dtype)
        history = np.empty((0, 0, 0, 0), dtype=xw.dtype)
    z = np.empty((B, G), dtype=xw.dtype)                        # step scratch, reused
    acc = np.empty((B, G), dtype=xw.dtype)
    new = np.empty_like(states)
    for s in range(T):
        t = T - 1 - s if go_backwards else s
        if keep:
            history[:, :, s, :] = states
        _cell_step(cell, xw[:, t, :], states, rk, bias, act, rec_act, z, acc, new, limit)
        if keep:
            zs[:, s, :] = z
        if has_mask:
            for b in range(B):
                if mask[b, t]:
                    prev[b, :] = new[0, b, :]
                else:                                          # carry the states
                    new[:, b, :] = states[:, b, :]
                    if zero_output_for_mask:
                        prev[b, :] = 0
        else:
            prev[:, :] = new[0]
        states, new = new, states
        outputs[:, s if return_sequences else 0, :] = prev
    return outputs, states, zs, history


#: Batch splitting across threads (``rnn_forward``): blocks of at least this many rows, each
#: with a recurrent product of at most ``WORKER_MATMUL`` multiply-adds (the size where the
#: hand loop keeps up with single-threaded BLAS; benchmarks/README.md), at least two blocks.
MIN_ROWS_PER_WORKER = 8
WORKER_MATMUL = 1 << 23
_POOL = None
_POOL_LOCK = threading.Lock()


def n_threads():
    """Worker threads for batch splitting: ``LSTM_NP_NUM_THREADS`` if set, else the CPUs
    this process may run on."""
    env = os.environ.get("LSTM_NP_NUM_THREADS", "").strip()
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        return os.cpu_count() or 1


def batch_split(batch, product_per_row):
    """Row slices for the workers: ``[slice(0, batch)]`` when splitting does not pay.

    ``product_per_row`` is the recurrent product's multiply-adds per row (``U * G``).
    """
    threads = n_threads()
    if not JIT_ENABLED or threads < 2:   # the pure-NumPy path holds the GIL
        return [slice(0, batch)]
    rows = min(batch // 2, WORKER_MATMUL // max(1, product_per_row))
    rows = max(rows, -(-batch // (4 * threads)))   # no more than 4 blocks per thread
    if rows < MIN_ROWS_PER_WORKER:
        return [slice(0, batch)]
    n = -(-batch // rows)
    bounds = [batch * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max(1, n_threads()), thread_name_prefix="lstm_np")
        return _POOL


def _kernel_bias(cell, kernel, bias):
    """Keras's bias as the kernels take it: 1-D, ``(2, 3U)`` flattened; length checked."""
    bias = np.ascontiguousarray(bias).reshape(-1)
    G = kernel.shape[1]
    if bias.shape[0] not in (0, BIAS_BLOCKS[cell] * G):
        raise ValueError(f"bias of {bias.shape[0]} numbers does not fit cell {cell} with gate "
                         f"width {G} (expected 0 or {BIAS_BLOCKS[cell] * G})")
    return bias


def rnn_forward(cell, x, kernel, recurrent_kernel, bias, states0, mask, act, rec_act,
                go_backwards=False, zero_output_for_mask=False, return_sequences=True,
                keep=False):
    """Run a recurrent layer over a sequence (arrays already validated by the layer).

    Parameters
    ----------
    cell : int
        Cell family code: ``LSTM_CELL``, ``GRU_CELL`` (``reset_after=True``),
        ``GRU_RESET_BEFORE_CELL`` (``reset_after=False``) or ``SIMPLE_RNN_CELL``.
    x : ndarray (B, T, D), C-contiguous, float32 or float64
    kernel : ndarray (D, G); recurrent_kernel : ndarray (U, G)
        Keras layout, gate blocks in Keras order (LSTM i, f, c, o; GRU z, r, h).
    bias : ndarray (G,), (2, G) for ``GRU_CELL`` (Keras's ``[input, recurrent]`` rows), or
        an empty array for ``use_bias=False``.
    states0 : ndarray (S, B, U)
        Initial states, ``[h, c]`` for the LSTM, ``[h]`` for the GRU and SimpleRNN.
    mask : ndarray (B, T) of bool, or an empty (0, 0) array for no mask.
    act, rec_act : int
        Activation codes from :func:`lstm_np.activations.resolve` (SimpleRNN ignores
        ``rec_act``).

    Returns
    -------
    outputs : ndarray (B, T, U) if ``return_sequences`` else (B, U)
    final_states : ndarray (S, B, U)
    cache : tuple ``(zs, history)`` or ``None``
        Saved intermediates for the backward pass when ``keep`` (B·T·(G + S·U) numbers):
        ``zs`` (B, T, G) the activation arguments (per cell: see the module docstring),
        ``history`` (S, B, T, U) the states entering each step, both in processing order.
    """
    bias = _kernel_bias(cell, kernel, bias)
    recurrent_kernel = np.ascontiguousarray(recurrent_kernel)
    flags = (bool(go_backwards), bool(zero_output_for_mask), bool(return_sequences), bool(keep))
    B, T = x.shape[:2]
    U, G = recurrent_kernel.shape
    xw = _project(cell, x, kernel, bias, SMALL_MATMUL)      # (B, T, G), one GEMM
    rk = _prepare_recurrent(cell, recurrent_kernel)
    parts = batch_split(B, U * G)
    if len(parts) == 1:
        outputs, states, zs, history = _rnn_loop(cell, xw, rk, bias, states0, mask, act,
                                                 rec_act, *flags, SMALL_MATMUL)
    else:
        # Rows of a batch never interact: each worker runs the whole time loop for a block
        # of rows (numba releases the GIL), its recurrent product in the hand loop, not in
        # BLAS, whose own threads would fight the workers.
        has_mask = mask.shape[0] > 0
        results = _pool().map(lambda rows: _rnn_loop(
            cell, xw[rows], rk, bias, np.ascontiguousarray(states0[:, rows]),
            mask[rows] if has_mask else mask, act, rec_act, *flags, WORKER_MATMUL), parts)
        outputs, states, zs, history = (np.concatenate(r, axis=a) for r, a in
                                        zip(zip(*results), (0, 1, 0, 1)))
    if not return_sequences:
        outputs = outputs[:, 0, :]
    return outputs, states, ((zs, history) if keep else None)


@jit
def _rnn_step_into(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act, new):
    """One timestep into ``new`` (S, B, U); ``recurrent_kernel`` as :func:`_prepare_recurrent`
    returns it. Writing into a caller's array spares boxing a returned one (~1 us)."""
    B = x_t.shape[0]
    G = kernel.shape[1]
    xw = np.empty((B, G), dtype=x_t.dtype)
    _matmul_into(x_t, kernel, xw, SMALL_MATMUL)              # (B, G)
    _add_input_bias(cell, xw, bias)
    z = np.empty_like(xw)
    acc = np.empty_like(xw)
    # xw[:, :] has the driver's xw[:, t, :] layout, so both share one _cell_step compile.
    _cell_step(cell, xw[:, :], states, recurrent_kernel, bias, act, rec_act, z, acc, new,
               SMALL_MATMUL)


def prepare_step_weights(cell, kernel, recurrent_kernel, bias):
    """``(recurrent_kernel, bias)`` as :func:`rnn_step` takes them with ``prepared=True``:
    the recurrent kernel in the step's layout, the bias 1-D and checked."""
    return (_prepare_recurrent(cell, np.ascontiguousarray(recurrent_kernel)),
            _kernel_bias(cell, kernel, bias))


def rnn_step(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act, prepared=False):
    """One timestep for streaming: ``x_t`` (B, D), ``states`` (S, B, U) -> new states.

    The output of the step is ``new_states[0]`` (``h``). ``bias`` as in :func:`rnn_forward`;
    with ``prepared=True`` the recurrent kernel and bias come from
    :func:`prepare_step_weights` (a layer does that once, not per step).
    """
    if not prepared:
        recurrent_kernel, bias = prepare_step_weights(cell, kernel, recurrent_kernel, bias)
    new = np.empty_like(states)
    _rnn_step_into(cell, x_t, kernel, recurrent_kernel, bias, states, act, rec_act, new)
    return new
