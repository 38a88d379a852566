"""Model-level gradients: reverse-mode through a whole :class:`~lstm_np.model.Model`.

:func:`model_gradients` runs the model's graph once, keeping each layer's tape cache
(``Layer.tape_forward``), then walks the nodes in reverse, giving every layer the gradient
on its outputs (``Layer.tape_backward``) and collecting the gradients on its inputs,
``initial_state`` tensors and weights. The loss is ``sum(outputs * d_outputs)`` (a
vector-Jacobian product), so ``d_outputs`` of ones on one class gives that class score's
gradient (saliency).

This module knows no layer class: each layer's backward rule lives with the layer (the
protocol of :mod:`lstm_np.layers.base`). Masks carry no gradient; inference-time semantics
are those of ``Model.predict`` (dropout-likes are the identity). Integer inputs (ids fed to
an ``Embedding``) get ``None``.

Layers with a backward pass: ``InputLayer``, ``LSTM``, ``GRU`` (both ``reset_after``) and
``SimpleRNN`` (any ``return_sequences`` / ``return_state`` / ``go_backwards`` / masks /
``initial_state`` tensors), ``Bidirectional`` of any of them (every merge mode), ``Dense``
(any activation, softmax and log_softmax included, any input rank), ``Activation``,
``Softmax`` (with masks), the dropout-likes, ``Masking``, ``Embedding`` (gradient on the
table), ``TimeDistributed`` of any of these with one output, and ``Add`` / ``Subtract`` /
``Average`` / ``Concatenate`` (inputs of one shape). Keras 3 ops (the comparisons and
reductions masks are made of) are evaluated and pass no gradient. Any other layer raises
:class:`~lstm_np.GradientNotSupported` (a ``NotImplementedError``) naming the layer and
class, before anything is computed; an explicit ``mask=`` call argument is honoured as in
``predict`` (masks carry no gradient).
"""
import numpy as np

from .errors import InputError

__all__ = ["model_gradients", "input_gradients", "forward", "backward"]


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


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
        model.get_layer(node["layer"]).check_backward()
    with model.preserved_states():
        values, _, caches = model._run(xs, keep=True)
    return _Tape(model, values, caches)


def _check_d_output(d, y, ref):
    try:
        d = np.asarray(d, dtype=y.dtype if y.dtype.kind == "f" else None)
    except (TypeError, ValueError) as exc:
        raise InputError(f"gradients: d_outputs for output {list(ref)} must be a numeric "
                         f"array of shape {y.shape} ({exc})") from None
    if d.dtype.kind not in "biuf":
        raise InputError(f"gradients: d_outputs for output {list(ref)} must be numeric; "
                         f"received dtype {d.dtype}")
    if d.shape != y.shape:
        raise InputError(f"gradients: d_outputs for output {list(ref)} must have the "
                         f"output's shape {y.shape}; received {d.shape}")
    return d


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
        if d is not None:
            d = _check_d_output(d, values[r[0]][r[1]], r)
            grads[r[0]][r[1]] = _add(grads[r[0]][r[1]], d)
    weights = {}
    for k in range(len(model.nodes) - 1, -1, -1):
        node = model.nodes[k]
        layer = model.get_layer(node["layer"])
        if all(g is None for g in grads[k]):
            continue                      # nothing depends on this node
        d = [np.zeros_like(v) if g is None else g for g, v in zip(grads[k], values[k])]
        dx, d_kwargs, dw = layer.tape_backward(tape.caches[k], d)
        if dw:
            prev = weights.get(layer.name)
            weights[layer.name] = list(dw) if prev is None else [
                a + b for a, b in zip(prev, dw)]
        refs, is_list = model.arg_refs(node)
        for r, g in zip(refs, (dx if dx is not None else [None] * len(refs)) if is_list
                        else [dx]):
            grads[r[0]][r[1]] = _add(grads[r[0]][r[1]], g)
        for r, g in zip(node.get("initial_state") or [], d_kwargs.get("initial_state") or []):
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
