"""Model-level gradients: reverse-mode through a whole :class:`~lstm_np.model.Model`.

:func:`model_gradients` runs the model's graph once, keeping what each layer's backward
needs, then walks the nodes in reverse, giving every layer the gradient on its outputs
and collecting the gradients on its inputs, ``initial_state`` tensors and weights.
The loss is ``sum(outputs * d_outputs)`` (a vector-Jacobian product), so ``d_outputs``
of ones on one class gives that class score's gradient (saliency).

Each supported layer class has a small ``forward`` (returns outputs, masks and a cache)
and ``backward`` (cache, output gradients -> input, initial-state and weight gradients)
pair, registered in ``_RULES`` by class (looked up along the MRO). Masks carry no
gradient; inference-time semantics are those of ``Model.predict`` (dropout-likes are the
identity). Integer inputs (ids fed to an ``Embedding``) get ``None``.

Supported: ``InputLayer``, ``LSTM``, ``GRU`` (both ``reset_after``) and ``SimpleRNN``
(any ``return_sequences`` / ``return_state`` / ``go_backwards`` / masks / ``initial_state``
tensors), ``Bidirectional`` of any of them (every merge mode), ``Dense`` (any activation, softmax and log_softmax included, any input
rank), ``Activation``, ``Softmax`` (with masks), the dropout-likes, ``Masking``,
``Embedding`` (gradient on the table), ``TimeDistributed`` of any supported
single-output layer, and ``Add`` / ``Subtract`` / ``Average`` / ``Concatenate`` (inputs of
one shape). Keras 3 ops (the comparisons and reductions masks are made of) are evaluated
and pass no gradient. Anything else raises :class:`~lstm_np.GradientNotSupported` (a
``NotImplementedError``) naming the layer and class; an explicit ``mask=`` call argument
is honoured as in ``predict`` (masks carry no gradient).
"""
import numpy as np

from .activations import resolve
from .activation_grads import activate_grad
from .layers._rnn import RNNLayer
from .layers.core import (
    Activation, Add, Average, Concatenate, Dense, Embedding, Identity, InputLayer, Masking,
    Softmax, Subtract, _as_float, apply_activation, softmax,
)
from .errors import GradientNotSupported, InputError
from .layers.ops import KerasOp
from .layers.wrappers import Bidirectional, TimeDistributed
from .model import _is_ref, node_inputs

__all__ = ["model_gradients", "input_gradients", "forward", "backward"]


def _cls(layer):
    return getattr(layer, "class_name", type(layer).__name__)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# ----------------------------------------------------------------------------- rules
# forward(layer, x, mask, initial_state, call_mask) -> (outs, masks, cache)
# backward(layer, cache, d_outs) -> (d_x, d_initial_state (list or None), d_weights (list))
# d_x has x's structure (an array, or a list for list inputs); None entries mean "no gradient".

def _input_fwd(layer, x, mask, init, call_mask):
    y = layer.call(x)
    return [y], [None], None


def _input_bwd(layer, cache, d):
    return d[0], None, []


def _check_rnn(layer):
    from .kernels.backward import BACKWARD_CELLS
    if layer.CELL not in BACKWARD_CELLS:
        raise GradientNotSupported(f"gradients: {_cls(layer)} {layer.name!r} has no backward "
                                  f"pass")


def _rnn_fwd(layer, x, mask, init, call_mask):
    _check_rnn(layer)
    out, states, cache = layer.forward(x, initial_state=init,
                                       mask=mask if call_mask else None, keep=True)
    outs = [out] + ([s for s in states] if layer.return_state else [])
    masks = [mask if layer.return_sequences else None] + [None] * (len(outs) - 1)
    return outs, masks, (cache, init is not None)


def _rnn_bwd(layer, cache, d):
    cache, has_init = cache
    g = layer.backward(d[0], list(d[1:]) if len(d) > 1 else None, cache)
    return g["x"], (g["initial_state"] if has_init else None), g["weights"]


