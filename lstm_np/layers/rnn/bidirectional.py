"""``Bidirectional``: a recurrent layer run forwards and backwards, merged (Keras 3
``keras/src/layers/rnn/bidirectional.py``)."""
import numpy as np

from ._rnn import RecurrentLayer, RNNLayer

__all__ = ["Bidirectional"]


class Bidirectional(RecurrentLayer):
    """Run a recurrent layer forwards and backwards and merge (Keras ``Bidirectional``).

    ``backward_layer`` has ``go_backwards=True``; without one it is made from the forward
    layer's config as Keras does (Keras 3 sets ``go_backwards=True``, Keras 2 toggles it).
    Its output sequence is flipped back to input order when ``return_sequences``. Both
    directions get ``zero_output_for_mask = return_sequences`` (Keras
    ``force_zero_output_for_mask``). Outputs: ``merged`` or ``[y_fwd, y_bwd]``
    (``merge_mode=None``), followed by the forward then the backward states with
    ``return_state``; ``initial_state`` is split in halves. Weights: the forward layer's,
    then the backward layer's.
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave", None)
    sublayer_config_keys = ("layer", "backward_layer")

    def __init__(self, forward_layer, backward_layer=None, merge_mode="concat", name=None,
                 weights=None, **kwargs):
        super().__init__(name=name or "bidirectional", **kwargs)
        if merge_mode not in self.MERGE_MODES:
            self._fail(f"merge_mode={merge_mode!r} is not supported")
        if backward_layer is None and isinstance(forward_layer, RNNLayer):
            backward_layer = self._backward_of(forward_layer)
        for layer in (forward_layer, backward_layer):
            if not isinstance(layer, RNNLayer):
                self._fail(f"wrapped layer {type(layer).__name__} is not a supported "
                           f"recurrent layer")
        if (forward_layer.return_sequences != backward_layer.return_sequences
                or forward_layer.return_state != backward_layer.return_state):
            self._fail("forward and backward layers disagree on return_sequences/return_state")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.merge_mode = merge_mode
        self.n_sequence_outputs = 2 if merge_mode is None else 1
        self.return_sequences = forward_layer.return_sequences
        self.return_state = forward_layer.return_state
        self.stateful = forward_layer.stateful
        for layer in (forward_layer, backward_layer):
            layer.zero_output_for_mask = self.return_sequences

    def _backward_of(self, layer):
        """The backward layer Keras makes from the forward layer's config."""
        config = layer.get_config()
        config["go_backwards"] = (not config["go_backwards"]) if self.keras_version == 2 else True
        config["name"] = "backward_" + layer.name
        return type(layer).from_config(config, self.keras_version)

    @classmethod
    def from_config(cls, config, keras_version=3):
        """Keras's config names the forward layer ``layer`` (built by the registry)."""
        config = dict(config)
        return super().from_config(dict(config, forward_layer=config.pop("layer", None)),
                                   keras_version)

    @property
    def sublayers(self):
        return (self.forward_layer, self.backward_layer)

    @property
    def output_width(self):
        width = self.forward_layer.units
        return 2 * width if self.merge_mode == "concat" else width

    @property
    def state_units(self):
        return self.forward_layer.state_units + self.backward_layer.state_units

    # -------------------------------------------------------------------- call
    def _run(self, x, mask, initial_state, keep):
        """Both directions: ``(outputs (merged, then states), cache)``."""
        fwd_state = bwd_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        y, s_f, c_f = self.forward_layer.forward(x, initial_state=fwd_state, mask=mask,
                                                 keep=keep)
        y_rev, s_b, c_b = self.backward_layer.forward(x, initial_state=bwd_state, mask=mask,
                                                      keep=keep)
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        states = [s for s in s_f] + [s for s in s_b] if self.return_state else []
        mode = self.merge_mode
        if mode == "concat":
            ys = [np.concatenate([y, y_rev], axis=-1)]
        elif mode == "sum":
            ys = [y + y_rev]
        elif mode == "ave":
            ys = [(y + y_rev) / y.dtype.type(2)]
        elif mode == "mul":
            ys = [y * y_rev]
        else:
            ys = [y, np.ascontiguousarray(y_rev)]
        return ys + states, (c_f, c_b, y, y_rev, initial_state is not None)

    def call(self, inputs, mask=None, initial_state=None):
        outputs, _ = self._run(inputs, mask, initial_state, keep=False)
        return self._structured(outputs)

    # --------------------------------------------------------------- gradients
    def tape_forward(self, inputs, mask=None, initial_state=None):
        outputs, cache = self._run(inputs, mask, initial_state, keep=True)
        return self._structured(outputs), cache

    def tape_backward(self, cache, d_outputs):
        c_f, c_b, y, y_rev, has_initial_state = cache
        g = d_outputs[0]
        mode = self.merge_mode
        if mode == "concat":
            u = y.shape[-1]
            d_y, d_rev = g[..., :u], g[..., u:]
        elif mode == "sum":
            d_y = d_rev = g
        elif mode == "ave":
            d_y = d_rev = g / y.dtype.type(2)
        elif mode == "mul":
            d_y, d_rev = g * y_rev, g * y
        else:
            d_y, d_rev = d_outputs[0], d_outputs[1]
        if self.return_sequences:
            d_rev = d_rev[:, ::-1]          # back to the backward layer's processing order
        d_states = list(d_outputs[self.n_sequence_outputs:])
        n_s = len(self.forward_layer.state_units) if self.return_state else 0
        gf = self.forward_layer.backward(d_y, d_states[:n_s] or None, c_f)
        gb = self.backward_layer.backward(d_rev, d_states[n_s:] or None, c_b)
        d_kwargs = ({"initial_state": gf["initial_state"] + gb["initial_state"]}
                    if has_initial_state else {})
        return gf["x"] + gb["x"], d_kwargs, gf["weights"] + gb["weights"]

    def get_config(self):
        return {"name": self.name, "merge_mode": self.merge_mode,
                "layer": self.forward_layer.serialize(),
                "backward_layer": self.backward_layer.serialize()}

    def __repr__(self):
        return f"Bidirectional({self.forward_layer!r}, merge_mode={self.merge_mode!r})"
