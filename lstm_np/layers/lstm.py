"""``LSTM``: Keras's LSTM layer for inference (Keras 3 ``keras/src/layers/rnn/lstm.py``)."""
from ..kernels.recurrent import LSTM_CELL
from ._rnn import RNNLayer

__all__ = ["LSTM"]


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
