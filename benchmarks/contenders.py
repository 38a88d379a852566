"""The contenders: each builds a workload from the same seeded Keras weights.

``build(name, workload, ctx)`` returns a :class:`Prepared`: ``fn()`` is what gets timed
(one call, or one streaming step with the state carried between calls) and ``check()``
returns the output compared with the reference. Every contender takes NumPy in and gives
NumPy out, so conversions are part of the timed call for all of them.

A contender whose package is missing raises :class:`Missing`, and the runner skips it.
"""
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from benchmarks.workloads import GRU, LSTM, RNN_SPECS, Dense, Embedding, SimpleRNN

__all__ = ["Missing", "Prepared", "Context", "CONTENDERS", "build", "keras_model",
           "keras_stream_model", "numpy_reference", "dense", "compose_lstm_np"]


class Missing(Exception):
    """The contender's package is not installed (or cannot work here): skip it."""


@dataclass
class Prepared:
    fn: object            # timed callable: fn() -> output
    check: object         # check() -> output compared with the reference
    note: str = ""


@dataclass
class Context:
    """What the contenders of one workload share (Keras model, a scratch directory)."""

    workload: object
    weights: list
    keras_model: object = None          # the Keras model, or None without Keras
    keras_stream_model: object = None   # streaming: inputs [x (B,1,D), h0, c0] -> [y, h, c]
    tmpdir: str = ""
    torch_threads: int = 0              # 0: torch's default


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# ------------------------------------------------------------------------ reference
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_reference(workload, weights, x):
    """Plain float64 NumPy forward of the stack: the reference when Keras is missing."""
    h = x
    for spec, ws in zip(workload.layers, weights):
        if isinstance(spec, Embedding):
            h = ws[0].astype(np.float64)[h]
        elif isinstance(spec, LSTM):
            kernel, recurrent, bias = (w.astype(np.float64) for w in ws)
            u = spec.units
            hs = np.zeros((h.shape[0], u))
            cs = np.zeros((h.shape[0], u))
            seq = []
            for t in range(h.shape[1]):
                z = h[:, t] @ kernel + hs @ recurrent + bias
                i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
                cs = _sigmoid(f) * cs + _sigmoid(i) * np.tanh(g)
                hs = _sigmoid(o) * np.tanh(cs)
                seq.append(hs)
            h = np.stack(seq, axis=1) if spec.return_sequences else hs
        elif isinstance(spec, GRU):
            h = _gru_reference(spec, ws, h)
        elif isinstance(spec, SimpleRNN):
            kernel, recurrent, bias = (w.astype(np.float64) for w in ws)
            hs = np.zeros((h.shape[0], spec.units))
            seq = []
            for t in range(h.shape[1]):
                hs = np.tanh(h[:, t] @ kernel + bias + hs @ recurrent)
                seq.append(hs)
            h = np.stack(seq, axis=1) if spec.return_sequences else hs
        else:
            h = dense(h.astype(np.float64), ws[0].astype(np.float64),
                      ws[1].astype(np.float64), spec.activation)
    return h


def _gru_reference(spec, ws, x):
    """Keras ``GRU(reset_after=True)``: blocks z, r, h; the reset gate multiplies the whole
    recurrent term ``h U_h + b_rec_h``."""
    if not spec.reset_after:  # pragma: no cover
        raise NotImplementedError("GRU reset_after=False")
    kernel, recurrent, bias = (w.astype(np.float64) for w in ws)
    u = spec.units
    b_in, b_rec = bias
    hs = np.zeros((x.shape[0], u))
    seq = []
    for t in range(x.shape[1]):
        xp = x[:, t] @ kernel + b_in                    # (B, 3U)
        hp = hs @ recurrent + b_rec                     # (B, 3U)
        z = _sigmoid(xp[:, :u] + hp[:, :u])
        r = _sigmoid(xp[:, u:2 * u] + hp[:, u:2 * u])
        hh = np.tanh(xp[:, 2 * u:] + r * hp[:, 2 * u:])
        hs = z * hs + (1.0 - z) * hh
        seq.append(hs)
    return np.stack(seq, axis=1) if spec.return_sequences else hs


