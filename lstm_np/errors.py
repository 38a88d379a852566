"""Exceptions raised by lstm_np.

The family (all subclasses of :class:`LstmNpError`; the last three also of ``ValueError``)::

    LstmNpError
    ├── UnsupportedKerasFeature   valid Keras model using something lstm_np does not implement
    │   └── UnsupportedActivation
    ├── LoadError                 malformed, truncated, oversized or inconsistent model file
    └── InputError                predict/call inputs that do not fit the model

``lstm_np.load`` on any file raises only this family (never KeyError, OSError from h5py,
zipfile.BadZipFile, json or MemoryError), and running a loaded model on inputs of its
declared shape raises only this family too.
"""

__all__ = ["LstmNpError", "UnsupportedKerasFeature", "LoadError", "InputError"]


class LstmNpError(Exception):
    """Base of lstm_np's own exceptions."""


class UnsupportedKerasFeature(LstmNpError, ValueError):
    """A Keras layer, option or dtype that lstm_np does not implement; the message names it."""


class LoadError(LstmNpError, ValueError):
    """A model file that cannot be read: malformed, truncated or inconsistent."""


class InputError(LstmNpError, ValueError):
    """Inputs that do not fit the model (rank, feature size, count, dtype, index range),
    or a layer that cannot run on what the previous layer produced; the message names the
    expected and the received shape or value."""
