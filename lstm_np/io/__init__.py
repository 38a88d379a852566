"""Model loading: ``load(path)`` dispatches on the file's content, never on code in it."""
import io
import os
import zipfile

from ..errors import ArgumentError, LoadError
from .from_keras import from_keras
from .keras_archive import load_keras_archive
from .legacy_h5 import load_legacy_h5
from .limits import MAX_MEMBER_BYTES
from .npz import HEADER_KEY, load_npz, save_npz

__all__ = ["load", "from_keras", "load_keras_archive", "load_legacy_h5", "load_npz",
           "save_npz"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class _Content(io.BytesIO):
    """A file's content in memory; ``str()`` (used by every error message) is its name."""

    def __init__(self, data, name):
        super().__init__(data)
        self.name = name

    def __str__(self):
        return self.name


def _content(source):
    """A path stays a path; a binary file object or bytes-like content is read into memory
    (bounded); anything else is refused naming what came."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), f"<{len(source)} bytes>"
    elif callable(getattr(source, "read", None)):
        name = str(getattr(source, "name", None) or "<file object>")
        if isinstance(source, io.TextIOBase):
            raise ArgumentError(f"load: {name} is opened in text mode; expected a binary file "
                                f"(open(path, 'rb'))")
        try:
            data = source.read(MAX_MEMBER_BYTES + 1)
        except (OSError, ValueError) as exc:   # closed, not readable
            raise LoadError(f"{name}: cannot be read ({exc})") from None
        if isinstance(data, str):
            raise ArgumentError(f"load: {name} is opened in text mode; expected a binary file "
                                f"(open(path, 'rb'))")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ArgumentError(f"load: {name}.read() returned {type(data).__name__}; expected "
                                f"bytes")
        if len(data) > MAX_MEMBER_BYTES:
            raise LoadError(f"{name}: more than {MAX_MEMBER_BYTES} bytes")
        data = bytes(data)
    else:
        raise ArgumentError(f"load expects a path (str or os.PathLike), a binary file object "
                            f"or bytes; received {type(source).__name__}")
    return _Content(data, name)


def load(source):
    """Load a model file without TensorFlow or Keras.

    Accepts Keras 3 ``.keras`` archives, legacy ``.h5`` files written by Keras 2 (tf-keras)
    or Keras 3, and lstm_np's own ``.npz``. The format is detected from the content.
    ``source`` is a path, a file object opened in binary mode (``open(path, "rb")``,
    ``io.BytesIO``) or the file's bytes.

    Safe on untrusted files: nothing is unpickled or executed, sizes are bounded
    (:mod:`lstm_np.io.limits`), and every failure raises an :class:`~lstm_np.LstmNpError`
    (:class:`~lstm_np.LoadError` for a malformed file, :class:`~lstm_np.UnsupportedKerasFeature`
    for a valid model using something lstm_np does not implement,
    :class:`~lstm_np.ArgumentError` for a source that is not a path, binary file or bytes).
    """
    path = _content(source)
    if isinstance(path, str):
        if not os.path.isfile(path):
            raise LoadError(f"{path}: no such file")
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise LoadError(f"{path}: cannot be read ({exc})") from None
    else:
        head = path.getvalue()[:8]
    if head.startswith(_HDF5_MAGIC):
        return load_legacy_h5(path)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise LoadError(f"{path}: corrupt zip file ({exc})") from None
        if not isinstance(path, str):
            path.seek(0)
        if f"{HEADER_KEY}.npy" in names:
            return load_npz(path)
        if "config.json" in names:
            return load_keras_archive(path)
        raise LoadError(f"{path}: a zip file that is neither a .keras archive nor an "
                        f"lstm_np .npz")
    raise LoadError(f"{path}: unknown file format (expected .keras, .h5 or lstm_np .npz)")
