"""Size and structure bounds applied while reading model files, and the error guard.

Every loader reads its file in memory with zipfile / json / h5py / NumPy
(``allow_pickle=False``); nothing in a file is executed. Before anything is allocated,
the declared sizes are checked against these bounds, and any low-level failure
(zipfile, zlib, h5py, json, NumPy) is re-raised as :class:`~lstm_np.LoadError` naming
the file and the part at fault, so a malformed or hostile file only ever raises an
:class:`~lstm_np.LstmNpError`.
"""
import functools
import json

import numpy as np

from ..errors import LoadError, LstmNpError, MissingDependency, UnsupportedKerasFeature

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "MAX_DIM", "MAX_INPUT_DIM", "MAX_ARRAY_BYTES",
           "MAX_MEMBER_BYTES", "parse_json", "check_config", "read_member", "read_dataset",
           "dataset_array", "DatasetRefused", "guard", "check_compression"]

#: Largest JSON document (config.json, metadata.json, model_config, npz header).
MAX_JSON_BYTES = 64 * 2**20
#: Deepest nesting of lists / dicts in a JSON config (Keras configs nest about 12 deep).
MAX_JSON_DEPTH = 200
#: Largest ``units`` / ``output_dim`` / ``n`` / shape dimension in a layer config.
MAX_DIM = 2**20
#: Largest Embedding ``input_dim`` (vocabulary size).
MAX_INPUT_DIM = 2**26
#: Largest single weight array, in bytes.
MAX_ARRAY_BYTES = 2**32
#: Largest zip member (uncompressed) read into memory.
MAX_MEMBER_BYTES = 2**33
#: A compressed h5 dataset may expand at most this much over its stored bytes.
_MAX_H5_RATIO = 1024

_DIM_KEYS = {"units", "output_dim", "n"}
_SHAPE_KEYS = {"batch_shape", "batch_input_shape", "shape", "target_shape", "input_shape",
               "build_input_shape"}


def guard(what):
    """Decorator: low-level exceptions of a loader become ``LoadError`` naming the file."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(path_or_file, *args, **kwargs):
            try:
                return fn(path_or_file, *args, **kwargs)
            except (LoadError, UnsupportedKerasFeature, MissingDependency):
                raise
            except LstmNpError as exc:   # a graph or a layer config that cannot be: malformed
                raise LoadError(f"{path_or_file}: {what}: {exc}") from None
            except MemoryError:
                raise LoadError(f"{path_or_file}: {what} declares data too large to load "
                                f"(out of memory)") from None
            except RecursionError:
                raise LoadError(f"{path_or_file}: {what} is nested too deeply") from None
            except Exception as exc:   # zipfile, zlib, h5py, json, NumPy: a malformed file
                raise LoadError(f"{path_or_file}: malformed {what} "
                                f"({type(exc).__name__}: {exc})") from exc
        return wrapper
    return deco


def _depth_ok(obj):
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def _bracket_depth(text):
    """Upper bound of the nesting depth, without parsing (strings may inflate it)."""
    depth = best = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_JSON_DEPTH:
                    return best
        elif ch in "]}":
            depth -= 1
    return best


def parse_json(raw, where):
    """``json.loads`` with a size and a nesting bound; errors name ``where``."""
    if isinstance(raw, np.ndarray):
        raw = raw.item() if raw.ndim == 0 else raw
    if not isinstance(raw, (str, bytes, bytearray)):
        raise LoadError(f"{where}: expected a JSON string; found {type(raw).__name__}")
    if len(raw) > MAX_JSON_BYTES:
        raise LoadError(f"{where}: {len(raw)} bytes of JSON exceed the limit of "
                        f"{MAX_JSON_BYTES}")
    try:
        text = raw.decode("utf8") if isinstance(raw, (bytes, bytearray)) else raw
        if _bracket_depth(text) > MAX_JSON_DEPTH:
            # strings can hold brackets: parse, then judge the real depth
            obj = json.loads(text)
            if not _depth_ok(obj):
                raise LoadError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
            return obj
        return json.loads(text)
    except RecursionError:
        raise LoadError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LoadError(f"{where}: malformed JSON ({exc})") from None


def _too_big(value, limit):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value != value or abs(value) > limit)


def check_config(config, where):
    """Refuse layer sizes above :data:`MAX_DIM` (:data:`MAX_INPUT_DIM` for ``input_dim``)."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _DIM_KEYS and _too_big(value, MAX_DIM):
                raise LoadError(f"{where}: {key}={value!r} exceeds the limit of {MAX_DIM}")
            if key == "input_dim" and _too_big(value, MAX_INPUT_DIM):
                raise LoadError(f"{where}: input_dim={value!r} exceeds the limit of "
                                f"{MAX_INPUT_DIM}")
            if key in _SHAPE_KEYS and isinstance(value, list):
                flat = [v for v in value if not isinstance(v, list)] + [
                    w for v in value if isinstance(v, list) for w in v]
                for d in flat:
                    if _too_big(d, MAX_DIM) or (isinstance(d, (int, float))
                                                and not isinstance(d, bool) and d < 0
                                                and not (key == "target_shape" and d == -1)):
                        raise LoadError(f"{where}: {key} dimension {d!r} is negative or "
                                        f"exceeds the limit of {MAX_DIM}")
            if isinstance(value, (dict, list)):
                stack.append(value)


