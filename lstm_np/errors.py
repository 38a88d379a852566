"""Exceptions raised by lstm_np.

Every exception the public API raises for bad input, a bad file or a missing optional
package belongs to one family. Each class also derives from the built-in exception a
caller would expect, so ``except ValueError`` (or ``TypeError``, ``ImportError``, ...)
keeps working::

    LstmNpError
    ├── UnsupportedKerasFeature (ValueError)  a valid Keras model using something lstm_np
    │   └── UnsupportedActivation             does not implement; the message names it
    ├── LoadError (ValueError)                malformed, truncated, oversized or
    │                                         inconsistent model file
    ├── InputError (ValueError)               arrays that do not fit: inputs, masks,
    │                                         states, weights, batch sizes
    ├── ConfigError (ValueError)              invalid layer / model arguments (units=0,
    │                                         a graph whose references do not resolve)
    ├── ArgumentError (TypeError)             an argument of the wrong kind: an unknown
    │                                         keyword, ``load(None)``, a text-mode file
    ├── MissingDependency (ImportError)       an optional package is not installed
    │                                         (TensorFlow for ``verify``, h5py, ...)
    └── GradientNotSupported (NotImplementedError)  no backward pass for a layer

``lstm_np.load`` on any file raises only this family (never KeyError, OSError from h5py,
zipfile.BadZipFile or NotImplementedError, json or MemoryError), and running a loaded model
on inputs of its declared shape raises only this family too. Messages name what was
expected and what was received.
"""

__all__ = ["LstmNpError", "UnsupportedKerasFeature", "LoadError", "InputError",
           "ConfigError", "ArgumentError", "MissingDependency", "GradientNotSupported"]


class LstmNpError(Exception):
    """Base of lstm_np's own exceptions."""


class UnsupportedKerasFeature(LstmNpError, ValueError):
    """A Keras layer, option or dtype that lstm_np does not implement; the message names it."""


class LoadError(LstmNpError, ValueError):
    """A model file that cannot be read: malformed, truncated or inconsistent."""


class InputError(LstmNpError, ValueError):
    """Arrays that do not fit the model or layer: inputs (rank, feature size, count, dtype,
    index range), masks, initial states, weights, a stateful layer's batch size, or a layer
    that cannot run on what the previous layer produced; the message names the expected
    and the received shape or value."""


class ConfigError(LstmNpError, ValueError):
    """Invalid arguments for a layer or a model (``units=0``, an unknown ``merge_mode``,
    graph nodes whose references do not resolve)."""


class ArgumentError(LstmNpError, TypeError):
    """An argument of the wrong kind: an unknown keyword argument, ``None`` or a text-mode
    file where a path or binary file is expected."""


class MissingDependency(LstmNpError, ImportError):
    """An optional package needed for this call is not installed; the message names the
    ``pip install`` that provides it."""


class GradientNotSupported(LstmNpError, NotImplementedError):
    """A layer (or an option of it) on the path of a gradient has no backward pass."""
