"""Replay Keras-made golden fixtures without TensorFlow.

``tests/golden/*.npz`` come from ``tests/golden/make_golden.py`` (real Keras 3 and tf-keras,
briefly trained weights): LSTM, GRU (``reset_after`` True and False) and SimpleRNN. The constant-initializer values below are the ones Keras asserts in
its own ``keras/src/layers/rnn/lstm_test.py``.
"""
import json
import pathlib

import numpy as np
import pytest

import lstm_np as ln

pytestmark = pytest.mark.numba   # Keras truth for the numba path; CI replays on NumPy too

GOLDEN = sorted((pathlib.Path(__file__).parent / "golden").glob("*.npz"))
TOL = {"float32": dict(atol=1e-5, rtol=1e-5), "float64": dict(atol=1e-12, rtol=1e-12)}
LAYERS = {"LSTM": lambda: ln.LSTM, "GRU": lambda: ln.GRU, "SimpleRNN": lambda: ln.SimpleRNN}


def test_fixtures_exist():
    assert len(GOLDEN) >= 26
    kinds = {p.stem.split("_")[0] for p in GOLDEN}
    assert kinds == {"lstm", "gru", "simple"}


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_fixture(path):
    data = np.load(path, allow_pickle=False)
    cfg = json.loads(str(data["config"]))
    cls = LAYERS[cfg["layer"]]()
    layer = cls(cfg["units"], return_state=True, dtype=cfg["dtype"],
                keras_version=cfg["keras_version"], **cfg["options"])
    layer.set_weights([data[f"weight_{k}"] for k in range(len(layer.weight_shapes(1)))])
    mask = data["mask"] if "mask" in data else None
    states = [data[k] for k in sorted(data) if k.startswith("state_")] or None
    for c in range(cfg["calls"]):
        got = layer(data[f"x_{c}"], initial_state=states, mask=mask)
        expected = [data[k] for k in sorted(data) if k.startswith(f"out_{c}_")]
        assert len(got) == len(expected)
        for j, (g, e) in enumerate(zip(got, expected)):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, **TOL[cfg["dtype"]], err_msg=f"call {c} output {j}")


SEQ = np.arange(72, dtype=np.float32).reshape(3, 6, 4)


def constant_lstm(units, input_dim, unit_forget_bias=True, **kw):
    """Keras's test layer: Constant(0.01) kernel, Constant(0.02) recurrent, Constant(0.03) bias.

    With ``unit_forget_bias`` (the default) Keras initialises the forget-gate bias to ones.
    """
    layer = ln.LSTM(units, **kw)
    bias = np.full(4 * units, 0.03)
    if unit_forget_bias:
        bias[units:2 * units] = 1.0
    layer.set_weights([np.full((input_dim, 4 * units), 0.01), np.full((units, 4 * units), 0.02),
                       bias])
    return layer


@pytest.mark.parametrize("kw, expected", [
    ({}, [0.6288687, 0.86899155, 0.9460773]),
    ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
])
def test_keras_lstm_test_correctness_values(kw, expected):
    """Keras's ``LSTMTest.test_correctness``: every unit equal, one value per sample."""
    out = constant_lstm(3, 4, **kw)(SEQ)
    np.testing.assert_allclose(out, np.repeat(np.array(expected)[:, None], 3, axis=1), atol=1e-6)


def test_keras_lstm_test_masking_values():
    """Keras's ``LSTMTest.test_masking``: row 0 sequence, with and without zero_output_for_mask."""
    seq = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    expected = [0.0158891, 0.05552048, 0.11755939, 0.11755939]
    out = constant_lstm(2, 3, return_sequences=True)(seq, mask=mask)
    np.testing.assert_allclose(out[0, :, 0], expected, atol=1e-6)
    out = constant_lstm(2, 3, return_sequences=True, zero_output_for_mask=True)(seq, mask=mask)
    np.testing.assert_allclose(out[0, :, 0], expected[:3] + [0.0], atol=1e-6)
