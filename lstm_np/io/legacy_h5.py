"""Legacy ``.h5`` model files written by Keras 2 (tf-keras) and by Keras 3, via h5py.

Layout (tf-keras ``saving/legacy/hdf5_format.py``; Keras 3
``legacy/saving/legacy_h5_format.py``): root attribute ``model_config`` (JSON) and
``keras_version``; group ``model_weights/<layer name>`` with attribute ``weight_names``,
whose order is the layer's ``get_weights()`` order. Long attributes are split into
``name0``, ``name1``, ... chunks.
"""
import numpy as np

from ..errors import LoadError
from .graph import keras_major, model_from_keras_config
from .h5read import h5_root
from .limits import check_config, guard, parse_json, read_dataset

__all__ = ["load_legacy_h5"]


def _attr(group, name):
    """Read an attribute, joining ``name0, name1, ...`` chunks (``load_attributes_from_hdf5_group``)."""
    if name in group.attrs:
        values = group.attrs[name]
    elif f"{name}0" in group.attrs:
        values, k = [], 0
        while f"{name}{k}" in group.attrs:
            values.extend(group.attrs[f"{name}{k}"])
            k += 1
    else:
        return None
    if isinstance(values, bytes):
        return values.decode("utf8")
    if isinstance(values, np.ndarray) and values.ndim == 0:
        values = values.item()
        return values.decode("utf8") if isinstance(values, bytes) else values
    if isinstance(values, (np.ndarray, list)):
        return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]
    return values


@guard(".h5 model file")
def load_legacy_h5(path_or_file):
    """Load a legacy Keras ``.h5`` model file into a :class:`lstm_np.Model`.

    JSON nesting, layer sizes and weight sizes are bounded (:mod:`lstm_np.io.limits`);
    the HDF5 content is read in an isolated, time-limited process where possible
    (:mod:`lstm_np.io.h5read`); every failure is a ``LoadError``.
    """
    with h5_root(path_or_file, path_or_file) as f:
        raw = _attr(f, "model_config")
        if raw is None:
            raise LoadError(f"{path_or_file}: no model_config attribute (a weights-only file "
                            f"cannot be loaded without the model's architecture)")
        config = parse_json(raw, f"{path_or_file}: model_config attribute")
        check_config(config, f"{path_or_file}: model_config attribute")
        kv = keras_major(_attr(f, "keras_version"), default=2)
        weights_root = f["model_weights"] if "model_weights" in f else f

        def weights_of(name, entry, index):
            if not isinstance(name, str) or name not in weights_root:
                return []
            g = weights_root[name]
            names = _attr(g, "weight_names") or []
            if isinstance(names, str):
                names = [names]
            out = []
            for n in names:
                if n not in g or hasattr(g[n], "keys"):
                    raise LoadError(f"{path_or_file}: layer {name!r} lists weight {n!r} that "
                                    f"is not an array in the file")
                out.append(read_dataset(g[n], f"{path_or_file}: model_weights/{name}"))
            return out

        return model_from_keras_config(config, kv, weights_of)
