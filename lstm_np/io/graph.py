"""Keras model config (Sequential or Functional, Keras 2 or 3 node format) -> ``Model``.

Shared by every route. ``weights_of(name, entry, index)`` is supplied by the route and
returns the layer's weight arrays in Keras ``get_weights()`` order.
"""
from ..errors import LoadError, UnsupportedKerasFeature
from ..layers import InputLayer, KerasOp
from ..model import Model
from .registry import REFUSED, build_layer

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
    entries = [e for e in cfg["layers"] if not _is_op(e, keras_version)]
    keras_layers = [la for la in layers if not la.is_op]
    for index, (layer, entry) in enumerate(zip(keras_layers, entries_for(keras_layers, entries))):
        _set_weights(layer, entry, weights_of(layer.name, entry, index))
    return Model(layers, nodes, inputs, outputs, name=cfg.get("name", "model"),
                 keras_version=keras_version, sequential=sequential)


def entries_for(layers, entries):
    by_name = {_entry_name(e): e for e in entries}
    return [by_name.get(layer.name, {"class_name": "InputLayer", "config": {}})
            for layer in layers]


def _entry_name(entry):
    return entry.get("name") or (entry.get("config") or {}).get("name")


def _set_weights(layer, entry, weights):
    expected = layer.n_weights
    weights = list(weights or [])
    if len(weights) != expected:
        raise LoadError(f"layer {layer.name!r} ({layer.class_name}): expected {expected} "
                        f"weight arrays, found {len(weights)} in the file")
    if not expected:
        return
    try:
        layer.set_weights(layer.preprocess_weights_for_loading(weights))
    except ValueError as exc:
        raise LoadError(f"layer {layer.name!r} ({layer.class_name}): {exc}") from None


def _input_from_shape(shape, name, dtype="float32", keras_version=3):
    return InputLayer(batch_shape=shape, name=name, dtype=dtype, keras_version=keras_version)


def _declared_input(config):
    """``(batch_shape, dtype)`` a first layer's config declares, or ``(None, None)``.

    tf-keras ``Layer.__init__``: ``batch_input_shape``, else ``(batch_size,) + input_shape``,
    else ``(None, input_dim)``; the input dtype is ``input_dtype`` or the layer's dtype
    (``training_utils.get_input_shape_and_dtype``). A wrapper (``Bidirectional``,
    ``TimeDistributed``) may carry them itself or on its wrapped layer.
    """
    if not isinstance(config, dict):
        return None, None
    shape = config.get("batch_input_shape") or config.get("batch_shape")
    if shape is None and isinstance(config.get("input_shape"), (list, tuple)):
        shape = [config.get("batch_size")] + list(config["input_shape"])
    if shape is None and config.get("input_dim") is not None:
        shape = [None, config["input_dim"]]
    if shape is None:
        inner = config.get("layer")
        if isinstance(inner, dict):
            return _declared_input(inner.get("config"))
        return None, None
    dtype = config.get("input_dtype") or config.get("dtype") or "float32"
    if isinstance(dtype, dict):   # a Keras 3 DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    if str(dtype).startswith("mixed_"):
        dtype = "float32"   # the policy's variable dtype, which tf-keras gives the input
    return shape, dtype


def _sequential(cfg, kv, model_config):
    entries = cfg.get("layers")
    if not isinstance(entries, list) or not entries:
        raise LoadError("Sequential config has no layers")
    entries = list(entries)
    if entries[0].get("class_name") == "InputLayer":
        input_layer = build_layer(entries.pop(0), kv)
    else:
        first = entries[0].get("config", {})
        shape, dtype = cfg.get("build_input_shape"), None
        if shape is None:
            shape, dtype = _declared_input(first)
        if shape is None and (model_config.get("build_config") or {}).get("input_shape"):
            shape = model_config["build_config"]["input_shape"]
        name = f"{first.get('name', 'layer')}_input" if kv == 2 else "input_layer"
        input_layer = _input_from_shape(shape, name, dtype or "float32", keras_version=kv)
    layers = [input_layer]
    nodes = [{"layer": input_layer.name, "args": None, "initial_state": None}]
    for k, entry in enumerate(entries):
        layer = build_layer(entry, kv)
        if k < len(entries) - 1 and layer.n_outputs > 1:
            raise UnsupportedKerasFeature(
                f"layer {layer.name!r}: a layer with several outputs inside a Sequential "
                f"model must be the last layer")
        layers.append(layer)
        nodes.append({"layer": layer.name, "args": [len(nodes) - 1, 0], "initial_state": None})
    n = layers[-1].n_outputs
    outputs = [len(nodes) - 1, 0] if n == 1 else [[len(nodes) - 1, t] for t in range(n)]
    return layers, nodes, [[0, 0]], outputs


def _history(t):
    """A serialised tensor -> ``(layer_name, node_index, tensor_index)`` or None."""
    if isinstance(t, dict) and t.get("class_name") == "__keras_tensor__":
        h = (t.get("config") or {}).get("keras_history")
        if not (isinstance(h, (list, tuple)) and len(h) == 3 and isinstance(h[0], str)):
            raise LoadError(f"malformed tensor reference {t!r}")
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


