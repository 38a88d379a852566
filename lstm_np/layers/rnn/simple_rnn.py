"""``SimpleRNN``: Keras's SimpleRNN layer for inference (Keras 3
``keras/src/layers/rnn/simple_rnn.py``)."""
from ...errors import ArgumentError
from ...kernels.recurrent import SIMPLE_RNN_CELL
from ._rnn import RNNLayer

__all__ = ["SimpleRNN"]


class SimpleRNN(RNNLayer):
    """Fully-connected RNN layer with Keras's arguments, weights and semantics.

    Weights are Keras's, in ``model.get_weights()`` order: ``kernel (D, U)``,
    ``recurrent_kernel (U, U)`` and, with ``use_bias``, ``bias (U,)``. Each step computes
    ``h = act((x W + b) + h_tm1 U)`` in that order (``SimpleRNNCell.call``): the bias is added
    before the recurrent term, unlike the LSTM.

    Parameters
    ----------
    units : int
    activation : str or None
        Keras activation name (``None`` is linear). SimpleRNN has no recurrent activation.
    use_bias, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask : bool
        As in Keras 3.
    dtype : {"float32", "float64"}
        Compute dtype (Keras ``dtype=``).
    keras_version : {2, 3}
        The Keras that produced the weights (selects the ``hard_sigmoid`` formula).
    **kwargs
        Training-only Keras arguments (``dropout``, ``recurrent_dropout``, ``unroll``,
        initializers, ...) are accepted and ignored.

    Calling ``layer(x, initial_state=[h], mask=mask)`` returns the output, or
    ``[output, h]`` with ``return_state``.
    """

    CELL = SIMPLE_RNN_CELL
    GATES = 1
    STATE_NAMES = ("h",)

    def __init__(self, units, activation="tanh", use_bias=True, name=None, **kwargs):
        name = name or "simple_rnn"   # Keras's default name, not "simplernn"
        if "recurrent_activation" in kwargs:
            raise ArgumentError(f"SimpleRNN {name!r}: unknown argument(s) ['recurrent_activation'] "
                                f"(SimpleRNN has only `activation`)")
        super().__init__(units, activation=activation, recurrent_activation=None,
                         use_bias=use_bias, name=name, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config
