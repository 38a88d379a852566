"""Layer classes with Keras's arguments and weights."""
from .core import (Activation, ActivityRegularization, Add, AlphaDropout, Average,
                   Concatenate, Dense, Dropout, Embedding, Flatten, GaussianDropout,
                   GaussianNoise, InputLayer, Masking, Maximum, Minimum, Multiply, Permute,
                   RepeatVector, Reshape, Softmax, SpatialDropout1D, Subtract)
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN
from .stacked import StackedRNN
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["LSTM", "GRU", "SimpleRNN", "StackedRNN", "Bidirectional", "TimeDistributed", "InputLayer", "Dense",
           "Activation", "Softmax", "Dropout", "SpatialDropout1D", "GaussianNoise",
           "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Embedding", "Masking",
           "RepeatVector", "Flatten", "Reshape", "Permute", "Concatenate", "Add", "Subtract",
           "Multiply", "Average", "Maximum", "Minimum"]