#: Modules of Keras 3 operations (not layers) recorded in functional graphs.
_OP_MODULES = ("keras.src.ops", "keras.ops", "keras.src.activations", "keras.activations")


#: Keras 3 layers whose config has no "trainable" (their get_config skips the base class).
_NO_TRAINABLE = ("InputLayer", "SpatialDropout1D")


def _is_op(entry, kv=3):
    """A Keras 3 op recorded in a functional graph (``keras.src.ops...``, or an activation
    function called on a tensor, ``keras.src.activations``).

    ``.h5`` configs drop "module": there a Keras 3 Layer config has "trainable" (but for
    :data:`_NO_TRAINABLE`), an Operation's has not, whatever its class name (the ``Softmax``
    op of ``keras.activations.softmax(x)`` is not the ``Softmax`` layer: it takes no mask).
    tf-keras graphs hold no ops (TF ops are ``TFOpLambda`` layers).
    """
    module = str(entry.get("module") or "")
    if module.startswith(_OP_MODULES):
        return True
    config = entry.get("config")
    cls = entry.get("class_name")
    return (kv != 2 and not module and isinstance(config, dict) and "trainable" not in config
            and cls not in _NO_TRAINABLE and cls not in REFUSED)


def _template(obj, refs, where):
    """An op's call arguments with every tensor replaced by ``{"__tensor__": i}`` (``i``
    indexes ``refs``, which collects the tensors' histories in order)."""
    h = _history(obj)
    if h is not None:
        refs.append(h)
        return {"__tensor__": len(refs) - 1}
    if isinstance(obj, (list, tuple)):
        return [_template(o, refs, where) for o in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise UnsupportedKerasFeature(f"{where}: argument {obj!r} is not supported (only "
                                  f"tensors and numbers)")


def _build_op(entry, kv):
    """A recorded op -> ``(KerasOp, input histories)``; its one node is ``{"args", "kwargs"}``."""
    name, cls = _entry_name(entry), str(entry.get("class_name"))
    where = f"Keras op {cls} ({name!r})"
    config = entry.get("config")
    nodes = entry.get("inbound_nodes")
    if not isinstance(config, dict) or not isinstance(nodes, list) or len(nodes) != 1 \
            or not isinstance(nodes[0], dict):
        raise LoadError(f"{where}: expected one inbound node {{'args', 'kwargs'}}; found "
                        f"{nodes!r}"[:300])
    refs = []
    args = _template(nodes[0].get("args") or [], refs, where)
    kwargs = nodes[0].get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise LoadError(f"{where}: malformed kwargs {kwargs!r}")
    kwargs = {k: _template(v, refs, where) for k, v in kwargs.items()}
    options = {k: v for k, v in config.items() if k != "name"}
    return KerasOp(cls, options, args, kwargs, name=name, keras_version=kv), refs


def _training(value, name, layer):
    """``training=`` recorded in a call: ``None`` / ``False`` is inference; ``True`` would run
    the layer in training mode inside ``predict`` (dropout, noise), which lstm_np refuses."""
    if value is None or value is False:
        return
    raise UnsupportedKerasFeature(
        f"layer {name!r} ({layer.class_name}): call argument training={value!r} is not "
        f"supported (Keras runs the layer in training mode at inference)")


def _explicit_mask(value, name, layer):
    """The ``mask=`` call argument -> a tensor history, or None."""
    if isinstance(value, (list, tuple)) and _history(value) is None:
        if all(v is None for v in value):
            return None
        raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): a list of masks "
                                      f"as call argument 'mask' is not supported")
    if value is None:
        return None
    h = _history(value)
    if h is None:
        raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): call argument "
                                      f"mask={value!r} is not a tensor; not supported")
    if not layer.call_takes_mask:
        raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): call argument "
                                      f"'mask' is not supported for this layer")
    return h


def _refuse_kwargs(kwargs, name, layer):
    if kwargs:
        raise UnsupportedKerasFeature(
            f"layer {name!r} ({layer.class_name}): call argument(s) {sorted(kwargs)} are "
            f"not supported")


