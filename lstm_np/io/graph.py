"""Keras model config (Sequential or Functional, Keras 2 or 3 node format) -> ``Model``.

Shared by every route. ``weights_of(name, entry, index)`` is supplied by the route and
returns the layer's weight arrays in Keras ``get_weights()`` order.
"""
import numpy as np

from ..errors import LoadError, UnsupportedKerasFeature
from ..layers._rnn import RNNLayer
from ..layers.core import InputLayer
from ..layers.stacked import StackedRNN
from ..layers.wrappers import Bidirectional
from ..model import Model, n_outputs
from .registry import (_REFUSED, BUILDERS, build_layer, convert_cudnn_gru_weights,
                       convert_cudnn_lstm_weights)

__all__ = ["model_from_keras_config", "keras_major", "snake_case"]

_MODEL_CLASSES = ("Sequential", "Functional", "Model")


def keras_major(version, default=3):
    """``"2.21.0"`` -> 2; bytes accepted; ``default`` when unknown."""
    if isinstance(version, bytes):
        version = version.decode()
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return default


def snake_case(name):
    """Keras ``naming.to_snake_case``: ``TimeDistributed`` -> ``time_distributed``."""
    import re
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def model_from_keras_config(model_config, keras_version, weights_of):
    """Build a :class:`Model` from ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise LoadError("the model config is not a Keras model config")
    cls = model_config["class_name"]
    cfg = model_config.get("config") or {}
    if cls == "Sequential":
        layers, nodes, inputs, outputs = _sequential(cfg, keras_version, model_config)
        sequential = True
    elif cls in ("Functional", "Model"):
        layers, nodes, inputs, outputs = _functional(cfg, keras_version)
        sequential = False
    else:
        raise UnsupportedKerasFeature(
            f"model class {cls!r} is not supported (only Sequential and Functional models; "
            f"subclassed models have no config to rebuild from)")
    entries = [e for e in cfg["layers"] if not _is_op(e)]
    for index, (layer, entry) in enumerate(zip(layers, entries_for(layers, entries))):
        _set_weights(layer, entry, weights_of(layer.name, entry, index))
    return Model(layers, nodes, inputs, outputs, name=cfg.get("name", "model"),
                 keras_version=keras_version, sequential=sequential)


def entries_for(layers, entries):
    by_name = {_entry_name(e): e for e in entries}
    return [by_name.get(layer.name, {"class_name": "InputLayer", "config": {}})
            for layer in layers]


def _entry_name(entry):
    return entry.get("name") or (entry.get("config") or {}).get("name")


def _expected_weight_count(layer):
    if isinstance(layer, RNNLayer):
        return 3 if layer.use_bias else 2
    if isinstance(layer, StackedRNN):
        return layer.n_weights()
    if isinstance(layer, Bidirectional):
        return _expected_weight_count(layer.forward_layer) + _expected_weight_count(
            layer.backward_layer)
    inner = getattr(layer, "layer", None)
    if inner is not None:
        return _expected_weight_count(inner)
    return len(getattr(layer, "weight_names", ()))


def _maybe_cudnn(layer, weights):
    """Convert Keras 2 CuDNNLSTM (bias of 8U) / CuDNNGRU (bias of 6U) weights into the
    canonical layout, as tf-keras ``_convert_rnn_weights`` does when loading an ``.h5``."""
    if not isinstance(layer, RNNLayer) or len(weights) != 3:
        return weights
    kind, bias = type(layer).__name__, np.shape(weights[2])
    if kind == "LSTM" and bias == (8 * layer.units,):
        return convert_cudnn_lstm_weights(weights)
    if kind == "GRU" and layer.reset_after and bias == (6 * layer.units,):
        return convert_cudnn_gru_weights(weights)
    return weights


def _set_weights(layer, entry, weights):
    expected = _expected_weight_count(layer)
    weights = list(weights or [])
    cls = getattr(layer, "class_name", type(layer).__name__)
    if len(weights) != expected:
        raise LoadError(f"layer {layer.name!r} ({cls}): expected {expected} weight arrays, "
                        f"found {len(weights)} in the file")
    if not expected:
        return
    try:
        if isinstance(layer, Bidirectional):
            n = _expected_weight_count(layer.forward_layer)
            weights = _maybe_cudnn(layer.forward_layer, weights[:n]) + _maybe_cudnn(
                layer.backward_layer, weights[n:])
        else:
            weights = _maybe_cudnn(layer, weights)
        layer.set_weights(weights)
    except ValueError as exc:
        raise LoadError(f"layer {layer.name!r} ({cls}): {exc}") from None


def _input_from_shape(shape, name, dtype="float32", keras_version=3):
    return InputLayer(batch_shape=shape, name=name, dtype=dtype, keras_version=keras_version)


def _sequential(cfg, kv, model_config):
    entries = cfg.get("layers")
    if not isinstance(entries, list) or not entries:
        raise LoadError("Sequential config has no layers")
    entries = list(entries)
    if entries[0].get("class_name") == "InputLayer":
        input_layer = build_layer(entries.pop(0), kv)
    else:
        first = entries[0].get("config", {})
        shape = (cfg.get("build_input_shape") or first.get("batch_input_shape")
                 or first.get("batch_shape"))
        if shape is None and (model_config.get("build_config") or {}).get("input_shape"):
            shape = model_config["build_config"]["input_shape"]
        input_layer = _input_from_shape(shape, "input_layer", keras_version=kv)
    layers = [input_layer]
    nodes = [{"layer": input_layer.name, "args": None, "initial_state": None}]
    for k, entry in enumerate(entries):
        layer = build_layer(entry, kv)
        if k < len(entries) - 1 and n_outputs(layer) > 1:
            raise UnsupportedKerasFeature(
                f"layer {layer.name!r}: a layer with several outputs inside a Sequential "
                f"model must be the last layer")
        layers.append(layer)
        nodes.append({"layer": layer.name, "args": [len(nodes) - 1, 0], "initial_state": None})
    n = n_outputs(layers[-1])
    outputs = [len(nodes) - 1, 0] if n == 1 else [[len(nodes) - 1, t] for t in range(n)]
    return layers, nodes, [[0, 0]], outputs


def _history(t):
    """A serialised tensor -> ``(layer_name, node_index, tensor_index)`` or None."""
    if isinstance(t, dict) and t.get("class_name") == "__keras_tensor__":
        h = t["config"]["keras_history"]
        return (h[0], int(h[1]), int(h[2]))
    if isinstance(t, (list, tuple)) and len(t) >= 3 and isinstance(t[0], str) \
            and isinstance(t[1], int) and isinstance(t[2], int):
        return (t[0], int(t[1]), int(t[2]))
    return None


def _flatten(obj):
    """Nested lists of serialised tensors -> a flat list (``initial_state`` of stacked
    cells nests an LSTM cell's ``[h, c]``)."""
    if isinstance(obj, (list, tuple)) and _history(obj) is None:
        return [t for item in obj for t in _flatten(item)]
    return [obj]


def _tensor_list(obj, what):
    items = _flatten(obj)
    out = []
    for t in items:
        h = _history(t)
        if h is None:
            raise UnsupportedKerasFeature(f"{what}: non-tensor value {t!r} is not supported")
        out.append(h)
    return out


def _is_op(entry):
    """A Keras 3 op recorded in a functional graph (``keras.src.ops...``): mask arithmetic."""
    module = str(entry.get("module") or "")
    if module.startswith(("keras.src.ops", "keras.ops")):
        return True
    # .h5 configs drop "module": a Layer config has "trainable" (except a few layers whose
    # get_config skips the base class, e.g. SpatialDropout1D), an Operation's has not
    config = entry.get("config")
    cls = entry.get("class_name")
    return (not module and isinstance(config, dict) and "trainable" not in config
            and (cls not in BUILDERS or cls == "Concatenate") and cls not in _REFUSED)


def _parse_node(layer, node, name, ops=()):
    """One inbound node -> ``(args, is_list, initial_state, call_mask)`` in histories.

    Keras 3 records an auto-filled ``mask`` call argument as a tensor computed by ops
    (``NotEqual``, ``Any``, ...) from the mask-producing layer; lstm_np propagates masks
    itself, so such a kwarg only says that the layer's call received its input's mask.
    Without it, a Keras 3 call given ``initial_state`` tensors did not receive the mask.
    """
    rnn = isinstance(layer, (RNNLayer, Bidirectional, StackedRNN))
    if isinstance(node, dict):   # Keras 3: {"args": [...], "kwargs": {...}}
        args = node.get("args") or []
        kwargs = dict(node.get("kwargs") or {})
        if len(args) != 1:
            raise UnsupportedKerasFeature(f"layer {name!r}: calls with {len(args)} positional "
                                          f"arguments are not supported")
        first = args[0]
        is_list = isinstance(first, (list, tuple)) and _history(first) is None
        ins = _tensor_list(first, f"layer {name!r} input")
        init = kwargs.pop("initial_state", None)
        init = _tensor_list(init, f"layer {name!r} initial_state") if init is not None else None
        kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        call_mask = init is None
        if mask is not None:
            hs = [_history(m) for m in (mask if isinstance(mask, list) else [mask])]
            if any(h is not None and h[0] not in ops for h in hs):
                raise UnsupportedKerasFeature(
                    f"layer {name!r}: an explicit mask argument from another layer is not "
                    f"supported (only masks produced by Masking / Embedding(mask_zero))")
            call_mask = True
        if kwargs:
            raise UnsupportedKerasFeature(f"layer {name!r}: call arguments {sorted(kwargs)} "
                                          f"are not supported")
        for h in ins + (init or []):
            if h[0] in ops:
                raise UnsupportedKerasFeature(
                    f"layer {name!r}: takes the output of Keras op {h[0]!r}; raw ops in "
                    f"functional graphs are not supported")
        return ins, is_list, init, call_mask
    # Keras 2: [[layer, node, tensor, kwargs], ...]; RNN initial states are appended inputs
    entries = [list(e) for e in _k2_leaves(node)]
    ins, init = [], None
    for e in entries:
        ins.append((e[0], int(e[1]), int(e[2])))
        kw = dict(e[3]) if len(e) > 3 and e[3] else {}
        if kw.get("initial_state") is None:
            kw.pop("initial_state", None)
        else:
            init = _tensor_list(kw.pop("initial_state"), f"layer {name!r} initial_state")
        kw.pop("training", None)
        kw.pop("mask", None)
        if kw.get("constants", 1) is None:
            kw.pop("constants")
        if kw:
            raise UnsupportedKerasFeature(f"layer {name!r}: call arguments {sorted(kw)} are "
                                          f"not supported")
    if rnn and len(ins) > 1:
        ins, init = ins[:1], (init or []) + ins[1:]
    return ins, len(ins) > 1, init, True


def _k2_leaves(node):
    """Keras 2 inbound-node entries, flattened: tensors passed as a nested list (the
    ``[h, c]`` initial state of an LSTM cell in ``StackedRNNCells``) are listed in order."""
    out = []
    for e in node:
        if isinstance(e, (list, tuple)) and e and isinstance(e[0], (list, tuple)):
            out += _k2_leaves(e)
        else:
            out.append(e)
    return out


def _leaf_refs(spec):
    if isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], str):
        return [tuple(spec)]
    return [r for s in spec for r in _leaf_refs(s)]


