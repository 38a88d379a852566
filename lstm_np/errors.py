"""Exceptions raised by lstm_np."""

__all__ = ["LstmNpError", "UnsupportedKerasFeature", "LoadError"]


class LstmNpError(Exception):
    """Base of lstm_np's own exceptions."""


class UnsupportedKerasFeature(LstmNpError, ValueError):
    """A Keras layer, option or dtype that lstm_np does not implement; the message names it."""


class LoadError(LstmNpError, ValueError):
    """A model file that cannot be read: malformed, truncated or inconsistent."""
