"""``Model``: a graph of layers with Keras's ``predict`` semantics.

A model is a list of *nodes* in topological order. Each node calls one layer on tensors
produced by earlier nodes; a tensor is referenced as ``[node_index, tensor_index]``.
Input nodes call an ``InputLayer`` on a model input. Masks travel with the tensors and
follow Keras 3.15 (``Layer.compute_mask`` of each layer). The graph, with every layer's
config, is plain JSON (``get_config()``), which the ``.npz`` format stores.
"""
import os
from contextlib import contextmanager

import numpy as np

from . import gradients
from .errors import ArgumentError, ConfigError, InputError, LstmNpError
from .layers.base import Layer
from .npz_format import save_npz

__all__ = ["Model"]


def is_ref(x):
    """A tensor reference ``[node index, output index]``."""
    return isinstance(x, (list, tuple)) and len(x) == 2 and all(
        isinstance(v, (int, np.integer)) for v in x)


def node_inputs(node, values, masks):
    """The tensors a graph node consumes: ``(x, mask, call_kwargs, mask_in_call)``.

    ``values[k][j]`` / ``masks[k][j]`` hold output ``j`` of node ``k``; ``node["args"]`` is one
    ``[k, j]`` reference or a list of them (merge layers). An explicit ``node["mask"]``
    reference (a ``mask=`` call argument) replaces the input's own mask, both for the call
    and for the output masks (Keras's ``previous_mask``); ``mask_in_call`` false means the
    call does not receive the mask (Keras 3 with ``initial_state`` and no ``mask=``).
    """
    args = node["args"]
    if is_ref(args):
        x, m = values[args[0]][args[1]], masks[args[0]][args[1]]
    else:
        x = [values[r[0]][r[1]] for r in args]
        m = [masks[r[0]][r[1]] for r in args]
    init = node.get("initial_state")
    kwargs = {"initial_state": [values[r[0]][r[1]] for r in init]} if init else {}
    explicit = node.get("mask")
    if explicit is not None:
        return x, values[explicit[0]][explicit[1]], kwargs, True
    return x, m, kwargs, node.get("call_mask", True)