def _bidi_fwd(layer, x, mask, init, call_mask):
    _check_rnn(layer.forward_layer)
    _check_rnn(layer.backward_layer)
    m = mask if call_mask else None
    fwd_state = bwd_state = None
    if init is not None:
        init = list(init)
        half = len(init) // 2
        fwd_state, bwd_state = init[:half], init[half:]
    y, s_f, c_f = layer.forward_layer.forward(x, initial_state=fwd_state, mask=m, keep=True)
    y_rev, s_b, c_b = layer.backward_layer.forward(x, initial_state=bwd_state, mask=m,
                                                   keep=True)
    if layer.return_sequences:
        y_rev = y_rev[:, ::-1]
    states = ([s for s in s_f] + [s for s in s_b]) if layer.return_state else []
    out_mask = mask if layer.return_sequences else None
    mode = layer.merge_mode
    if mode == "concat":
        ys = [np.concatenate([y, y_rev], axis=-1)]
    elif mode == "sum":
        ys = [y + y_rev]
    elif mode == "ave":
        ys = [(y + y_rev) / y.dtype.type(2)]
    elif mode == "mul":
        ys = [y * y_rev]
    else:
        ys = [y, np.ascontiguousarray(y_rev)]
    masks = [out_mask] * len(ys) + [None] * len(states)
    return ys + states, masks, (c_f, c_b, y, y_rev, len(ys), init is not None)


def _bidi_bwd(layer, cache, d):
    c_f, c_b, y, y_rev, n_y, has_init = cache
    mode = layer.merge_mode
    g = d[0]
    dt = y.dtype
    if g is None and (n_y == 1 or d[1] is None):
        d_y = d_rev = None
    elif mode == "concat":
        u = y.shape[-1]
        d_y, d_rev = g[..., :u], g[..., u:]
    elif mode == "sum":
        d_y = d_rev = g
    elif mode == "ave":
        d_y = d_rev = g / dt.type(2)
    elif mode == "mul":
        d_y, d_rev = g * y_rev, g * y
    else:
        d_y, d_rev = d[0], d[1]
    if d_rev is not None and layer.return_sequences:
        d_rev = d_rev[:, ::-1]          # back to the backward layer's processing order
    n_s = len(layer.forward_layer.STATE_NAMES) if layer.return_state else 0
    d_states = d[n_y:]
    gf = layer.forward_layer.backward(d_y, list(d_states[:n_s]) or None, c_f)
    gb = layer.backward_layer.backward(d_rev, list(d_states[n_s:]) or None, c_b)
    d_init = (gf["initial_state"] + gb["initial_state"]) if has_init else None
    return gf["x"] + gb["x"], d_init, gf["weights"] + gb["weights"]


def _dense_fwd(layer, x, mask, init, call_mask):
    y = layer.call(x)                 # validates; recompute the pre-activation below
    xf = _as_float(x, layer.dtype)
    z = np.matmul(xf, layer.kernel)
    if layer.use_bias:
        z = z + layer.bias
    return [y], [layer.compute_mask(x, mask)], (xf, z, y)


def _act_bwd(name, keras_version, z, y, g, where):
    if name == "softmax":
        return y * (g - np.sum(g * y, axis=-1, keepdims=True))
    if name == "log_softmax":
        return g - softmax(z) * np.sum(g, axis=-1, keepdims=True)
    code = resolve(name, keras_version, where)
    return g * activate_grad(z, code, y)


def _dense_bwd(layer, cache, d):
    xf, z, y = cache
    g = d[0]
    dz = _act_bwd(layer.activation, layer.keras_version, z, y, g,
                  f"Dense {layer.name!r} activation").astype(layer.dtype, copy=False)
    dz2 = dz.reshape(-1, layer.units)
    dk = xf.reshape(-1, xf.shape[-1]).T @ dz2
    dw = [dk] + ([dz2.sum(axis=0)] if layer.use_bias else [])
    return dz @ layer.kernel.T, None, dw


def _activation_fwd(layer, x, mask, init, call_mask):
    z = _as_float(x, layer.dtype)
    y = apply_activation(z, layer.activation, layer.keras_version,
                         f"Activation {layer.name!r}")
    return [y], [layer.compute_mask(x, mask)], (z, y)


def _activation_bwd(layer, cache, d):
    z, y = cache
    return _act_bwd(layer.activation, layer.keras_version, z, y, d[0],
                    f"Activation {layer.name!r}"), None, []


def _softmax_fwd(layer, x, mask, init, call_mask):
    y = layer.call(x, mask)
    _, keep = layer.masked_inputs(x, mask)
    return [y], [layer.compute_mask(x, mask)], (y, keep)