def dense(x, w, b, activation):
    """Keras ``Dense`` on the last axis, in NumPy: ``act(x @ W + b)``."""
    shape = x.shape
    y = x.reshape(-1, shape[-1]) @ w                 # (N, out): one GEMM
    y += b
    if activation == "softmax":
        y -= y.max(axis=-1, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=-1, keepdims=True)
    elif activation != "linear":  # pragma: no cover
        raise ValueError(activation)
    return y.reshape(shape[:-1] + (w.shape[1],))


# ---------------------------------------------------------------------------- Keras
def keras_model(workload, weights):
    """The Keras 3 functional model of ``workload`` with its seeded weights."""
    _quiet_tf()
    import keras
    w = workload
    if w.input_kind == "ids":
        inp = keras.Input(batch_shape=(w.batch, w.timesteps), dtype="int32", name="x")
    else:
        inp = keras.Input(batch_shape=(w.batch, w.timesteps, w.features), name="x")
    h = inp
    for spec, ws in zip(w.layers, weights):
        if isinstance(spec, Embedding):
            layer = keras.layers.Embedding(spec.vocab, spec.dim)
        elif isinstance(spec, LSTM):
            layer = keras.layers.LSTM(spec.units, return_sequences=spec.return_sequences)
        elif isinstance(spec, GRU):
            layer = keras.layers.GRU(spec.units, return_sequences=spec.return_sequences,
                                     reset_after=spec.reset_after)
        elif isinstance(spec, SimpleRNN):
            layer = keras.layers.SimpleRNN(spec.units, return_sequences=spec.return_sequences)
        else:
            layer = keras.layers.Dense(spec.units, activation=spec.activation)
            if spec.time_distributed:
                layer = keras.layers.TimeDistributed(layer)
        h = layer(h)
        layer.set_weights(ws)
    return keras.Model(inp, h, name=f"bench_{w.id}")


def keras_stream_model(workload, weights):
    """Streaming: ``[x (B, 1, D), h0 (B, U), c0 (B, U)] -> [h, h, c]`` (one LSTM step)."""
    _quiet_tf()
    import keras
    w = workload
    (spec,) = w.layers
    x = keras.Input(batch_shape=(w.batch, 1, w.features), name="x")
    h0 = keras.Input(batch_shape=(w.batch, spec.units), name="h0")
    c0 = keras.Input(batch_shape=(w.batch, spec.units), name="c0")
    layer = keras.layers.LSTM(spec.units, return_state=True)
    outs = layer(x, initial_state=[h0, c0])
    layer.set_weights(weights[0])
    return keras.Model([x, h0, c0], outs, name=f"bench_{w.id}_step")


# ---------------------------------------------------------------------- helpers
def _call(workload, run):
    """A non-streaming contender: time ``run(x)`` on the workload input."""
    x = workload.inputs()
    return Prepared(fn=lambda: run(x), check=lambda: run(x))


def _stream(workload, reset, step):
    """A streaming contender: ``reset()`` zeroes the state, ``step(x_t)`` -> h (B, U)."""
    x_t = workload.inputs()[:, 0, :]                    # (B, D)
    steps = workload.stream_inputs()                    # (K, B, D)

    def check():
        reset()
        out = np.stack([np.array(step(s), copy=True) for s in steps])   # (K, B, U)
        reset()
        return out

    return Prepared(fn=lambda: step(x_t), check=check)


# ---------------------------------------------------------------------- lstm_np
def compose_lstm_np(workload, weights, ln):
    """``x -> output`` through ``ln.LSTM``/``ln.GRU``/``ln.SimpleRNN`` layers, NumPy
    Embedding and Dense."""
    stages = []
    for spec, ws in zip(workload.layers, weights):
        if isinstance(spec, Embedding):
            table = ws[0]
            stages.append(lambda x, table=table: np.take(table, x, axis=0))
        elif isinstance(spec, RNN_SPECS):
            kw = {"reset_after": spec.reset_after} if isinstance(spec, GRU) else {}
            layer = getattr(ln, type(spec).__name__)(
                spec.units, return_sequences=spec.return_sequences, dtype="float32", **kw)
            layer.set_weights(ws)
            stages.append(layer)
        else:
            stages.append(lambda x, ws=ws, act=spec.activation: dense(x, ws[0], ws[1], act))

    def run(x):
        for stage in stages:
            x = stage(x)
        return x
    return run


