"""Keras's regularization layers (``keras/src/layers/regularization``): the identity at
inference, as Keras runs them when ``training`` is false (``predict``)."""
from .core import Identity

__all__ = ["Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "ActivityRegularization"]


class Dropout(Identity):
    """Keras ``Dropout``: ``rate``, ``noise_shape`` and ``seed`` only matter in training."""


class SpatialDropout1D(Identity):
    """Keras ``SpatialDropout1D``."""


class GaussianNoise(Identity):
    """Keras ``GaussianNoise``."""


class GaussianDropout(Identity):
    """Keras ``GaussianDropout``."""


class AlphaDropout(Identity):
    """Keras ``AlphaDropout``."""


class ActivityRegularization(Identity):
    """Keras ``ActivityRegularization``: ``l1`` / ``l2`` add to the training loss only."""
