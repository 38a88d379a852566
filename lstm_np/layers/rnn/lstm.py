"""``LSTM``: Keras's LSTM layer for inference (Keras 3 ``keras/src/layers/rnn/lstm.py``), and
Keras 2's ``CuDNNLSTM``, which loads as an LSTM."""
import numpy as np

from ...kernels.recurrent import LSTM_CELL
from ._rnn import RNNLayer

__all__ = ["LSTM", "CuDNNLSTM", "convert_cudnn_lstm_weights"]


def convert_cudnn_lstm_weights(weights):
    """Keras 2 ``CuDNNLSTM`` weights -> canonical ``LSTM`` weights.

    As tf-keras ``hdf5_format._convert_rnn_weights`` (``convert_lstm_weights`` with
    ``from_cudnn=True``): per gate, ``kernel`` blocks become ``k.T.reshape(k.shape, order="F")``,
    ``recurrent_kernel`` blocks are transposed, and the bias (8U: input then recurrent
    biases) is the sum of its two halves.
    """
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    kernel = np.hstack([k.T.reshape(k.shape, order="F") for k in np.hsplit(kernel, 4)])
    recurrent = np.hstack([k.T for k in np.hsplit(recurrent, 4)])
    bias = np.sum(np.split(bias, 2, axis=0), axis=0)
    return [kernel, recurrent, bias]


class LSTM(RNNLayer):
    """Long Short-Term Memory layer with Keras's arguments, weights and semantics.

    Weights are Keras's, in ``model.get_weights()`` order: ``kernel (D, 4U)``,
    ``recurrent_kernel (U, 4U)`` and, with ``use_bias``, ``bias (4U,)``; gate blocks are
    ordered i, f, c, o. The pre-activation is ``(x W + h U) + b``; ``c = f * c + i * act(z_c)``
    and ``h = o * act(c)`` (``LSTMCell.call``, implementation 2).

    Parameters
    ----------
    units : int
    activation, recurrent_activation : str or None
        Keras activation names (``None`` is linear). ``hard_sigmoid`` follows
        ``keras_version``: Keras 3 ``relu6(x + 3) / 6``, Keras 2 ``clip(0.2 x + 0.5, 0, 1)``.
    use_bias, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask : bool
        As in Keras 3.
    dtype : {"float32", "float64"}
        Compute dtype (Keras ``dtype=``).
    keras_version : {2, 3}
        The Keras that produced the weights.
    **kwargs
        Training-only Keras arguments (``dropout``, ``recurrent_dropout``, ``unroll``,
        ``unit_forget_bias``, initializers, ...) are accepted and ignored.

    Calling ``layer(x, initial_state=[h, c], mask=mask)`` returns the output, or
    ``[output, h, c]`` with ``return_state``.
    """

    CELL = LSTM_CELL
    GATES = 4
    STATE_NAMES = ("h", "c")

    def preprocess_weights_for_loading(self, weights):
        """CuDNN-layout weights (a bias of 8U) are converted, as tf-keras loads them."""
        if len(weights) == 3 and np.shape(weights[2]) == (8 * self.units,):
            return convert_cudnn_lstm_weights(weights)
        return list(weights)


class CuDNNLSTM(LSTM):
    """Keras 2 ``CuDNNLSTM``, as tf-keras loads it from an ``.h5``: an ``LSTM`` with tanh /
    sigmoid and a bias (its weights are converted by ``preprocess_weights_for_loading``)."""

    @classmethod
    def from_config(cls, config, keras_version=3):
        config = dict(config, activation="tanh", recurrent_activation="sigmoid", use_bias=True)
        return LSTM.from_config(config, keras_version)
