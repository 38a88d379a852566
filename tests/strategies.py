"""Hypothesis strategies: an RNN configuration, then weights, inputs, masks and states for it."""
import numpy as np
from hypothesis import strategies as st

# Activations a saved LSTM may carry; hypothesis draws among them.
ACTIVATION_NAMES = [
    "tanh", "sigmoid", "hard_sigmoid", "relu", "linear", "elu", "selu", "softplus",
    "softsign", "exponential", "swish", "silu", "gelu", "relu6", "hard_silu", "mish",
    "leaky_relu", "celu", "log_sigmoid", "hard_tanh", "tanh_shrink", "soft_shrink",
    "sparse_plus", "squareplus", "sparse_sigmoid", "hard_shrink",
]
# Activations that keep a recurrence bounded, so that long random runs stay comparable.
BOUNDED = ["tanh", "sigmoid", "hard_sigmoid", "softsign", "hard_tanh", "relu6", "sparse_sigmoid"]

MASK_KINDS = ["none", "pre", "post", "random", "all_masked_row"]


@st.composite
def rnn_configs(draw, activations=None, max_units=8, max_timesteps=12, max_batch=4,
                dtypes=("float32", "float64")):
    """A layer configuration plus the data shape it runs on."""
    activations = activations or BOUNDED
    return dict(
        units=draw(st.integers(1, max_units)),
        input_dim=draw(st.integers(1, 6)),
        batch=draw(st.integers(1, max_batch)),
        timesteps=draw(st.integers(1, max_timesteps)),
        activation=draw(st.sampled_from(activations)),
        recurrent_activation=draw(st.sampled_from(activations)),
        use_bias=draw(st.booleans()),
        return_sequences=draw(st.booleans()),
        return_state=draw(st.booleans()),
        go_backwards=draw(st.booleans()),
        zero_output_for_mask=draw(st.booleans()),
        mask_kind=draw(st.sampled_from(MASK_KINDS)),
        initial_state=draw(st.booleans()),
        weight_scale=draw(st.sampled_from([0.1, 0.5, 1.0, 3.0])),
        dtype=draw(st.sampled_from(list(dtypes))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def make_mask(kind, batch, timesteps, rng):
    """A (B, T) bool mask: pre-padded, post-padded, arbitrary, or with a fully masked row."""
    if kind == "none":
        return None
    if kind == "random":
        return rng.random((batch, timesteps)) < 0.7
    lengths = rng.integers(1, timesteps + 1, size=batch)
    t = np.arange(timesteps)[None, :]
    if kind == "pre":     # pad_sequences default: zeros first, data last
        return t >= (timesteps - lengths)[:, None]
    mask = t < lengths[:, None]
    if kind == "all_masked_row":
        mask[rng.integers(batch)] = False
    return mask


def make_data(cfg):
    """Weights (Keras order), input, mask and initial states for a configuration."""
    rng = np.random.default_rng(cfg["seed"])
    dt = np.dtype(cfg["dtype"])
    U, D, B, T, gates = cfg["units"], cfg["input_dim"], cfg["batch"], cfg["timesteps"], cfg.get("gates", 4)
    s = cfg["weight_scale"]
    weights = [(rng.standard_normal((D, gates * U)) * s / np.sqrt(D)).astype(dt),
               (rng.standard_normal((U, gates * U)) * s / np.sqrt(U)).astype(dt)]
    if cfg["use_bias"]:
        weights.append((rng.standard_normal(gates * U) * s).astype(dt))
    x = rng.standard_normal((B, T, D)).astype(dt)
    mask = make_mask(cfg["mask_kind"], B, T, rng)
    n_states = cfg.get("n_states", 2)
    states = ([rng.standard_normal((B, U)).astype(dt) * 0.5 for _ in range(n_states)]
              if cfg["initial_state"] else None)
    return weights, x, mask, states
