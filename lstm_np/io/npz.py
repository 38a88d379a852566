"""Reading lstm_np's ``.npz`` format (:mod:`lstm_np.npz_format`) from untrusted files:
``allow_pickle=False``, every member's declared size checked before anything is allocated."""
import zipfile

import numpy as np

from ..errors import LoadError
from ..model import Model
from ..npz_format import FORMAT_VERSION, HEADER_KEY, save_npz, weight_key
from .limits import (MAX_ARRAY_BYTES, MAX_JSON_BYTES, check_compression, check_config, guard,
                     parse_json)
from .registry import build_layer

__all__ = ["save_npz", "load_npz", "FORMAT_VERSION", "HEADER_KEY"]


def _check_members(path_or_file):
    """Refuse members whose .npy header declares more data than the member holds.

    ``np.load`` allocates the declared shape before reading, so a forged header
    could ask for any amount of memory.
    """
    if hasattr(path_or_file, "seek"):
        pos = path_or_file.tell()
    try:
        zf = zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"{path_or_file}: not a readable .npz file ({exc})") from None
    with zf:
        for info in zf.infolist():
            where = f"{path_or_file}: member {info.filename}"
            check_compression(info, str(path_or_file))
            try:
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise LoadError(f"{where}: unsupported .npy version {version}")
            except LoadError:
                raise
            except Exception as exc:   # BadZipFile, zlib.error, a malformed .npy header
                raise LoadError(f"{where}: malformed .npy header "
                                f"({type(exc).__name__}: {exc})") from None
            if dtype.hasobject:
                raise LoadError(f"{where}: object arrays are refused (no pickle)")
            nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            limit = MAX_JSON_BYTES if info.filename == f"{HEADER_KEY}.npy" else MAX_ARRAY_BYTES
            if nbytes > info.file_size or nbytes > limit:
                raise LoadError(f"{where}: declares shape {shape} of {dtype} ({nbytes} bytes) "
                                f"but holds {info.file_size} bytes (limit {limit})")
    if hasattr(path_or_file, "seek"):
        path_or_file.seek(pos)


@guard(".npz file")
def load_npz(path_or_file):
    """Read a file written by :func:`save_npz` (``allow_pickle=False``, sizes checked first)."""
    _check_members(path_or_file)
    try:
        data = np.load(path_or_file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise LoadError(f"{path_or_file}: not a readable .npz file ({exc})") from None
    with data:
        if HEADER_KEY not in data.files:
            raise LoadError(f"{path_or_file}: not an lstm_np model file (no {HEADER_KEY} entry)")
        header = parse_json(str(data[HEADER_KEY]), f"{path_or_file}: header {HEADER_KEY}")
        if not isinstance(header, dict) or not isinstance(header.get("model"), dict):
            raise LoadError(f"{path_or_file}: header {HEADER_KEY} is not an lstm_np header")
        check_config(header["model"], f"{path_or_file}: header {HEADER_KEY}")
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
            while weight_key(i, k) in data.files:
                weights.append(data[weight_key(i, k)])
                k += 1
            if weights:
                try:
                    layer.set_weights(weights)
                except ValueError as exc:
                    raise LoadError(f"{path_or_file}: weights w{i}_*: {exc}") from None
            layers.append(layer)
    outputs = cfg["outputs"]
    return Model(layers, cfg["nodes"], cfg["inputs"], outputs, name=cfg.get("name", "model"),
                 keras_version=kv, sequential=cfg.get("sequential", False))