def build_lstm_np(ctx):
    import lstm_np as ln
    w = ctx.workload
    jit = "numba" if ln.JIT_ENABLED else "pure NumPy (no JIT)"
    if w.streaming:
        layer = ln.LSTM(w.layers[0].units, dtype="float32")
        layer.set_weights(ctx.weights[0])
        p = _stream(w, layer.reset_states, layer.step)
        p.note = f"LSTM.step(), {jit}"
        return p
    p = _call(w, compose_lstm_np(w, ctx.weights, ln))
    kinds = "/".join(dict.fromkeys(type(s).__name__ for s in w.layers if isinstance(s, RNN_SPECS)))
    p.note = f"ln.{kinds} layers + NumPy Embedding/Dense, {jit}"
    return p


def build_lstm_np_stateful(ctx):
    import lstm_np as ln
    w = ctx.workload
    if not w.streaming:
        raise Missing("streaming workloads only")
    layer = ln.LSTM(w.layers[0].units, stateful=True, dtype="float32")
    layer.set_weights(ctx.weights[0])
    p = _stream(w, layer.reset_states, lambda x_t: layer(x_t[:, None, :]))
    p.note = "stateful LSTM called on (B, 1, D)"
    return p


def build_lstm_np_model(ctx):
    import lstm_np as ln
    w = ctx.workload
    if w.streaming:
        raise Missing("not for streaming (see lstm_np)")
    if not hasattr(ln, "from_keras"):
        raise Missing("lstm_np has no from_keras yet")
    if ctx.keras_model is None:
        raise Missing("needs Keras for from_keras")
    model = ln.from_keras(ctx.keras_model)
    p = _call(w, model.predict)
    p.note = "ln.from_keras(model).predict"
    return p


# ------------------------------------------------------------------ Keras and TF
def _need_keras(ctx):
    if ctx.keras_model is None:
        raise Missing("TensorFlow/Keras not installed")


def build_keras_predict(ctx):
    _need_keras(ctx)
    w = ctx.workload
    if w.streaming:
        m = ctx.keras_stream_model
        u = w.layers[0].units
        state = {}

        def reset():
            state["h"] = np.zeros((w.batch, u), np.float32)
            state["c"] = np.zeros((w.batch, u), np.float32)

        def step(x_t):
            y, state["h"], state["c"] = m.predict([x_t[:, None, :], state["h"], state["c"]],
                                                  batch_size=w.batch, verbose=0)
            return y
        reset()
        p = _stream(w, reset, step)
    else:
        m = ctx.keras_model
        p = _call(w, lambda x: m.predict(x, batch_size=w.batch, verbose=0))
    p.note = "model.predict(batch_size=B)"
    return p


def _build_tf_function(ctx, xla):
    _need_keras(ctx)
    import tensorflow as tf
    w = ctx.workload
    if w.streaming:
        m = ctx.keras_stream_model
        u = w.layers[0].units
        spec = [tf.TensorSpec((w.batch, 1, w.features), tf.float32),
                tf.TensorSpec((w.batch, u), tf.float32), tf.TensorSpec((w.batch, u), tf.float32)]
        f = tf.function(lambda x, h, c: m([x, h, c], training=False), input_signature=spec,
                        jit_compile=xla)
        state = {}

        def reset():
            state["h"] = tf.zeros((w.batch, u))
            state["c"] = tf.zeros((w.batch, u))

        def step(x_t):
            y, state["h"], state["c"] = f(x_t[:, None, :], state["h"], state["c"])
            return y.numpy()
        reset()
        p = _stream(w, reset, step)
    else:
        m = ctx.keras_model
        dtype = tf.int32 if w.input_kind == "ids" else tf.float32
        shape = m.inputs[0].shape
        f = tf.function(lambda x: m(x, training=False),
                        input_signature=[tf.TensorSpec(shape, dtype)], jit_compile=xla)
        p = _call(w, lambda x: f(x).numpy())
    p.note = "tf.function(model), jit_compile=True" if xla else "tf.function(model)"
    return p


def build_tf_function(ctx):
    return _build_tf_function(ctx, xla=False)


def build_tf_function_xla(ctx):
    return _build_tf_function(ctx, xla=True)