def _refs_list(spec):
    """``input_layers`` / ``output_layers`` -> (list of histories, structure kind).

    A nested list (the ``[out, [h, c], h]`` outputs of an ``RNN`` over stacked cells) is
    flattened: lstm_np returns such outputs as one flat list.
    """
    if isinstance(spec, dict):
        return [tuple(v) for v in spec.values()], list(spec.keys())
    if isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], str):
        return [tuple(spec)], None
    return _leaf_refs(spec), "list"


def _functional(cfg, kv):
    entries = cfg.get("layers") or []
    ops = {_entry_name(e) for e in entries if _is_op(e)}
    entries = [e for e in entries if not _is_op(e)]
    layers, built = [], {}
    for entry in entries:
        name = _entry_name(entry)
        layer = build_layer(entry, kv)
        if layer.name != name:
            layer.name = name
        layers.append(layer)
        built[name] = (layer, entry)
    nodes, where = [], {}   # where[(layer_name, node_index)] = our node index
    for entry in entries:   # input layers first: they have no inbound nodes
        if entry.get("class_name") == "InputLayer":
            name = _entry_name(entry)
            where[(name, 0)] = len(nodes)
            nodes.append({"layer": name, "args": None, "initial_state": None})
    pending = []
    for entry in entries:
        name = _entry_name(entry)
        if entry.get("class_name") == "InputLayer":
            continue
        for k, node in enumerate(entry.get("inbound_nodes") or []):
            pending.append((name, k) + _parse_node(built[name][0], node, name, ops))
    while pending:
        progress = False
        for item in list(pending):
            name, k, ins, is_list, init, call_mask = item
            needed = ins + (init or [])
            if all((h[0], h[1]) in where for h in needed):
                def ref(h):
                    return [where[(h[0], h[1])], h[2]]
                args = [ref(h) for h in ins] if is_list else ref(ins[0])
                where[(name, k)] = len(nodes)
                nodes.append({"layer": name, "args": args,
                              "initial_state": [ref(h) for h in init] if init else None,
                              "call_mask": call_mask})
                pending.remove(item)
                progress = True
        if not progress:
            missing = sorted({h[0] for it in pending for h in it[2] + (it[4] or [])
                              if (h[0], h[1]) not in where})
            raise LoadError(f"the model graph refers to unknown or cyclic layers {missing}")
    in_refs, _ = _refs_list(cfg.get("input_layers") or [])
    out_refs, kind = _refs_list(cfg.get("output_layers") or [])
    try:
        inputs = [[where[(h[0], int(h[1]))], int(h[2])] for h in in_refs]
        outs = [[where[(h[0], int(h[1]))], int(h[2])] for h in out_refs]
    except KeyError as exc:
        raise LoadError(f"model input/output refers to unknown layer node {exc}") from None
    if kind is None:
        outputs = outs[0]
    elif kind == "list":
        outputs = outs
    else:
        outputs = dict(zip(kind, outs))
    return layers, nodes, inputs, outputs