#: Zip compression methods Python's zipfile reads (stored, deflated, bzip2, lzma).
ZIP_METHODS = {0: "stored", 8: "deflated", 12: "bzip2", 14: "lzma"}


def check_compression(info, where):
    """Refuse a zip member whose compression method zipfile cannot read (a flipped byte
    in the header makes zipfile raise ``NotImplementedError`` when the member is opened)."""
    if info.compress_type not in ZIP_METHODS:
        raise LoadError(f"{where}: archive member {info.filename} uses compression method "
                        f"{info.compress_type}; expected one of "
                        f"{', '.join(f'{k} ({v})' for k, v in ZIP_METHODS.items())}")


def read_member(zf, name, where, limit=MAX_MEMBER_BYTES):
    """Read one zip member after checking its declared size; errors name the member."""
    try:
        info = zf.getinfo(name)
        check_compression(info, where)
        if info.file_size > limit:
            raise LoadError(f"{where}: archive member {name} declares {info.file_size} bytes "
                            f"(limit {limit})")
        if info.compress_type == 0 and info.file_size != info.compress_size:
            raise LoadError(f"{where}: archive member {name} declares {info.file_size} bytes "
                            f"but stores {info.compress_size}")
        return zf.read(name)
    except LstmNpError:
        raise
    except Exception as exc:   # BadZipFile (CRC, truncation), zlib.error, EOFError, OSError
        raise LoadError(f"{where}: archive member {name} is corrupt "
                        f"({type(exc).__name__}: {exc})") from None


class DatasetRefused(Exception):
    """A weight dataset refused by :func:`dataset_array` (message without the file name)."""


def dataset_array(ds):
    """An h5py dataset -> ndarray, refusing non-numeric dtypes and implausible sizes
    (raises :class:`DatasetRefused`)."""
    try:
        dtype, shape = ds.dtype, ds.shape
    except Exception as exc:
        raise DatasetRefused(f"unreadable weight dataset {ds.name} ({exc})") from None
    if shape is None or dtype.kind not in "biuf" or dtype.fields is not None:
        raise DatasetRefused(f"weight {ds.name} has dtype {dtype} and shape {shape}; "
                             f"expected a numeric array")
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    try:
        stored = ds.id.get_storage_size()
    except Exception:
        stored = 0
    if nbytes > MAX_ARRAY_BYTES or nbytes > max(2**20, _MAX_H5_RATIO * stored):
        raise DatasetRefused(f"weight {ds.name} declares shape {shape} ({nbytes} bytes) "
                             f"but stores {stored} bytes (limit {MAX_ARRAY_BYTES})")
    try:
        return np.asarray(ds[()])
    except Exception as exc:   # h5py OSError / KeyError on corrupt chunks
        raise DatasetRefused(f"weight {ds.name} is unreadable "
                             f"({type(exc).__name__}: {exc})") from None


def read_dataset(ds, where):
    """A weight dataset (h5py's, or one read in the isolated reader) -> ndarray; a refused
    or unreadable one raises ``LoadError`` naming ``where`` and the dataset."""
    snapshot_read = getattr(ds, "_snapshot_read", None)
    if snapshot_read is not None:
        return snapshot_read(where)
    try:
        return dataset_array(ds)
    except DatasetRefused as exc:
        raise LoadError(f"{where}: {exc}") from None
