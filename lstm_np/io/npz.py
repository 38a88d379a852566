"""lstm_np's portable format: one ``.npz`` readable with NumPy alone (``allow_pickle=False``).

Contents:

* ``__lstm_np__``: a 0-d unicode array holding JSON
  ``{"format": "lstm_np", "format_version": 1, "model": Model.get_config()}``;
* ``w<layer index>_<k>``: the k-th weight array of layer ``layer index`` (``get_weights()`` order).

``format_version`` is bumped only for incompatible changes; readers accept every version
up to their own (:data:`FORMAT_VERSION`), so files written today stay readable.
"""
import json

import numpy as np

from ..errors import LoadError
from ..model import Model
from .registry import build_layer

__all__ = ["save_npz", "load_npz", "FORMAT_VERSION", "HEADER_KEY"]

FORMAT_VERSION = 1
HEADER_KEY = "__lstm_np__"


def save_npz(model, path):
    """Write ``model`` to ``path`` (``.npz`` is appended by NumPy when missing)."""
    header = {"format": "lstm_np", "format_version": FORMAT_VERSION,
              "model": model.get_config()}
    arrays = {HEADER_KEY: np.array(json.dumps(header))}
    for i, layer in enumerate(model.layers):
        for k, w in enumerate(layer.get_weights()):
            arrays[f"w{i}_{k}"] = np.asarray(w)
    np.savez(path, **arrays)


def load_npz(path_or_file):
    """Read a file written by :func:`save_npz`."""
    try:
        data = np.load(path_or_file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise LoadError(f"{path_or_file}: not a readable .npz file ({exc})") from None
    with data:
        if HEADER_KEY not in data.files:
            raise LoadError(f"{path_or_file}: not an lstm_np model file (no {HEADER_KEY} entry)")
        try:
            header = json.loads(str(data[HEADER_KEY]))
        except ValueError as exc:
            raise LoadError(f"{path_or_file}: malformed header ({exc})") from None
        version = header.get("format_version")
        if header.get("format") != "lstm_np" or not isinstance(version, int):
            raise LoadError(f"{path_or_file}: not an lstm_np model file")
        if version > FORMAT_VERSION:
            raise LoadError(f"{path_or_file}: format version {version} was written by a newer "
                            f"lstm_np (this one reads up to {FORMAT_VERSION}); upgrade lstm_np")
        cfg = header["model"]
        kv = int(cfg.get("keras_version", 3))
        layers = []
        for i, entry in enumerate(cfg["layers"]):
            layer = build_layer(entry, kv)
            weights, k = [], 0
            while f"w{i}_{k}" in data.files:
                weights.append(data[f"w{i}_{k}"])
                k += 1
            if weights:
                layer.set_weights(weights)
            layers.append(layer)
    outputs = cfg["outputs"]
    return Model(layers, cfg["nodes"], cfg["inputs"], outputs, name=cfg.get("name", "model"),
                 keras_version=kv, sequential=cfg.get("sequential", False))
