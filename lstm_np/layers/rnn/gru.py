"""``GRU``: Keras's GRU layer for inference (Keras 3 ``keras/src/layers/rnn/gru.py``), and
Keras 2's ``CuDNNGRU``, which loads as a ``GRU(reset_after=True)``."""
import numpy as np

from ...kernels.recurrent import GRU_CELL, GRU_RESET_BEFORE_CELL
from ._rnn import RNNLayer

__all__ = ["GRU", "CuDNNGRU", "convert_cudnn_gru_weights"]


def convert_cudnn_gru_weights(weights):
    """Keras 2 ``CuDNNGRU`` weights -> ``GRU(reset_after=True)`` weights.

    As tf-keras ``hdf5_format._convert_rnn_weights`` (``convert_gru_weights`` with
    ``from_cudnn=True``): per gate (z, r, h: the gate order is unchanged), ``kernel`` blocks
    become ``k.T.reshape(k.shape, order="F")``, ``recurrent_kernel`` blocks are transposed,
    and the bias (6U: input then recurrent biases) is reshaped to ``(2, 3U)``.
    """
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    kernel = np.hstack([k.T.reshape(k.shape, order="F") for k in np.hsplit(kernel, 3)])
    recurrent = np.hstack([k.T for k in np.hsplit(recurrent, 3)])
    return [kernel, recurrent, bias.reshape(2, -1)]


class GRU(RNNLayer):
    """Gated Recurrent Unit layer with Keras's arguments, weights and semantics.

    Weights are Keras's, in ``model.get_weights()`` order: ``kernel (D, 3U)``,
    ``recurrent_kernel (U, 3U)`` and, with ``use_bias``, ``bias`` of shape ``(2, 3U)``
    (row 0 input bias, row 1 recurrent bias) when ``reset_after=True`` or ``(3U,)`` when
    ``reset_after=False``; gate blocks are ordered z (update), r (reset), h (candidate).
    Follows ``GRUCell.call`` (implementation 2) term by term: with ``reset_after``,
    ``hh = act((x W_h + b_in_h) + r * (h U_h + b_rec_h))``; without,
    ``hh = act((x W_h + b_h) + (r * h) U_h)``; then ``h = z * h_tm1 + (1 - z) * hh``.

    Parameters
    ----------
    units : int
    activation, recurrent_activation : str or None
        Keras activation names (``None`` is linear). ``hard_sigmoid`` follows
        ``keras_version``: Keras 3 ``relu6(x + 3) / 6``, Keras 2 ``clip(0.2 x + 0.5, 0, 1)``.
    use_bias, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask : bool
        As in Keras 3.
    reset_after : bool
        Keras's GRU convention, default True (Keras 3 / TF2; cuDNN-compatible). False is the
        Keras 1 / TF1 convention (``reset_after=False`` in legacy saved models).
    dtype : {"float32", "float64"}
        Compute dtype (Keras ``dtype=``).
    keras_version : {2, 3}
        The Keras that produced the weights.
    **kwargs
        Training-only Keras arguments (``dropout``, ``recurrent_dropout``, ``unroll``,
        initializers, ...) are accepted and ignored.

    Calling ``layer(x, initial_state=[h], mask=mask)`` returns the output, or
    ``[output, h]`` with ``return_state``.
    """

    GATES = 3
    STATE_NAMES = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, reset_after=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, use_bias=use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    @property
    def CELL(self):
        return GRU_CELL if self.reset_after else GRU_RESET_BEFORE_CELL

    def weight_shapes(self, input_dim):
        """Keras weight shapes, in ``get_weights()`` order; the bias is ``(2, 3U)`` with
        ``reset_after``."""
        shapes = super().weight_shapes(input_dim)
        if self.use_bias and self.reset_after:
            shapes[2] = (2, 3 * self.units)
        return shapes

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config

    def preprocess_weights_for_loading(self, weights):
        """CuDNN-layout weights (a bias of 6U) are converted, as tf-keras loads them."""
        if self.reset_after and len(weights) == 3 and np.shape(weights[2]) == (6 * self.units,):
            return convert_cudnn_gru_weights(weights)
        return list(weights)


class CuDNNGRU(GRU):
    """Keras 2 ``CuDNNGRU``, as tf-keras loads it from an ``.h5``: ``GRU(reset_after=True)``
    with tanh / sigmoid and a bias (weights converted by ``preprocess_weights_for_loading``)."""

    @classmethod
    def from_config(cls, config, keras_version=3):
        config = dict(config, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                      reset_after=True)
        return GRU.from_config(config, keras_version)