# ---------------------------------------------------------------------- ONNX Runtime
def _ort_session(model_or_path):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise Missing("onnxruntime not installed") from e
    data = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _ort_prepared(ctx, sess, note):
    w = ctx.workload
    names = [i.name for i in sess.get_inputs()]
    if w.streaming:
        u = w.layers[0].units
        order = _match_names(names, ("x", "h0", "c0"))
        h_shape = tuple(d if isinstance(d, int) else 1 for d in sess.get_inputs()[order[1]].shape)
        state = {}

        def reset():
            state["h"] = np.zeros(h_shape, np.float32)
            state["c"] = np.zeros(h_shape, np.float32)

        def step(x_t):
            y, state["h"], state["c"] = sess.run(None, {names[order[0]]: x_t[:, None, :],
                                                        names[order[1]]: state["h"],
                                                        names[order[2]]: state["c"]})
            return y.reshape(w.batch, u)
        reset()
        p = _stream(w, reset, step)
    else:
        p = _call(w, lambda x: sess.run(None, {names[0]: x})[0])
    p.note = note
    return p


def _match_names(names, wanted):
    """Positions of the inputs named like ``wanted`` (falls back to the given order)."""
    order = []
    for want in wanted:
        hits = [k for k, n in enumerate(names) if n == want or n.split(":")[0] == want]
        order.append(hits[0] if hits else len(order))
    return order


def build_ort_lstm_op(ctx):
    try:
        from benchmarks.onnx_graph import build_onnx_model
    except ImportError as e:
        raise Missing("onnx not installed") from e
    sess = _ort_session(build_onnx_model(ctx.workload, ctx.weights))
    ops = "/".join(dict.fromkeys({LSTM: "LSTM", GRU: "GRU linear_before_reset=1", SimpleRNN: "RNN"}
                                 [type(s)] for s in ctx.workload.layers if isinstance(s, RNN_SPECS)))
    return _ort_prepared(ctx, sess, f"ONNX graph built with onnx.helper ({ops} op)")


def build_ort_tf2onnx(ctx):
    _need_keras(ctx)
    try:
        import tf2onnx  # noqa: F401
    except ImportError as e:
        raise Missing("tf2onnx not installed") from e
    path, ops = tf2onnx_convert(ctx.keras_stream_model if ctx.workload.streaming
                                else ctx.keras_model, ctx.tmpdir or tempfile.mkdtemp())
    sess = _ort_session(path)
    kind = next((f"{op} op" for op in ("LSTM", "GRU", "RNN") if op in ops),
                "Loop" if "Loop" in ops else "no recurrent op")
    return _ort_prepared(ctx, sess, f"tf2onnx CLI on model.export() SavedModel ({kind})")


def tf2onnx_convert(model, tmpdir, opset=17):
    """Keras 3 model -> ONNX file via SavedModel + ``python -m tf2onnx.convert``.

    ``tf2onnx.convert.from_keras`` fails on Keras 3 models (``KeyError: 'keras_tensor...'``)
    and ``from_function`` emits a slow ``Loop``; the SavedModel route lets tf2onnx's LSTM
    rewriter emit the ONNX ``LSTM`` op. Returns ``(path, sorted op types)``.
    """
    import onnx
    saved = os.path.join(tmpdir, f"{model.name}_savedmodel")
    out = os.path.join(tmpdir, f"{model.name}_tf2onnx.onnx")
    if not os.path.exists(out):
        model.export(saved, format="tf_saved_model", verbose=False)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        r = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved,
                            "--output", out, "--opset", str(opset)],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise Missing("tf2onnx conversion failed: " + r.stderr.strip().splitlines()[-1])
    ops = sorted({n.op_type for n in onnx.load(out).graph.node})
    return out, ops


# ---------------------------------------------------------------------------- torch
def _no_grad(torch, items):
    """Iterate ``items`` with autograd off (copying weights into parameters)."""
    with torch.no_grad():
        yield from items