def _parse_node(layer, node, name):
    """One inbound node -> ``{"ins", "is_list", "init", "call_mask", "mask"}`` (histories).

    Every keyword of the call is applied or refused, never dropped:

    * ``mask``: the tensor the layer's call receives (Keras 3 records it also when it
      filled it in itself, ``Layer.__call__`` step 6; tf-keras only when passed). The
      layer's output masks are then ``compute_mask(inputs, mask)``, as both Keras compute
      them from the mask the call received.
    * ``initial_state``: tensors (Keras 2 appends them to the inputs as well).
    * ``training``: ``None`` / ``False``; ``True`` is refused.
    * ``constants`` (Keras 2 RNN): only ``None``.

    Without a recorded mask, a Keras 3 call given ``initial_state`` tensors did not receive
    its input's mask (step 6 fills ``mask`` only for a single tensor argument); the mask
    still propagates to the outputs. tf-keras gives the mask to the call in both cases.
    """
    rnn = "initial_state" in layer.call_kwargs   # Keras RNN calls
    if isinstance(node, dict):   # Keras 3: {"args": [...], "kwargs": {...}}
        args = node.get("args") or []
        kwargs = node.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise LoadError(f"layer {name!r}: malformed inbound node {node!r}"[:300])
        kwargs = dict(kwargs)
        if len(args) != 1:
            raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): calls with "
                                          f"{len(args)} positional arguments are not supported")
        first = args[0]
        is_list = isinstance(first, (list, tuple)) and _history(first) is None
        ins = _tensor_list(first, f"layer {name!r} input")
        init = kwargs.pop("initial_state", None)
        init = _tensor_list(init, f"layer {name!r} initial_state") if init is not None else None
        if init is not None and not rnn:
            raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): call "
                                          f"argument 'initial_state' is not supported")
        _training(kwargs.pop("training", None), name, layer)
        mask = _explicit_mask(kwargs.pop("mask", None), name, layer)
        _refuse_kwargs(kwargs, name, layer)
        return {"ins": ins, "is_list": is_list, "init": init,
                "call_mask": init is None or mask is not None, "mask": mask}
    # Keras 2: [[layer, node, tensor, kwargs], ...]; RNN initial states are appended inputs,
    # and the call's keyword arguments are repeated on every entry of the first argument
    if not isinstance(node, (list, tuple)):
        raise LoadError(f"layer {name!r}: malformed inbound node {node!r}"[:300])
    entries = [list(e) for e in _k2_leaves(node)]
    ins, init, masks = [], None, []
    for e in entries:
        if len(e) < 3 or not isinstance(e[0], str):
            raise LoadError(f"layer {name!r}: malformed inbound node entry {e!r}"[:300])
        ins.append((e[0], int(e[1]), int(e[2])))
        kw = e[3] if len(e) > 3 and e[3] else {}
        if not isinstance(kw, dict):
            raise LoadError(f"layer {name!r}: malformed call arguments {kw!r}"[:300])
        kw = dict(kw)
        if kw.get("initial_state") is not None:
            init = _tensor_list(kw.pop("initial_state"), f"layer {name!r} initial_state")
        kw.pop("initial_state", None)
        _training(kw.pop("training", None), name, layer)
        masks.append(_explicit_mask(kw.pop("mask", None), name, layer))
        if kw.get("constants", 1) is None:
            kw.pop("constants")
        _refuse_kwargs(kw, name, layer)
    if len(set(masks)) > 1:
        raise LoadError(f"layer {name!r}: inconsistent mask arguments {masks}")
    if rnn and len(ins) > 1:
        ins, init = ins[:1], (init or []) + ins[1:]
    elif init is not None and not rnn:
        raise UnsupportedKerasFeature(f"layer {name!r} ({layer.class_name}): call argument "
                                      f"'initial_state' is not supported")
    return {"ins": ins, "is_list": len(ins) > 1, "init": init, "call_mask": True,
            "mask": masks[0] if masks else None}


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
    layers, pending = [], []
    for entry in entries:
        name = _entry_name(entry)
        if _is_op(entry, kv):
            layer, refs = _build_op(entry, kv)
            pending.append((name, 0, {"ins": refs, "is_list": True, "init": None,
                                      "call_mask": True, "mask": None}))
        else:
            layer = build_layer(entry, kv)
            if entry.get("class_name") != "InputLayer":
                for k, node in enumerate(entry.get("inbound_nodes") or []):
                    pending.append((name, k, _parse_node(layer, node, name)))
        if layer.name != name:
            layer.name = name
        layers.append(layer)
    nodes, where = [], {}   # where[(layer_name, node_index)] = our node index
    for entry in entries:   # input layers first: they have no inbound nodes
        if entry.get("class_name") == "InputLayer":
            name = _entry_name(entry)
            where[(name, 0)] = len(nodes)
            nodes.append({"layer": name, "args": None, "initial_state": None})

    def needs(p):
        return p["ins"] + (p["init"] or []) + ([p["mask"]] if p["mask"] else [])

    while pending:
        progress = False
        for item in list(pending):
            name, k, p = item
            if all((h[0], h[1]) in where for h in needs(p)):
                def ref(h):
                    return [where[(h[0], h[1])], h[2]]
                node = {"layer": name,
                        "args": [ref(h) for h in p["ins"]] if p["is_list"] else ref(p["ins"][0]),
                        "initial_state": [ref(h) for h in p["init"]] if p["init"] else None,
                        "call_mask": p["call_mask"]}
                if p["mask"]:
                    node["mask"] = ref(p["mask"])
                where[(name, k)] = len(nodes)
                nodes.append(node)
                pending.remove(item)
                progress = True
        if not progress:
            missing = sorted({h[0] for it in pending for h in needs(it[2])
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
