"""Keras's recurrent layers and RNN wrappers (``keras/src/layers/rnn``)."""
from ._rnn import RecurrentLayer, RNNLayer
from .bidirectional import Bidirectional
from .gru import GRU, CuDNNGRU
from .lstm import LSTM, CuDNNLSTM
from .simple_rnn import SimpleRNN
from .stacked import StackedRNN
from .time_distributed import TimeDistributed

__all__ = ["RecurrentLayer", "RNNLayer", "LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU",
           "StackedRNN", "Bidirectional", "TimeDistributed"]
