"""Model loading: ``load(path)`` dispatches on the file's content, never on code in it."""
import os
import zipfile

from ..errors import LoadError
from .from_keras import from_keras
from .keras_archive import load_keras_archive
from .legacy_h5 import load_legacy_h5
from .npz import HEADER_KEY, load_npz, save_npz

__all__ = ["load", "from_keras", "load_keras_archive", "load_legacy_h5", "load_npz",
           "save_npz"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def load(path):
    """Load a model file without TensorFlow or Keras.

    Accepts Keras 3 ``.keras`` archives, legacy ``.h5`` files written by Keras 2 (tf-keras)
    or Keras 3, and lstm_np's own ``.npz``. The format is detected from the content.

    Safe on untrusted files: nothing is unpickled or executed, sizes are bounded
    (:mod:`lstm_np.io.limits`), and every failure raises an :class:`~lstm_np.LstmNpError`
    (:class:`~lstm_np.LoadError` for a malformed file, :class:`~lstm_np.UnsupportedKerasFeature`
    for a valid model using something lstm_np does not implement).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise LoadError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise LoadError(f"{path}: cannot be read ({exc})") from None
    if head.startswith(_HDF5_MAGIC):
        return load_legacy_h5(path)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise LoadError(f"{path}: corrupt zip file ({exc})") from None
        if f"{HEADER_KEY}.npy" in names:
            return load_npz(path)
        if "config.json" in names:
            return load_keras_archive(path)
        raise LoadError(f"{path}: a zip file that is neither a .keras archive nor an "
                        f"lstm_np .npz")
    raise LoadError(f"{path}: unknown file format (expected .keras, .h5 or lstm_np .npz)")