class Model:
    """A Keras model for inference.

    Parameters
    ----------
    layers : list
        Layer objects, each with a unique ``name``.
    nodes : list of dict
        ``{"layer": name, "args": ref | [ref, ...] | None, "initial_state": [ref, ...] | None,
        "mask": ref (optional), "call_mask": bool}`` in topological order; a ref is
        ``[node_index, tensor_index]``. ``mask`` is an explicit ``mask=`` call argument
        (it replaces the input's mask for the call and the output masks); ``call_mask``
        false: the layer's computation does not receive its input's mask, which still
        propagates. Input nodes have ``args=None`` and an ``InputLayer``; Keras 3 ops
        (:class:`~lstm_np.layers.ops.KerasOp`) are nodes too. Layers are called only through
        the layer protocol (:mod:`lstm_np.layers.base`).
    inputs : list of ref
    outputs : ref, list of refs or dict of refs (Keras's output structure)
    name : str
    keras_version : {2, 3}
        The Keras whose semantics apply (which Keras wrote the model).
    sequential : bool
        Only changes ``summary()`` (a Sequential hides its input layer).
    """

    def __init__(self, layers, nodes, inputs, outputs, name="model", keras_version=3,
                 sequential=False):
        for what, value in (("layers", layers), ("nodes", nodes), ("inputs", inputs)):
            if not isinstance(value, (list, tuple)):
                raise ArgumentError(f"Model: {what} must be a list; received "
                                    f"{type(value).__name__}")
        if not all(isinstance(n, dict) for n in nodes):
            raise ArgumentError("Model: nodes must be dicts {'layer', 'args', ...}")
        if not all(isinstance(la, Layer) and isinstance(la.name, str) for la in layers):
            raise ArgumentError("Model: every layer must be an lstm_np layer with a name")
        self.layers = list(layers)
        self._by_name = {}
        for layer in self.layers:
            if layer.name in self._by_name:
                raise ConfigError(f"two layers are named {layer.name!r}")
            self._by_name[layer.name] = layer
        self.nodes = [dict(n) for n in nodes]
        for k, node in enumerate(self.nodes):
            if not isinstance(node.get("layer"), str) or node["layer"] not in self._by_name:
                raise ConfigError(f"node {k} calls unknown layer {node.get('layer')!r}")
            for ref in self._refs(node):
                self._check_ref(ref, k, f"node {k} ({node['layer']})")
            layer = self._by_name[node["layer"]]
            if node.get("mask") is not None and not layer.call_takes_mask:
                raise ConfigError(f"node {k}: {layer.label} does not take a mask argument")
            if node.get("initial_state") and "initial_state" not in layer.call_kwargs:
                raise ConfigError(f"node {k}: {layer.label} does not take initial_state")
        self.inputs = [list(r) for r in inputs]
        self.outputs = outputs
        for ref in self.inputs + self._output_refs():
            self._check_ref(ref, len(self.nodes), "model input/output")
        fed = {r[0] for r in self.inputs}
        for k, node in enumerate(self.nodes):
            if node.get("args") is None and k not in fed:
                raise ConfigError(f"input node {node['layer']!r} is not a model input")
        self.name = name
        self.keras_version = int(keras_version)
        self.sequential = bool(sequential)
        self.input_names = [self.nodes[r[0]]["layer"] for r in self.inputs]

    def _check_ref(self, ref, limit, what):
        """A tensor reference ``[node < limit, output index of that node's layer]``."""
        ok = (isinstance(ref, (list, tuple)) and len(ref) == 2
              and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ref)
              and 0 <= ref[0] < limit)
        if ok:
            ok = 0 <= ref[1] < self._by_name[self.nodes[ref[0]]["layer"]].n_outputs
        if not ok:
            raise ConfigError(f"{what} uses tensor {ref!r} that is not computed before it")

    @staticmethod
    def arg_refs(node):
        """``(refs, is_list)``: a node's input references, and whether its layer receives a
        list (merge layers, ops) rather than one tensor; ``([], False)`` for input nodes."""
        args = node.get("args")
        if args is None:
            return [], False
        return ([args], False) if is_ref(args) else (list(args), True)

    @staticmethod
    def _refs(node):
        args = node.get("args")
        refs = []
        if args is not None:
            refs += [args] if is_ref(args) or not isinstance(args, (list, tuple)) else list(args)
        init = node.get("initial_state") or []
        refs += list(init) if isinstance(init, (list, tuple)) else [init]
        if node.get("mask") is not None:
            refs.append(node["mask"])
        return refs

    def get_layer(self, name):
        """The layer called ``name`` (Keras ``Model.get_layer``)."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise ConfigError(f"no layer named {name!r}; the model's layers are "
                              f"{list(self._by_name)}") from None

    def _output_refs(self):
        out = self.outputs
        if isinstance(out, dict):
            return list(out.values())
        return [out] if is_ref(out) else list(out)

    # ---------------------------------------------------------------- running
    def _standardize(self, x):
        names = self.input_names
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise InputError(f"predict: missing input(s) {missing}; the model's inputs "
                                 f"are {names}")
            xs = [x[n] for n in names]
        elif isinstance(x, (list, tuple)) and len(names) > 1:
            xs = list(x)
        elif isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
            xs = [x[0]]
        else:
            xs = [x]
        if len(xs) != len(names):
            raise InputError(f"predict: the model has {len(names)} input(s) {names}; "
                             f"received {len(xs)}")
        out = []
        for k, v in enumerate(xs):
            try:
                v = np.asarray(v)
            except (ValueError, TypeError) as exc:   # ragged nested lists
                raise InputError(f"predict: input {names[k]!r} is not an array ({exc})") from None
            if v.dtype == object or v.dtype.kind not in "biuf":
                raise InputError(f"predict: input {names[k]!r} must be numeric; received "
                                 f"dtype {v.dtype}")
            shape = self._input_shape(k)
            if shape is not None and (v.ndim != len(shape) or any(
                    d is not None and d != s for d, s in zip(shape[1:], v.shape[1:]))):
                raise InputError(f"predict: input {names[k]!r} must have shape {shape} "
                                 f"(None = any); received {v.shape}")
            out.append(v)
        if any(v.ndim == 0 for v in out):
            raise InputError(f"predict: inputs must have a batch dimension; received shapes "
                             f"{[v.shape for v in out]}")
        if len({v.shape[0] for v in out}) != 1:
            raise InputError("predict: all inputs must have the same number of samples; "
                             f"received {[v.shape[0] for v in out]}")
        return out

    def _input_shape(self, k):
        return self.get_layer(self.input_names[k]).batch_shape

    def _run(self, xs, keep=False):
        """Run the graph on standardized inputs: per node, the lists of its output values,
        masks and (with ``keep``, for :mod:`lstm_np.gradients`) its layer's tape cache."""
        values, masks, caches = [], [], []
        input_of = {r[0]: xs[k] for k, r in enumerate(self.inputs)}
        for k, node in enumerate(self.nodes):
            layer = self._by_name[node["layer"]]
            if node.get("args") is None:
                if k not in input_of:
                    raise ConfigError(f"input node {node['layer']!r} is not a model input")
                x, mask, kwargs, in_call = input_of[k], None, {}, True
            else:
                x, mask, kwargs, in_call = node_inputs(node, values, masks)
            try:
                outs, ms, cache = layer.apply(x, mask, mask_in_call=in_call, keep=keep,
                                              **kwargs)
            except LstmNpError:
                raise
            except (ValueError, TypeError, IndexError) as exc:   # shapes that do not fit
                raise InputError(str(exc)) from exc
            values.append(outs)
            masks.append(ms)
            caches.append(cache)
        return values, masks, caches

    def _outputs(self, xs):
        values, _, _ = self._run(xs)
        return [values[r[0]][r[1]] for r in self._output_refs()]

    def __call__(self, x, training=None, mask=None, **kwargs):
        """Run the model on one batch (no batching): Keras ``model(x)``."""
        _no_kwargs("Model.__call__", kwargs, "x, training=None")
        if training:
            raise ArgumentError("Model.__call__: training=True is not supported (inference only)")
        if mask is not None:
            raise ArgumentError("Model.__call__: mask= is not supported; feed the mask as a "
                                "model input")
        return self._structure(self._outputs(self._standardize(x)))

    def predict(self, x, batch_size=None, verbose=0, **kwargs):
        """Keras ``Model.predict``: runs batches of ``batch_size`` (default 32) in order.

        Returns one array, or a list (a dict for dict outputs) as Keras does. Stateful
        layers carry their states across batches and calls; see :meth:`reset_states`.
        An empty batch returns empty outputs of the right shape. Bad inputs raise
        :class:`~lstm_np.errors.InputError` (a ``ValueError``) naming expected and received.

        Thread safety: a stateless model may be shared by threads (predict only reads the
        weights). A stateful model is not thread-safe (its states are shared): use one
        model per thread.
        """
        _no_kwargs("predict", kwargs, "x, batch_size=None, verbose=0")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise InputError(f"predict: batch_size must be positive (an integer >= 1); received "
                             f"{batch_size!r}")
        xs = self._standardize(x)
        n = xs[0].shape[0]
        if n == 0:
            return self._structure(self._empty_outputs(xs))
        bs = 32 if batch_size is None else int(batch_size)
        chunks = []
        for s in range(0, n, bs):
            try:
                chunks.append(self._outputs([v[s:s + bs] for v in xs]))
            except InputError as exc:
                if n <= bs:
                    raise
                shapes = ", ".join(str(v.shape) for v in xs)
                raise InputError(f"{exc} (in samples {s}:{min(s + bs, n)} of the input of "
                                 f"shape {shapes}, run in batches of {bs})") from None
        outs = [np.concatenate([c[k] for c in chunks], axis=0) if len(chunks) > 1
                else chunks[0][k] for k in range(len(chunks[0]))]
        return self._structure(outs)

    def _empty_outputs(self, xs):
        """Outputs for a batch of 0: run one zero sample (states restored), keep 0 rows."""
        with self.preserved_states():
            outs = self._outputs([np.zeros((1,) + v.shape[1:], v.dtype) for v in xs])
        return [np.asarray(o)[:0] for o in outs]

    @contextmanager
    def preserved_states(self):
        """Run something that must leave every layer's (and sublayer's) states as they were."""
        saved = [(la, None if la.states is None else np.copy(la.states))
                 for top in self.layers for la in top.flatten_layers()]
        try:
            yield
        finally:
            for la, states in saved:
                la.states = states

    def _structure(self, outs):
        outs = [np.asarray(o) for o in outs]
        if isinstance(self.outputs, dict):
            return dict(zip(self.outputs, outs))
        return outs[0] if len(outs) == 1 else outs

    def reset_states(self):
        """Zero the states of every stateful layer."""
        for layer in self.layers:
            if layer.stateful:
                layer.reset_states()

    # -------------------------------------------------------------- weights, io
    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_config(self):
        """The graph as JSON-compatible data (what the ``.npz`` format stores)."""
        return {
            "name": self.name, "keras_version": self.keras_version,
            "sequential": self.sequential,
            "layers": [la.serialize() for la in self.layers],
            "nodes": self.nodes, "inputs": self.inputs, "outputs": self.outputs,
        }

    def save(self, path):
        """Save to lstm_np's portable ``.npz`` format (read back with ``lstm_np.load``)."""
        if not isinstance(path, (str, bytes, os.PathLike)) and not hasattr(path, "write"):
            raise ArgumentError(f"save expects a path or a binary file object; received "
                                f"{type(path).__name__}")
        save_npz(self, path)

    # ---------------------------------------------------------------- shapes
    @property
    def input_shape(self):
        """Keras ``model.input_shape``: a shape tuple, or a list for several inputs."""
        shapes = [self.get_layer(n).batch_shape for n in self.input_names]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        """Keras ``model.output_shape``: a shape tuple (``None`` for unknown dimensions),
        or a list (a dict for dict outputs) for several outputs."""
        shapes = self.node_output_shapes()
        outs = [shapes[r[0]][r[1]] for r in self._output_refs()]
        if isinstance(self.outputs, dict):
            return dict(zip(self.outputs, outs))
        return outs[0] if is_ref(self.outputs) else outs

    @property
    def output_names(self):
        """Keras ``model.output_names``: the layer producing each output (dict keys for
        dict outputs)."""
        if isinstance(self.outputs, dict):
            return list(self.outputs)
        return [self.nodes[r[0]]["layer"] for r in self._output_refs()]

    def output_shapes(self):
        """Per graph node, the list of its output shapes (kept for compatibility; the
        Keras-style :attr:`output_shape` gives the model's outputs)."""
        return self.node_output_shapes()

    def node_output_shapes(self):
        """Per node, the list of output shapes (``None`` for unknown dimensions)."""
        shapes = []
        for node in self.nodes:
            layer = self._by_name[node["layer"]]
            args = node.get("args")
            if args is None:
                shapes.append(layer.output_shapes(None))
                continue
            if is_ref(args):
                s = shapes[args[0]][args[1]]
            else:
                s = [shapes[r[0]][r[1]] for r in args]
            try:
                shapes.append(layer.output_shapes(s))
            except Exception:   # unknown rank: summary shows '?'
                shapes.append([None] * layer.n_outputs)
        return shapes

    def summary(self, print_fn=print, line_length=None):
        """Print layers, output shapes and parameter counts, as Keras's ``summary()``."""
        shapes = self.node_output_shapes()
        first_node, local = {}, []   # local[k]: index of node k among its layer's nodes
        counts = {}
        for k, node in enumerate(self.nodes):
            first_node.setdefault(node["layer"], k)
            local.append(counts.get(node["layer"], 0))
            counts[node["layer"]] = local[-1] + 1
        rows = []
        for layer in self._summary_layers():
            k = first_node.get(layer.name)
            out = shapes[k] if k is not None else [None]
            text = ", ".join("?" if s is None else _fmt_shape(s) for s in out)
            if len(out) > 1:
                text = f"[{text}]"
            row = [f"{layer.name} ({layer.class_name})", text, f"{layer.count_params():,}"]
            if not self.sequential:
                node = self.nodes[k] if k is not None else {}
                srcs = self._refs(node) if k is not None else []
                mask = node.get("mask")

                def src(r):
                    tag = "mask=" if mask is not None and r is mask else ""
                    return f"{tag}{self.nodes[r[0]]['layer']}[{local[r[0]]}][{r[1]}]"
                row.append(", ".join(src(r) for r in srcs))
            rows.append(row)
        head = ["Layer (type)", "Output Shape", "Param #"] + ([] if self.sequential
                                                              else ["Connected to"])
        widths = [max(len(r[i]) for r in rows + [head]) + 3 for i in range(len(head))]
        total = sum(widths)
        if line_length:
            total = max(total, int(line_length))

        def line(cells):
            return "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        n = self.count_params()
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * total)
        print_fn(line(head))
        print_fn("=" * total)
        for i, r in enumerate(rows):
            print_fn(line(r))
            print_fn(("_" if i < len(rows) - 1 else "=") * total)
        print_fn(f"Total params: {n:,}")
        print_fn(f"Trainable params: {n:,}")
        print_fn("Non-trainable params: 0")
        print_fn("_" * total)

    def _summary_layers(self):
        """The layers ``summary()`` lists: all but a Sequential's input layer (Keras 3 also
        lists the ops of a functional graph; ``model.layers`` in Keras omits them)."""
        inputs = set(self.input_names) if self.sequential else set()
        return [la for la in self.layers if la.name not in inputs]

    def __repr__(self):
        shown = self._summary_layers()
        ops = sum(la.is_op for la in shown)
        extra = f" and {ops} op{'s' if ops != 1 else ''}" if ops else ""
        n = len(shown) - ops
        return f"<lstm_np.Model {self.name!r}: {n} layer{'s' if n != 1 else ''}{extra}>"

    # -------------------------------------------------------------- gradients
    def gradients(self, x, d_outputs):
        """Gradients of ``loss = sum(outputs * d_outputs)`` (one batch, inference mode).

        ``d_outputs`` has the outputs' structure (an array, a list, or a dict for dict
        outputs; ``None`` entries mean zeros). Returns a dict: ``"inputs"`` (x's structure;
        ``None`` for integer inputs such as Embedding ids), ``"weights"`` (aligned with
        :meth:`get_weights`), ``"layers"`` (``{name: [arrays as layer.get_weights()]}``)
        and ``"outputs"`` (as :meth:`__call__`). Supported layers and semantics:
        :mod:`lstm_np.gradients`; any other layer raises ``NotImplementedError``.
        """
        return gradients.model_gradients(self, x, d_outputs)

    def input_gradients(self, x, output_index=0, class_index=None):
        """Saliency: ``d output[..., class] / d input`` per sample.

        ``class_index`` None takes each sample's argmax; an int or a (B,) array picks the
        class. A sequence output (B, T, C) is read at its last timestep. Returns x's
        structure (``None`` for integer inputs).
        """
        return gradients.input_gradients(self, x, output_index, class_index)


def _no_kwargs(what, kwargs, accepted):
    if kwargs:
        raise ArgumentError(f"{what}: unknown keyword argument(s) {sorted(kwargs)}; it takes "
                            f"({accepted})")


def _fmt_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"

