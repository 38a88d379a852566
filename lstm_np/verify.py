"""``verify``: compare a Keras model with its lstm_np conversion on the same inputs.

Keras is imported only when :func:`verify` runs (never at ``import lstm_np``).
"""
import json
import os

import numpy as np

from .errors import InputError, LoadError, MissingDependency

__all__ = ["verify", "VerifyReport", "OutputCheck", "make_inputs", "TOLERANCES"]

# Documented tolerance: |ours - keras| <= atol + rtol * |keras| elementwise.
TOLERANCES = {"float32": (1e-5, 1e-5), "float64": (1e-12, 1e-12)}


def _tolerance_for(dtype):
    return TOLERANCES["float64" if np.dtype(dtype) == np.float64 else "float32"]


class OutputCheck:
    """Comparison of one model output."""

    def __init__(self, name, ours, theirs, tolerance=None):
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        self.name = name
        self.shape = tuple(theirs.shape)
        self.dtype = np.dtype(theirs.dtype).name
        if ours.shape != theirs.shape:
            raise InputError(f"output {name!r}: lstm_np shape {ours.shape} != Keras shape "
                             f"{theirs.shape}")
        atol, rtol = _tolerance_for(theirs.dtype) if tolerance is None else (
            (tolerance, tolerance) if np.isscalar(tolerance) else tuple(tolerance))
        self.atol, self.rtol = float(atol), float(rtol)
        a, b = ours.astype(np.float64), theirs.astype(np.float64)
        diff = np.abs(a - b)
        self.max_abs_error = float(diff.max()) if diff.size else 0.0
        # Relative error where it means something: values at or below atol (e.g. underflowed
        # softmax probabilities) are covered by the absolute error instead.
        big = np.abs(b) > self.atol
        rel = np.where(big, diff / np.where(big, np.abs(b), 1.0), 0.0)
        self.max_rel_error = float(rel.max()) if rel.size else 0.0
        self.worst_timestep = None
        self.error_per_timestep = None
        if b.ndim == 3 and diff.size:
            per_t = diff.max(axis=(0, 2))
            self.error_per_timestep = per_t.tolist()
            self.worst_timestep = int(np.argmax(per_t))
        self.argmax_agreement = None
        if b.size and b.shape[-1] > 1 and np.all(b >= 0) and np.allclose(
                b.sum(axis=-1), 1.0, atol=1e-3):
            self.argmax_agreement = float(np.mean(a.argmax(-1) == b.argmax(-1)))
        excess = diff - (self.atol + self.rtol * np.abs(b))
        self.ok = bool(diff.size == 0 or (np.all(np.isfinite(a) == np.isfinite(b))
                                          and np.nanmax(excess) <= 0))

    def to_dict(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error,
                "worst_timestep": self.worst_timestep,
                "error_per_timestep": self.error_per_timestep,
                "argmax_agreement": self.argmax_agreement,
                "atol": self.atol, "rtol": self.rtol, "ok": self.ok}


class VerifyReport:
    """Result of :func:`verify`: one :class:`OutputCheck` per model output.

    ``inputs``, ``keras_outputs`` and ``lstm_np_outputs`` keep the arrays compared
    (lists, in the model's output order) for plotting or inspection.
    """

    def __init__(self, model_name, checks, samples, inputs, keras_outputs, lstm_np_outputs):
        self.model_name = model_name
        self.checks = list(checks)
        self.samples = int(samples)
        self.inputs = inputs
        self.keras_outputs = keras_outputs
        self.lstm_np_outputs = lstm_np_outputs

    @property
    def ok(self):
        return all(c.ok for c in self.checks)

    def to_dict(self):
        return {"model": self.model_name, "samples": self.samples, "ok": self.ok,
                "outputs": [c.to_dict() for c in self.checks]}

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self):
        head = ["output", "shape", "dtype", "max abs err", "max rel err", "worst t",
                "argmax agree", "tolerance", "result"]
        rows = []
        for c in self.checks:
            rows.append([c.name, "(" + ", ".join(map(str, c.shape)) + ")", c.dtype,
                         f"{c.max_abs_error:.3e}", f"{c.max_rel_error:.3e}",
                         "-" if c.worst_timestep is None else str(c.worst_timestep),
                         "-" if c.argmax_agreement is None else f"{c.argmax_agreement:.1%}",
                         f"{c.atol:g}+{c.rtol:g}*|y|", "PASS" if c.ok else "FAIL"])
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

        def line(cells):
            return "  ".join(s.ljust(w) for s, w in zip(cells, widths)).rstrip()

        out = [f"verify {self.model_name!r}: {self.samples} samples, Keras vs lstm_np",
               line(head), line(["-" * w for w in widths])]
        out += [line(r) for r in rows]
        out.append("OK: all outputs within tolerance" if self.ok else
                   "FAILED: " + ", ".join(c.name for c in self.checks if not c.ok) +
                   " outside tolerance")
        return "\n".join(out)

    def __repr__(self):
        return f"<VerifyReport {self.model_name!r} ok={self.ok} outputs={len(self.checks)}>"


# ------------------------------------------------------------------ inputs
def _consumers(model, node_index):
    """Layers called directly on the tensor of input node ``node_index``."""
    return [model.get_layer(node["layer"]) for node in model.nodes
            if any(r[0] == node_index for r in model.arg_refs(node)[0])]


