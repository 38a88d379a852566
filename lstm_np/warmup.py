"""``warmup``: compile (or load from the cache) every kernel a model needs, ahead of time.

For container images and serverless functions: run it once at build time with the cache
where the deployed code will look for it (``cache_dir``, or ``NUMBA_CACHE_DIR``), so that
the first prediction in production loads compiled code instead of compiling. numba keys
its cache by CPU: on a machine whose CPU differs from the build machine's the kernels are
compiled again there (once), never run with the wrong instructions.
"""
import time

import numpy as np

from . import _jit
from .errors import ArgumentError, MissingDependency

__all__ = ["warmup", "WarmupReport"]


class WarmupReport(list):
    """``[(kernel, seconds, from_cache), ...]`` with a readable ``str``."""

    def __str__(self):
        lines = [f"{what:<40} {sec:7.2f} s  {'cache' if cached else 'compiled'}"
                 for what, sec, cached in self]
        total = sum(sec for _, sec, _ in self)
        lines.append(f"{len(self)} kernels in {total:.2f} s (cache: {_jit.cache_dir()})")
        return "\n".join(lines)


def _layers(model):
    """Every layer of ``model``, wrappers' inner layers included."""
    seen, stack = [], list(model.layers)
    while stack:
        layer = stack.pop(0)
        seen.append(layer)
        for attr in ("forward_layer", "backward_layer", "layer"):
            inner = getattr(layer, attr, None)
            if inner is not None and hasattr(inner, "name"):
                stack.append(inner)
        stack.extend(getattr(layer, "cells", ()))
    return seen


def _all_configurations():
    """Layers standing for every kernel lstm_np has (each cell family, both dtypes, the
    default and the general activations; Dense linear, softmax and other)."""
    from .layers import GRU, LSTM, SimpleRNN
    from .layers.core import Dense
    out = []
    for dtype in ("float32", "float64"):
        for act, rec in (("tanh", "sigmoid"), ("relu", "hard_sigmoid")):
            for cls, kw in ((LSTM, {}), (GRU, {}), (GRU, {"reset_after": False}),
                            (SimpleRNN, {})):
                g = 4 if cls is LSTM else (3 if cls is GRU else 1)
                extra = {} if cls is SimpleRNN else {"recurrent_activation": rec}
                layer = cls(16, activation=act, dtype=dtype, **extra, **kw)
                bias = (2, 3 * 16) if cls is GRU and kw.get("reset_after", True) else (g * 16,)
                layer.set_weights([np.zeros((4, g * 16)), np.zeros((16, g * 16)),
                                   np.zeros(bias)])
                out.append(layer)
        for act in ("linear", "softmax", "relu"):
            d = Dense(8, activation=act, dtype=dtype)
            d.set_weights([np.zeros((4, 8)), np.zeros(8)])
            out.append(d)
    return out


def warmup(model=None, cache_dir=None, gradients=False):
    """Compile every kernel ``model`` uses (a :class:`~lstm_np.Model`, a path, or a list of
    them; ``None``: every supported configuration) and return a :class:`WarmupReport`.

    ``cache_dir`` sets where compiled kernels are stored (before numba is loaded; see
    :func:`lstm_np._jit.use_cache_dir`). ``gradients=True`` also compiles what
    ``Model.gradients`` / ``input_gradients`` run (one tiny gradient call per model).
    """
    if not _jit.HAVE_NUMBA:
        raise MissingDependency("warmup needs numba (pip install numba); without it lstm_np "
                                "runs on NumPy and has nothing to compile")
    if _jit.mode() == "off":
        raise ArgumentError("warmup: the JIT is disabled (LSTM_NP_DISABLE_JIT / LSTM_NP_JIT)")
    if cache_dir is not None:
        _jit.use_cache_dir(cache_dir)
    from .io import load
    if model is None:
        models, layers = [], _all_configurations()
    else:
        models = [load(m) if not hasattr(m, "layers") else m
                  for m in (model if isinstance(model, (list, tuple)) else [model])]
        layers = [la for m in models for la in _layers(m)]
    report = WarmupReport()
    done = set()
    for layer in layers:
        compute = getattr(layer, "compute", None)
        if compute is None or not callable(compute):
            continue
        c = compute()
        if c is None:
            continue
        for unit, example in c.units():
            key = (id(unit), _jit._key_types(example))
            if key in done:
                continue
            done.add(key)
            seconds, cached = _jit.compile_now(unit, example)
            report.append((unit.what, seconds, cached))
    if gradients:
        previous = _jit.mode()
        _jit.set_mode("eager")
        try:
            for m in models:
                t0 = time.perf_counter()
                from .verify import make_inputs
                xs = make_inputs(m, samples=1, seed=0)
                m.input_gradients(xs[0] if len(xs) == 1 else xs)
                report.append((f"gradients of {m.name!r}", time.perf_counter() - t0, False))
        finally:
            _jit.set_mode(previous)
    return report
