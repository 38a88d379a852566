"""lstm_np's portable format: one ``.npz`` readable with NumPy alone (``allow_pickle=False``).

Contents:

* ``__lstm_np__``: a 0-d unicode array holding JSON
  ``{"format": "lstm_np", "format_version": 1, "model": Model.get_config()}``;
* ``w<layer index>_<k>``: the k-th weight array of layer ``layer index`` (``get_weights()`` order).

``format_version`` is bumped only for incompatible changes; readers accept every version
up to their own (:data:`FORMAT_VERSION`), so files written today stay readable. Version 2
added explicit ``mask`` references in nodes and Keras op nodes (``KerasOp``); a model
using neither is still written as version 1, which older readers load.

The writer lives here, beside the layout, so that ``Model.save`` needs nothing from
:mod:`lstm_np.io` (whose bounded, guarded reader is :func:`lstm_np.io.npz.load_npz`).
"""
import json

import numpy as np

__all__ = ["save_npz", "FORMAT_VERSION", "HEADER_KEY", "weight_key"]

FORMAT_VERSION = 2
HEADER_KEY = "__lstm_np__"


def weight_key(layer_index, k):
    """The member holding weight ``k`` of layer ``layer_index``."""
    return f"w{layer_index}_{k}"


def save_npz(model, path):
    """Write ``model`` to ``path`` (``.npz`` is appended by NumPy when missing)."""
    config = model.get_config()
    new = any(n.get("mask") is not None for n in config["nodes"]) or any(
        e["class_name"] == "KerasOp" for e in config["layers"])
    header = {"format": "lstm_np", "format_version": FORMAT_VERSION if new else 1,
              "model": config}
    arrays = {HEADER_KEY: np.array(json.dumps(header))}
    for i, layer in enumerate(model.layers):
        for k, w in enumerate(layer.get_weights()):
            arrays[weight_key(i, k)] = np.asarray(w)
    np.savez(path, **arrays)
