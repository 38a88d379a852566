"""Layer classes with Keras's arguments and weights."""
from .lstm import LSTM

__all__ = ["LSTM"]