def _softmax_bwd(layer, cache, d):
    y, keep = cache           # keep: positions replaced by -1e9 (Keras 3, robust) get 0
    g = d[0]
    zeroed = keep is not None and layer.keras_version != 2
    if zeroed:
        g = np.where(keep, g, g.dtype.type(0))
    dz = y * (g - np.sum(g * y, axis=layer.axis, keepdims=True))
    if keep is not None:
        dz = np.where(keep, dz, dz.dtype.type(0))
    return dz, None, []


def _identity_fwd(layer, x, mask, init, call_mask):
    return [layer.call(x)], [layer.compute_mask(x, mask)], None


def _identity_bwd(layer, cache, d):
    return d[0], None, []


def _masking_fwd(layer, x, mask, init, call_mask):
    xf = _as_float(x, layer.dtype)
    keep = layer._mask(xf)
    return [layer.call(x)], [keep], keep


def _masking_bwd(layer, keep, d):
    return np.where(keep[..., None], d[0], d[0].dtype.type(0)), None, []


def _embedding_fwd(layer, x, mask, init, call_mask):
    y = layer.call(x)
    return [y], [layer.compute_mask(x, mask)], np.asarray(x).astype(np.intp)


def _embedding_bwd(layer, ids, d):
    table = np.zeros_like(layer.embeddings)
    np.add.at(table, ids, d[0])
    return None, None, [table]


def _timedistributed_fwd(layer, x, mask, init, call_mask):
    x = np.asarray(x)
    if x.ndim < 3:
        raise InputError(f"TimeDistributed {layer.name!r} expects input of rank >= 3 "
                         f"(batch, timesteps, ...); received shape {x.shape}")
    b, t = x.shape[:2]
    inner = layer.layer
    fwd, _ = _rule(inner)
    outs, _, cache = fwd(inner, x.reshape((b * t,) + x.shape[2:]), None, None, True)
    if len(outs) != 1:
        raise GradientNotSupported(f"gradients: TimeDistributed {layer.name!r}: wrapped layer "
                                  f"with several outputs is not supported")
    y = outs[0]
    return [y.reshape((b, t) + y.shape[1:])], [mask], (cache, x.shape, y.shape)


def _timedistributed_bwd(layer, cache, d):
    cache, x_shape, y_shape = cache
    _, bwd = _rule(layer.layer)
    dx, _, dw = bwd(layer.layer, cache, [d[0].reshape(y_shape)])
    return (None if dx is None else dx.reshape(x_shape)), None, dw


def _op_fwd(layer, x, mask, init, call_mask):
    return [layer.call(x)], [None], (len(x), None)


def _op_bwd(layer, cache, d):
    if d[0] is not None and np.asarray(d[0]).dtype.kind == "f" and np.any(d[0]):
        raise GradientNotSupported(f"gradients: Keras op {layer.op} ({layer.name!r}) has no "
                                   f"backward pass")
    return [None] * cache[0], None, []


def _merge_fwd(layer, x, mask, init, call_mask):
    y = layer.call(x)
    xs = [_as_float(v, layer.dtype) for v in x]
    if len({v.shape for v in xs}) != 1 and not isinstance(layer, Concatenate):
        raise GradientNotSupported(f"gradients: {_cls(layer)} {layer.name!r}: inputs of "
                                  f"different (broadcast) shapes are not supported")
    return [y], [layer.compute_mask(x, mask)], [v.shape for v in xs]


def _merge_bwd(layer, shapes, d):
    g = d[0]
    n = len(shapes)
    if isinstance(layer, Concatenate):
        cuts = np.cumsum([s[layer.axis] for s in shapes])[:-1]
        return list(np.split(g, cuts, axis=layer.axis)), None, []
    if isinstance(layer, Add):
        return [g] * n, None, []
    if isinstance(layer, Subtract):
        return [g, -g], None, []
    return [g / g.dtype.type(n)] * n, None, []          # Average


_RULES = {
    InputLayer: (_input_fwd, _input_bwd),
    RNNLayer: (_rnn_fwd, _rnn_bwd),
    Bidirectional: (_bidi_fwd, _bidi_bwd),
    Dense: (_dense_fwd, _dense_bwd),
    Activation: (_activation_fwd, _activation_bwd),
    Softmax: (_softmax_fwd, _softmax_bwd),
    Identity: (_identity_fwd, _identity_bwd),
    Masking: (_masking_fwd, _masking_bwd),
    Embedding: (_embedding_fwd, _embedding_bwd),
    TimeDistributed: (_timedistributed_fwd, _timedistributed_bwd),
    Add: (_merge_fwd, _merge_bwd),
    Subtract: (_merge_fwd, _merge_bwd),
    Average: (_merge_fwd, _merge_bwd),
    Concatenate: (_merge_fwd, _merge_bwd),
    KerasOp: (_op_fwd, _op_bwd),
}


