"""Layer classes with Keras's arguments, weights and semantics, grouped by family as Keras's
``keras/src/layers`` (the protocol every one follows: :mod:`lstm_np.layers.base`)."""
from .activations import Activation, Softmax
from .base import Layer
from .core import Dense, Embedding, Identity, InputLayer, Masking
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .ops import KerasOp
from .regularization import (ActivityRegularization, AlphaDropout, Dropout, GaussianDropout,
                             GaussianNoise, SpatialDropout1D)
from .reshaping import Flatten, Permute, RepeatVector, Reshape
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN, StackedRNN, TimeDistributed

__all__ = [
    "Layer", "InputLayer", "Dense", "Embedding", "Masking", "Identity", "Activation", "Softmax",
    "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "RepeatVector", "Flatten", "Reshape", "Permute", "Concatenate",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "LSTM", "GRU", "SimpleRNN",
    "StackedRNN", "Bidirectional", "TimeDistributed", "KerasOp",
]
