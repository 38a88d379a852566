"""lstm_np: run trained Keras recurrent models with NumPy and numba, without TensorFlow."""
from ._jit import HAVE_NUMBA, JIT_ENABLED
from .activations import UnsupportedActivation
from .errors import InputError, LoadError, LstmNpError, UnsupportedKerasFeature
from .io import from_keras, load
from .layers import GRU, LSTM, SimpleRNN
from .model import Model
from .verify import VerifyReport, verify   # imports Keras only when called

__version__ = "0.1.0"

__all__ = ["LSTM", "GRU", "SimpleRNN", "Model", "load", "from_keras", "LoadError", "InputError", "LstmNpError",
           "UnsupportedKerasFeature", "UnsupportedActivation", "verify", "VerifyReport",
           "HAVE_NUMBA", "JIT_ENABLED", "__version__"]
