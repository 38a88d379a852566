"""lstm_np: run trained Keras recurrent models with NumPy and numba, without TensorFlow."""
from ._jit import HAVE_NUMBA, JIT_ENABLED
from .activations import UnsupportedActivation
from .errors import (ArgumentError, ConfigError, GradientNotSupported, InputError, LoadError,
                     LstmNpError, MissingDependency, UnsupportedKerasFeature)
from .io import from_keras, load
from .layers import GRU, LSTM, SimpleRNN
from .model import Model
from .verify import VerifyReport, verify   # imports Keras only when called
from .warmup import WarmupReport, warmup

__version__ = "0.1.0"

__all__ = ["LSTM", "GRU", "SimpleRNN", "Model", "load", "from_keras", "verify", "VerifyReport",
           "LstmNpError", "LoadError", "InputError", "UnsupportedKerasFeature",
           "UnsupportedActivation", "ConfigError", "ArgumentError", "MissingDependency",
           "GradientNotSupported", "HAVE_NUMBA", "JIT_ENABLED", "warmup", "WarmupReport",
           "__version__"]
