"""Build a workload's ONNX graph directly with ``onnx.helper``, using the ONNX ``LSTM`` op.

This measures ONNX Runtime's own LSTM kernel independently of any converter (tf2onnx is
the other route, see ``contenders.tf2onnx_convert``). Keras gate blocks i, f, c, o are
reordered to ONNX's i, o, f, c; ``W = kernel.T`` (4U, D), ``R = recurrent_kernel.T``
(4U, U), ``B = [bias, 0]`` (8U,). ONNX's default activations (sigmoid, tanh, tanh) are
Keras's defaults.

GRU (``reset_after=True``) maps to the ONNX ``GRU`` op with ``linear_before_reset=1``: both
order the gate blocks z, r, h, so ``W = kernel.T``, ``R = recurrent_kernel.T`` and
``B = [input bias, recurrent bias]`` need no reordering. SimpleRNN maps to the ONNX ``RNN``
op (default Tanh) with ``B = [bias, 0]``.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from benchmarks.workloads import GRU, LSTM, RNN_SPECS, Dense, Embedding, SimpleRNN

__all__ = ["build_onnx_model", "keras_to_onnx_gates"]

OPSET = 17


def keras_to_onnx_gates(a, units):
    """Reorder the last axis of ``a`` from Keras blocks i, f, c, o to ONNX i, o, f, c."""
    i, f, c, o = (a[..., k * units:(k + 1) * units] for k in range(4))
    return np.concatenate([i, o, f, c], axis=-1)


def build_onnx_model(workload, weights):
    """``ModelProto`` for ``workload``; streaming graphs take and return ``h, c`` (1, B, U)."""
    w = workload
    nodes, inits = [], []

    def const(name, arr):
        if name not in {t.name for t in inits}:
            inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    if w.input_kind == "ids":
        inputs = [helper.make_tensor_value_info("x", TensorProto.INT32, [w.batch, w.timesteps])]
        shape = [w.batch, w.timesteps]
    else:
        t = 1 if w.streaming else w.timesteps
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [w.batch, t, w.features])]
        shape = [w.batch, t, w.features]
    h = "x"
    outputs = []
    for k, (spec, ws) in enumerate(zip(w.layers, weights)):
        if isinstance(spec, Embedding):
            nodes.append(helper.make_node("Gather", [const(f"emb{k}", ws[0]), h], [f"e{k}"], axis=0))
            h = f"e{k}"
            shape = shape + [spec.dim]
        elif isinstance(spec, RNN_SPECS):
            u = spec.units
            kernel, recurrent, bias = ws
            op, attrs = type(spec).__name__, {}
            if isinstance(spec, LSTM):
                W = keras_to_onnx_gates(kernel, u).T[None]                 # (1, 4U, D)
                R = keras_to_onnx_gates(recurrent, u).T[None]              # (1, 4U, U)
                B = np.concatenate([keras_to_onnx_gates(bias, u), np.zeros(4 * u, np.float32)])[None]
            elif isinstance(spec, GRU):
                if not spec.reset_after:  # pragma: no cover
                    raise NotImplementedError("GRU reset_after=False")
                W, R = kernel.T[None], recurrent.T[None]                   # (1, 3U, D), (1, 3U, U)
                B = bias.reshape(1, 6 * u)                                 # [Wb, Rb]
                attrs = {"linear_before_reset": 1}
            else:
                op = "RNN"
                W, R = kernel.T[None], recurrent.T[None]                   # (1, U, D), (1, U, U)
                B = np.concatenate([bias, np.zeros(u, np.float32)])[None]
            nodes.append(helper.make_node("Transpose", [h], [f"tm{k}"], perm=[1, 0, 2]))
            lstm_in = [f"tm{k}", const(f"W{k}", np.ascontiguousarray(W, np.float32)),
                       const(f"R{k}", np.ascontiguousarray(R, np.float32)),
                       const(f"B{k}", np.ascontiguousarray(B, np.float32))]
            if w.streaming:
                lstm_in += ["", "h0", "c0"]
                inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, w.batch, u])
                           for n in ("h0", "c0")]
            if w.streaming and not isinstance(spec, LSTM):  # pragma: no cover
                raise NotImplementedError("streaming graphs are LSTM only")
            outs = [f"Y{k}", f"Yh{k}"] + ([f"Yc{k}"] if isinstance(spec, LSTM) else [])
            nodes.append(helper.make_node(op, lstm_in, outs, hidden_size=u, **attrs))
            if w.streaming:
                nodes.append(helper.make_node("Identity", [f"Yh{k}"], ["y"]))
                outputs = ["y", f"Yh{k}", f"Yc{k}"]
                h, shape = "y", [1, w.batch, u]
            elif spec.return_sequences:                                     # Y (T, 1, B, U)
                axes = const("axes1", np.array([1], np.int64))
                nodes.append(helper.make_node("Squeeze", [f"Y{k}", axes], [f"Ys{k}"]))
                nodes.append(helper.make_node("Transpose", [f"Ys{k}"], [f"s{k}"], perm=[1, 0, 2]))
                h, shape = f"s{k}", shape[:2] + [u]
            else:                                                           # Y_h (1, B, U)
                axes = const("axes0", np.array([0], np.int64))
                nodes.append(helper.make_node("Squeeze", [f"Yh{k}", axes], [f"s{k}"]))
                h, shape = f"s{k}", [w.batch, u]
        elif isinstance(spec, Dense):
            nodes.append(helper.make_node("MatMul", [h, const(f"Wd{k}", ws[0])], [f"mm{k}"]))
            nodes.append(helper.make_node("Add", [f"mm{k}", const(f"bd{k}", ws[1])], [f"d{k}"]))
            h, shape = f"d{k}", shape[:-1] + [spec.units]
            if spec.activation == "softmax":
                nodes.append(helper.make_node("Softmax", [h], [f"sm{k}"], axis=-1))
                h = f"sm{k}"
    if not outputs:
        outputs = [h]
    graph = helper.make_graph(
        nodes, f"bench_{w.id}", inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="lstm_np-benchmarks")
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    return model