def build_torch(ctx):
    try:
        import torch
    except ImportError as e:
        raise Missing("torch not installed") from e
    w = ctx.workload
    if ctx.torch_threads:
        torch.set_num_threads(ctx.torch_threads)
    mods = []
    width = w.features
    for spec, ws in _no_grad(torch, zip(w.layers, ctx.weights)):
        if isinstance(spec, Embedding):
            m = torch.nn.Embedding(spec.vocab, spec.dim)
            m.weight.copy_(torch.from_numpy(ws[0]))
            width = spec.dim
        elif isinstance(spec, LSTM):
            # torch gate order i, f, g, o is Keras's i, f, c, o.
            m = torch.nn.LSTM(width, spec.units, batch_first=True)
            m.weight_ih_l0.copy_(torch.from_numpy(ws[0].T.copy()))
            m.weight_hh_l0.copy_(torch.from_numpy(ws[1].T.copy()))
            m.bias_ih_l0.copy_(torch.from_numpy(ws[2]))
            m.bias_hh_l0.zero_()
            width = spec.units
        elif isinstance(spec, GRU):
            # Keras blocks z, r, h -> torch r, z, n; torch's n = tanh(W_in x + b_in +
            # r * (W_hn h + b_hn)) is Keras's reset_after=True candidate.
            if not spec.reset_after:
                raise Missing("torch nn.GRU has no reset_after=False")
            m = torch.nn.GRU(width, spec.units, batch_first=True)
            m.weight_ih_l0.copy_(torch.from_numpy(_zrh_to_rzn(ws[0], spec.units).T.copy()))
            m.weight_hh_l0.copy_(torch.from_numpy(_zrh_to_rzn(ws[1], spec.units).T.copy()))
            m.bias_ih_l0.copy_(torch.from_numpy(_zrh_to_rzn(ws[2][0], spec.units)))
            m.bias_hh_l0.copy_(torch.from_numpy(_zrh_to_rzn(ws[2][1], spec.units)))
            width = spec.units
        elif isinstance(spec, SimpleRNN):
            m = torch.nn.RNN(width, spec.units, nonlinearity="tanh", batch_first=True)
            m.weight_ih_l0.copy_(torch.from_numpy(ws[0].T.copy()))
            m.weight_hh_l0.copy_(torch.from_numpy(ws[1].T.copy()))
            m.bias_ih_l0.copy_(torch.from_numpy(ws[2]))
            m.bias_hh_l0.zero_()
            width = spec.units
        else:
            m = torch.nn.Linear(width, spec.units)
            m.weight.copy_(torch.from_numpy(ws[0].T.copy()))
            m.bias.copy_(torch.from_numpy(ws[1]))
            width = spec.units
        mods.append((spec, m.eval()))
    kinds = "/".join(dict.fromkeys({LSTM: "nn.LSTM", GRU: "nn.GRU", SimpleRNN: "nn.RNN"}[type(s)]
                                   for s in w.layers if isinstance(s, RNN_SPECS)))
    note = f"{kinds}, {torch.get_num_threads()} threads, inference_mode"

    if w.streaming:
        lstm = mods[0][1]
        u = w.layers[0].units
        state = {}

        def reset():
            state["hc"] = (torch.zeros(1, w.batch, u), torch.zeros(1, w.batch, u))

        def step(x_t):
            with torch.inference_mode():
                y, state["hc"] = lstm(torch.from_numpy(x_t[:, None, :]), state["hc"])
                return y[:, 0].numpy()
        reset()
        p = _stream(w, reset, step)
        p.note = note
        return p

    def run(x):
        with torch.inference_mode():
            h = torch.from_numpy(x)
            for spec, m in mods:
                if isinstance(spec, RNN_SPECS):
                    seq, hn = m(h)
                    if isinstance(spec, LSTM):
                        hn = hn[0]
                    h = seq if spec.return_sequences else hn[0]
                else:
                    h = m(h)
                    if isinstance(spec, Dense) and spec.activation == "softmax":
                        h = torch.softmax(h, dim=-1)
            return h.numpy()
    x64 = w.inputs().astype(np.int64) if w.input_kind == "ids" else w.inputs()
    p = Prepared(fn=lambda: run(x64), check=lambda: run(x64), note=note)
    return p


def _zrh_to_rzn(a, units):
    """Reorder the last axis from Keras GRU blocks z, r, h to torch's r, z, n."""
    z, r, h = (a[..., k * units:(k + 1) * units] for k in range(3))
    return np.ascontiguousarray(np.concatenate([r, z, h], axis=-1))


# Ordered: lstm_np first (the ratios are against it), then the others.
CONTENDERS = {
    "lstm_np": build_lstm_np,
    "lstm_np_stateful": build_lstm_np_stateful,
    "lstm_np_model": build_lstm_np_model,
    "keras_predict": build_keras_predict,
    "tf_function": build_tf_function,
    "tf_function_xla": build_tf_function_xla,
    "ort_tf2onnx": build_ort_tf2onnx,
    "ort_lstm_op": build_ort_lstm_op,
    "torch": build_torch,
}


def build(name, ctx):
    """Prepare contender ``name`` for ``ctx.workload`` (raises :class:`Missing` to skip)."""
    return CONTENDERS[name](ctx)