def _rule(layer):
    for klass in type(layer).__mro__:
        if klass in _RULES:
            return _RULES[klass]
    supported = sorted(k.__name__ for k in _RULES)
    raise GradientNotSupported(f"gradients: layer {layer.name!r} of class {_cls(layer)} has "
                              f"no backward pass; supported: {', '.join(supported)}")


# ----------------------------------------------------------------------------- graph walk
class _Tape:
    """What one forward pass of a model keeps for :func:`backward`."""

    def __init__(self, model, values, caches):
        self.model, self.values, self.caches = model, values, caches

    @property
    def outputs(self):
        return [self.values[r[0]][r[1]] for r in self.model._output_refs()]


def forward(model, xs):
    """Run ``model`` on standardized inputs ``xs`` (list), keeping a tape for :func:`backward`.

    Stateful layers see their stored states, which are left unchanged (no side effect).
    """
    for node in model.nodes:                       # fail before computing anything
        layer = model.get_layer(node["layer"])
        _rule(layer)
        if isinstance(layer, TimeDistributed):
            _rule(layer.layer)
    saved = {}
    for layer in model.layers:
        for sub in (layer, getattr(layer, "forward_layer", None),
                    getattr(layer, "backward_layer", None)):
            if sub is not None and getattr(sub, "stateful", False) and hasattr(sub, "states"):
                saved[id(sub)] = (sub, None if sub.states is None else sub.states.copy())
    values, masks, caches = [], [], []
    input_of = {r[0]: xs[k] for k, r in enumerate(model.inputs)}
    try:
        for k, node in enumerate(model.nodes):
            layer = model.get_layer(node["layer"])
            fwd, _ = _rule(layer)
            args = node.get("args")
            if args is None:
                outs, ms, cache = fwd(layer, input_of[k], None, None, True)
            else:
                x, m, init, call_mask = node_inputs(node, values, masks)
                if init is not None and not isinstance(layer, (RNNLayer, Bidirectional)):
                    raise GradientNotSupported(f"gradients: {_cls(layer)} {layer.name!r} "
                                               f"with initial_state")
                outs, ms, cache = fwd(layer, x, m, init, call_mask)
            values.append(outs)
            masks.append(ms)
            caches.append(cache)
    finally:
        for sub, states in saved.values():
            sub.states = states
    return _Tape(model, values, caches)


def backward(tape, d_outputs):
    """Gradients of ``sum(outputs * d_outputs)`` for a tape of :func:`forward`.

    ``d_outputs`` is a list aligned with the model's outputs (``None`` = zeros). Returns
    ``(d_inputs, d_weights_by_layer)``: a list aligned with the model inputs (``None`` for
    inputs no gradient reaches, such as integer ids) and ``{layer name: [arrays aligned
    with layer.get_weights()]}`` (layers used twice get the sum).
    """
    model, values = tape.model, tape.values
    grads = [[None] * len(v) for v in values]
    for r, d in zip(model._output_refs(), d_outputs):
        if d is None:
            continue
        y = values[r[0]][r[1]]
        try:
            d = np.asarray(d, dtype=y.dtype if y.dtype.kind == "f" else None)
        except (TypeError, ValueError) as exc:
            raise InputError(f"gradients: d_outputs for output {list(r)} must be a numeric "
                             f"array of shape {y.shape} ({exc})") from None
        if d.dtype.kind not in "biuf":
            raise InputError(f"gradients: d_outputs for output {list(r)} must be numeric; "
                             f"received dtype {d.dtype}")
        if d.shape != y.shape:
            raise InputError(f"gradients: d_outputs for output {list(r)} must have the "
                             f"output's shape {y.shape}; received {d.shape}")
        grads[r[0]][r[1]] = _add(grads[r[0]][r[1]], d)
    weights = {}
    for k in range(len(model.nodes) - 1, -1, -1):
        node = model.nodes[k]
        layer = model.get_layer(node["layer"])
        d = grads[k]
        if all(g is None for g in d):
            continue                      # nothing depends on this node
        d = [np.zeros_like(values[k][i]) if g is None and i == 0 and not isinstance(
            layer, (RNNLayer, Bidirectional)) else g for i, g in enumerate(d)]
        _, bwd = _rule(layer)
        dx, d_init, dw = bwd(layer, tape.caches[k], d)
        if dw:
            prev = weights.get(layer.name)
            weights[layer.name] = list(dw) if prev is None else [
                a + b for a, b in zip(prev, dw)]
        args = node.get("args")
        if args is None:
            continue
        if _is_ref(args):
            grads[args[0]][args[1]] = _add(grads[args[0]][args[1]], dx)
        else:
            for r, g in zip(args, dx if dx is not None else [None] * len(args)):
                grads[r[0]][r[1]] = _add(grads[r[0]][r[1]], g)
        for r, g in zip(node.get("initial_state") or [], d_init or []):
            grads[r[0]][r[1]] = _add(grads[r[0]][r[1]], g)
    d_inputs = []
    for r in model.inputs:
        g = grads[r[0]][r[1]]
        if g is not None and values[r[0]][r[1]].dtype.kind != "f":
            g = None                       # integer inputs have no gradient
        d_inputs.append(g)
    return d_inputs, weights


