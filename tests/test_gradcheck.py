"""The backward pass against central finite differences, in float64, without TensorFlow.

The scalar checked is ``L = sum(out * d_out) + sum(h * dh) + sum(c * dc)`` for random
upstream gradients (without ``c`` for the GRU and SimpleRNN), evaluated by the
independent oracle ``tests/naive.py`` (not by lstm_np's forward), so both the forward
semantics and the backward are checked, for every cell family. Every element of every
input (x, h0, c0, kernel, recurrent_kernel, bias) is perturbed by
``EPS = 1e-6``: truncation error ~EPS**2, rounding ~1e-16 / EPS, hence ``TOL = 1e-7``
relative to ``max(1, max|gradient|)``. Measured maximum: ~1e-9.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from .cells import CELLS, STATE_NAMES, make_cell_data, make_cell_layer, oracle_cell
from .strategies import rnn_configs

EPS = 1e-6
TOL = 1e-7
# Smooth activations: a central difference straddling a kink would be meaningless.
SMOOTH = ["tanh", "sigmoid", "softsign", "softplus", "linear", "silu", "gelu", "mish"]


def loss_fn(cell, cfg, mask, d_out, d_states):
    """``loss(x, *states, kernel, recurrent_kernel, bias)`` through the oracle."""
    n = CELLS[cell][1]

    def loss(x, *args):
        states, (kernel, recurrent_kernel, bias) = list(args[:n]), args[n:]
        out, *final = oracle_cell(cell, dict(cfg, use_bias=bias is not None),
                                  [kernel, recurrent_kernel, bias], x, mask, states)
        return float(np.sum(out * d_out) + sum(np.sum(s * d) for s, d in zip(final, d_states)))
    return loss


def finite_differences(loss, args):
    grads = []
    for k, a in enumerate(args):
        if a is None:
            grads.append(None)
            continue
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + EPS
            up = loss(*args)
            a[idx] = old - EPS
            down = loss(*args)
            a[idx] = old
            g[idx] = (up - down) / (2 * EPS)
        grads.append(g)
    return grads


def check(cfg, cell="lstm"):
    cfg = dict(cfg, dtype="float64")
    weights, x, mask, states = make_cell_data(cell, cfg)
    B, U = cfg["batch"], cfg["units"]
    n = CELLS[cell][1]
    rng = np.random.default_rng(cfg["seed"] + 2)
    if states is None:
        states = [rng.standard_normal((B, U)) * 0.5 for _ in range(n)]
    d_out = rng.standard_normal((B, cfg["timesteps"], U) if cfg["return_sequences"] else (B, U))
    d_states = rng.standard_normal((n, B, U))
    layer = make_cell_layer(cell, cfg, return_state=False)
    layer.set_weights(weights)
    _, _, cache = layer.forward(x, initial_state=states, mask=mask, keep=True)
    g = layer.backward(d_out, list(d_states), cache)
    bias = weights[2] if cfg["use_bias"] else None
    args = ([x.copy()] + [s.copy() for s in states]
            + [weights[0].copy(), weights[1].copy(), None if bias is None else bias.copy()])
    fd = finite_differences(loss_fn(cell, cfg, mask, d_out, d_states), args)
    ours = [g["x"]] + g["initial_state"] + [g["kernel"], g["recurrent_kernel"], g.get("bias")]
    names = ["x", *STATE_NAMES[cell], "kernel", "recurrent_kernel", "bias"]
    worst = []
    for name, a, b in zip(names, ours, fd):
        if b is None:
            assert a is None, name
            continue
        scale = max(1.0, float(np.abs(b).max()))
        err = float(np.abs(a - b).max())
        worst.append(err / scale)
        assert err <= TOL * scale, f"{name}: max error {err:.3g} (scale {scale:.3g})\n{cfg}"
    return max(worst)


@settings(max_examples=15)
@given(rnn_configs(activations=SMOOTH, max_units=4, max_timesteps=6, max_batch=3,
                   dtypes=("float64",)))
def test_gradients_match_finite_differences(cfg):
    """Drawn configurations: masks, direction, output carry, sequences, bias."""
    check(cfg)


OTHER_CELLS = [c for c in CELLS if c != "lstm"]


@settings(max_examples=12)
@given(st.sampled_from(OTHER_CELLS),
       rnn_configs(activations=SMOOTH, max_units=4, max_timesteps=6, max_batch=3,
                   dtypes=("float64",)))
def test_gru_simple_rnn_match_finite_differences(cell, cfg):
    """The same for the GRU (both ``reset_after``) and the SimpleRNN."""
    check(cfg, cell)


BASE = dict(units=3, input_dim=2, batch=3, timesteps=6, activation="tanh",
            recurrent_activation="sigmoid", use_bias=True, return_sequences=True,
            return_state=True, go_backwards=False, zero_output_for_mask=False,
            mask_kind="none", initial_state=True, weight_scale=1.0, dtype="float64", seed=11)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("case", [
    dict(),
    dict(return_sequences=False),
    dict(go_backwards=True),
    dict(mask_kind="random"),
    dict(mask_kind="random", go_backwards=True),
    dict(mask_kind="pre", go_backwards=True, return_sequences=False),
    dict(mask_kind="post", return_sequences=False),
    dict(mask_kind="random", zero_output_for_mask=True),
    dict(mask_kind="random", zero_output_for_mask=True, go_backwards=True,
         return_sequences=False),
    dict(mask_kind="all_masked_row", use_bias=False),
    dict(activation="softsign", recurrent_activation="hard_sigmoid", weight_scale=0.5),
    dict(activation="relu", recurrent_activation="sigmoid", weight_scale=0.5),
], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_named_cases_match_finite_differences(case, cell):
    """Masked and go_backwards cases, run explicitly (kinked activations away from kinks)."""
    check(dict(BASE, **case), cell)