def _masks(model):
    from .layers import core
    return any(isinstance(la, core.Masking) or getattr(la, "mask_zero", False)
               for la in model.layers)


def make_inputs(model, samples=8, seed=0, timesteps=None, dtype=None):
    """Random inputs that fit the lstm_np ``model``, one array per model input.

    Float inputs get normal floats (float32 unless the model computes in float64);
    inputs feeding an ``Embedding`` get token ids in ``[1, input_dim)``, boolean inputs
    (masks passed as ``mask=``) random masks, 80% true. When the model
    masks (``Masking`` or ``mask_zero``), each sample gets a random pre-padded run of zero
    timesteps. Unknown time dimensions become ``timesteps`` (default 10).
    """
    from .layers import core
    rng = np.random.default_rng(seed)
    masks = _masks(model)
    if dtype is None:
        dtype = np.float64 if any(getattr(la, "dtype", None) == np.float64
                                  for la in model.layers
                                  if not isinstance(la, core.InputLayer)) else np.float32
    xs = []
    for k, ref in enumerate(model.inputs):
        layer = model.get_layer(model.input_names[k])
        shape = list(layer.batch_shape or (None, None, 1))
        dims = [samples] + [(timesteps or 10) if d is None else int(d) for d in shape[1:]]
        emb = [la for la in _consumers(model, ref[0]) if isinstance(la, core.Embedding)]
        if emb:
            hi = min(la.input_dim for la in emb)
            x = rng.integers(1, max(hi, 2), size=dims)
            x = x.astype(layer.input_dtype if layer.input_dtype.kind in "iu" else np.int32)
        elif layer.input_dtype.kind == "b":   # a mask input: mostly valid steps
            x = rng.random(dims) < 0.8
        else:
            x = rng.normal(size=dims).astype(dtype)
            if layer.input_dtype.kind in "iu":
                x = rng.integers(0, 10, size=dims).astype(layer.input_dtype)
        if masks and x.ndim >= 2 and x.shape[1] > 1:
            for i in range(samples):
                pad = int(rng.integers(0, x.shape[1] // 2 + 1))
                x[i, :pad] = 0
        xs.append(x)
    return xs


def _flat(out):
    if isinstance(out, dict):
        return list(out.keys()), list(out.values())
    if isinstance(out, (list, tuple)):
        return None, list(out)
    return None, [out]


def _import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras
        import tensorflow   # noqa: F401  (the backend the comparison runs on)
    except ImportError as exc:
        raise MissingDependency(f"verify needs TensorFlow and Keras to run the Keras model "
                                f"(pip install 'lstm-np[keras]'); {exc}") from None
    return keras


def _load_keras(path):
    """A ``.keras`` / ``.h5`` file loaded by Keras; its failures are ``LoadError``s."""
    keras = _import_keras()
    if not os.path.isfile(path):
        raise LoadError(f"{path}: no such file")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:   # Keras raises ValueError, OSError, TypeError, ...
        raise LoadError(f"{path}: Keras cannot load it ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:300]})") from None


def verify(keras_model, x=None, samples=8, seed=0, tolerance=None):
    """Run a Keras model and its lstm_np conversion on the same inputs; compare outputs.

    Parameters
    ----------
    keras_model : keras.Model or path
        A live Keras model or a ``.keras`` / ``.h5`` file (loaded with Keras).
    x : array, list or dict of arrays, optional
        Inputs; by default :func:`make_inputs` generates ``samples`` of them with ``seed``.
    tolerance : float or (atol, rtol), optional
        Defaults to the documented float32 ``1e-5`` atol + ``1e-5`` rtol (``1e-12`` for
        float64 outputs).

    Returns
    -------
    VerifyReport
        ``report.ok`` is true when every output is within tolerance; ``print(report)``
        shows a table.
    """
    from .io import from_keras

    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise InputError(f"verify: samples must be a positive integer; received {samples!r}")
    if isinstance(keras_model, (str, os.PathLike)):
        keras_model = _load_keras(os.fspath(keras_model))
    ours = from_keras(keras_model)
    if x is None:
        xs = make_inputs(ours, samples=samples, seed=seed)
        x = xs[0] if len(xs) == 1 else xs
    got = ours.predict(x)   # first: a bad x is an InputError naming expected and received
    xs = ours._standardize(x)
    n = int(xs[0].shape[0])
    theirs = keras_model.predict(x, verbose=0)
    names_t, want = _flat(theirs)
    _, have = _flat(got)
    if names_t is None:
        try:
            names_t = list(keras_model.output_names)
        except Exception:
            names_t = None
        if not names_t or len(names_t) != len(want):
            names_t = [ours.nodes[r[0]]["layer"] for r in ours._output_refs()]
        if len(set(names_t)) != len(want):
            names_t = [f"output_{i}" for i in range(len(want))]
    else:   # dict outputs: ours follow the same keys
        have = [got[k] for k in names_t]
    want = [np.asarray(w) for w in want]
    checks = [OutputCheck(nm, h, w, tolerance) for nm, h, w in zip(names_t, have, want)]
    return VerifyReport(getattr(keras_model, "name", "model"), checks, n, xs, want,
                        [np.asarray(h) for h in have])