def _d_outputs_list(model, d_outputs):
    refs = model._output_refs()
    if isinstance(d_outputs, dict):
        if not isinstance(model.outputs, dict):
            raise InputError("gradients: d_outputs is a dict but the model's outputs are not")
        return [d_outputs.get(name) for name in model.outputs]
    if isinstance(d_outputs, (list, tuple)) and len(refs) > 1:
        ds = list(d_outputs)
    else:
        ds = [d_outputs]
    if len(ds) != len(refs):
        raise InputError(f"gradients: the model has {len(refs)} output(s); d_outputs has "
                         f"{len(ds)}")
    return ds


def _structure_inputs(model, x, d_inputs):
    if isinstance(x, dict):
        return dict(zip(model.input_names, d_inputs))
    return d_inputs[0] if len(d_inputs) == 1 else d_inputs


def model_gradients(model, x, d_outputs):
    """Implementation of :meth:`lstm_np.Model.gradients`."""
    xs = model._standardize(x)
    tape = forward(model, xs)
    d_inputs, by_layer = backward(tape, _d_outputs_list(model, d_outputs))
    flat = []
    for layer in model.layers:
        ws = layer.get_weights()
        got = by_layer.get(layer.name)
        flat += got if got is not None else [np.zeros_like(w) for w in ws]
    return {"inputs": _structure_inputs(model, x, d_inputs), "weights": flat,
            "layers": by_layer, "outputs": model._structure(tape.outputs)}


def input_gradients(model, x, output_index=0, class_index=None):
    """Implementation of :meth:`lstm_np.Model.input_gradients`."""
    xs = model._standardize(x)
    tape = forward(model, xs)
    outs = tape.outputs
    if not -len(outs) <= output_index < len(outs):
        raise InputError(f"input_gradients: output_index {output_index} out of range; the "
                         f"model has {len(outs)} output(s)")
    y = outs[output_index]
    b = y.shape[0]
    d = np.zeros_like(y)
    if y.ndim == 1:
        d[:] = 1
    else:
        rows = np.arange(b)
        lead = (rows,) + (-1,) * (y.ndim - 2)      # last timestep of sequence outputs
        if class_index is None:
            cls = np.argmax(y[lead], axis=-1)
        else:
            cls = np.asarray(class_index) if not isinstance(class_index, dict) else None
            n_cls = y.shape[-1]
            if (cls is None or cls.dtype.kind not in "iu" or cls.shape not in ((), (b,))
                    or (cls.size and (cls.min() < 0 or cls.max() >= n_cls))):
                raise InputError(f"input_gradients: class_index must be an integer in "
                                 f"[0, {n_cls}) or {b} of them; received {class_index!r}"[:300])
            cls = np.broadcast_to(cls.astype(np.intp), (b,))
        d[lead + (cls,)] = 1
    ds = [None] * len(outs)
    ds[output_index] = d
    d_inputs, _ = backward(tape, ds)
    return _structure_inputs(model, x, d_inputs)
