"""Keras 3 ``.keras`` archives, read in memory with zipfile, json and h5py only.

The archive holds ``config.json`` (``serialize_keras_object(model)``), ``metadata.json``
and ``model.weights.h5`` (Keras 3 ``saving/saving_lib.py``). In the weights file each layer
is a group ``layers/<snake_case class name>[_N]`` whose variables sit at ``.../vars/<i>``,
nested under ``cell`` (RNN), ``forward_layer`` / ``backward_layer`` (Bidirectional) or
``layer`` (TimeDistributed). Since Keras 3.6 each ``vars`` group carries the layer's name
as an attribute, which is used when present; otherwise the snake_case counters are
reproduced (``_save_container_state``).
"""
import zipfile

from ..errors import LoadError, LstmNpError
from .h5read import h5_root
from .graph import _is_op, keras_major, model_from_keras_config, snake_case
from .limits import MAX_JSON_BYTES, check_config, guard, parse_json, read_dataset, read_member

__all__ = ["load_keras_archive"]


def _sorted_vars(group, where):
    keys = sorted(group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    out = []
    for k in keys:
        ds = group[k]
        if hasattr(ds, "keys"):
            raise LoadError(f"{where}: {ds.name} is a group where a weight array is expected")
        if ds.attrs.get("dtype") == "bfloat16":
            raise LoadError(f"bfloat16 weights ({ds.name}) are not supported")
        out.append(read_dataset(ds, where))
    return out


def collect_weights(group, where="model.weights.h5", _depth=0, entry=None):
    """All variables under a layer group, in Keras ``get_weights()`` order.

    ``entry`` (the layer's config entry) orders the ``cells`` of a ``StackedRNNCells``,
    whose groups are named by class-name counters (``lstm_cell``, ``gru_cell``,
    ``simple_rnn_cell_1``, ...) that sort differently from the cells.
    """
    if _depth > 8:
        raise LoadError(f"{where}: weight groups nested too deeply at {group.name}")
    vars_ = group["vars"] if "vars" in group else None
    if vars_ is not None and not hasattr(vars_, "keys"):
        raise LoadError(f"{where}: {vars_.name} is not a group")
    out = _sorted_vars(vars_, where) if vars_ is not None else []
    subs = [k for k in group.keys() if k != "vars"]
    if "forward_layer" in subs:
        subs = ["forward_layer", "backward_layer"]
    for k in subs:
        if k in group and hasattr(group[k], "keys"):
            if k == "cells":
                out += _cells_weights(group[k], where, _depth + 1, entry)
            else:
                out += collect_weights(group[k], where, _depth + 1, _sub_entry(entry, k))
    return out


def _sub_entry(entry, key):
    config = (entry or {}).get("config") if isinstance(entry, dict) else None
    if not isinstance(config, dict):
        return None
    if key == "backward_layer":
        return config.get("backward_layer") or config.get("layer")
    if key == "forward_layer":
        return config.get("layer")
    return config.get(key) if isinstance(config.get(key), dict) else None


def _cells_weights(group, where, depth, entry):
    """The ``cells`` of a ``StackedRNNCells`` in config order (Keras 3
    ``saving_lib._save_container_state`` names them ``snake_case(class)[_n]``)."""
    cells = ((entry or {}).get("config") or {}).get("cells") if isinstance(entry, dict) else None
    if not isinstance(cells, list):
        raise LoadError(f"{where}: {group.name} holds stacked cells but the layer config "
                        f"lists none")
    used, out = {}, []
    for cell in cells:
        key = snake_case(str((cell or {}).get("class_name", "")))
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        if key not in group or not hasattr(group[key], "keys"):
            raise LoadError(f"{where}: no weights group {group.name}/{key} for stacked cell "
                            f"{key!r}")
        out += collect_weights(group[key], where, depth + 1, cell)
    return out


@guard(".keras archive")
def load_keras_archive(path_or_file):
    """Load a Keras 3 ``.keras`` archive into a :class:`lstm_np.Model`.

    Read in memory (zipfile, json, h5py; the HDF5 member in an isolated, time-limited
    process where possible, :mod:`lstm_np.io.h5read`); member sizes, JSON nesting, layer
    sizes and weight sizes are bounded (:mod:`lstm_np.io.limits`); every failure is a
    ``LoadError``.
    """
    try:
        zf = zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"{path_or_file}: not a readable .keras archive ({exc})") from None
    with zf:
        names = set(zf.namelist())
        if "config.json" not in names:
            raise LoadError(f"{path_or_file}: no config.json in the archive")
        config = parse_json(read_member(zf, "config.json", path_or_file, MAX_JSON_BYTES),
                            f"{path_or_file}: config.json")
        meta = (parse_json(read_member(zf, "metadata.json", path_or_file, MAX_JSON_BYTES),
                           f"{path_or_file}: metadata.json")
                if "metadata.json" in names else {})
        if not isinstance(meta, dict):
            meta = {}
        if not isinstance(config, dict):
            raise LoadError(f"{path_or_file}: config.json is not a JSON object")
        check_config(config, f"{path_or_file}: config.json")
        if "model.weights.h5" not in names:
            other = sorted(n for n in names if n.startswith("model.weights"))
            raise LoadError(f"{path_or_file}: no model.weights.h5 in the archive "
                            f"(found {other or 'none'}; only h5 weights are supported)")
        blob = read_member(zf, "model.weights.h5", path_or_file)
    kv = keras_major(meta.get("keras_version"), default=3)
    where = f"{path_or_file}: model.weights.h5"
    with h5_root(blob, where) as f:
        try:
            groups = _layer_groups(f, config)
        except LstmNpError:
            raise
        except Exception as exc:   # h5py errors on a corrupt file, malformed config entries
            raise LoadError(f"{where}: unreadable layer groups "
                            f"({type(exc).__name__}: {exc})") from None

        def weights_of(name, entry, index):
            g = groups.get(name)
            if g is None:
                return []
            try:
                return collect_weights(g, where, entry=entry)
            except LstmNpError:
                raise
            except Exception as exc:
                raise LoadError(f"{where}: weights of layer {name!r} are unreadable "
                                f"({type(exc).__name__}: {exc})") from None
        return model_from_keras_config(config, kv, weights_of)


def _layer_groups(f, config):
    """Layer name -> h5 group, by ``vars`` name attribute or by Keras's naming counters."""
    root = f["layers"] if "layers" in f else f.get("_layer_checkpoint_dependencies")
    if root is None:
        return {}
    by_attr = {}
    for key in root.keys():
        g = root[key]
        if hasattr(g, "keys") and "vars" in g:
            name = g["vars"].attrs.get("name")
            if isinstance(name, bytes):
                name = name.decode()
            if name:
                by_attr[name] = g
    entries = [e for e in (config.get("config") or {}).get("layers") or []
               if isinstance(e, dict) and not _is_op(e)]   # Keras counts layers, not ops
    if config.get("class_name") == "Sequential":
        entries = [e for e in entries if e.get("class_name") != "InputLayer"]
    used, out = {}, {}
    for e in entries:
        lname = e.get("name") or (e.get("config") or {}).get("name")
        key = snake_case(e.get("class_name", ""))
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        if lname in by_attr:
            out[lname] = by_attr[lname]
        elif key in root:
            out[lname] = root[key]
    return out
