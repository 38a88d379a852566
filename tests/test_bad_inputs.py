"""``predict`` input checking: bad inputs raise ``InputError`` (a ``ValueError`` and an
``LstmNpError``) naming what was expected and what was received; odd but valid inputs
(empty batch, Fortran / strided arrays, float16, NaN) run.

Chosen behaviours: Embedding ids outside ``[0, input_dim)`` raise an error naming the
range (Keras on CPU would silently gather zeros or garbage); an empty batch returns empty
outputs of the right shape; zero timesteps raise an error (a recurrent layer needs at
least one step); float16 inputs are computed in float32; NaN / inf propagate.
"""
import os
import warnings

import numpy as np
import pytest

import lstm_np as ln
from lstm_np.errors import InputError
from lstm_np.layers import LSTM, Dense, InputLayer
from lstm_np.layers.core import Embedding
from tests.test_model import _two_input_model

ALPHABET = os.path.join(os.path.dirname(ln.__file__), "data", "alphabet.keras")


@pytest.fixture(scope="module")
def alphabet():
    return ln.load(ALPHABET)   # input (None, 5, 1) -> Masking -> LSTM(64) -> Dense


@pytest.fixture(scope="module")
def embed_model():
    rng = np.random.default_rng(3)
    emb, lstm, dense = Embedding(10, 4, name="emb"), LSTM(6, name="lstm"), Dense(3, name="d")
    emb.set_weights([rng.standard_normal((10, 4))])
    lstm.set_weights([rng.standard_normal((4, 24)), rng.standard_normal((6, 24)),
                      rng.standard_normal(24)])
    dense.set_weights([rng.standard_normal((6, 3)), rng.standard_normal(3)])
    layers = [InputLayer(batch_shape=(None, None), name="ids"), emb, lstm, dense]
    nodes = [{"layer": "ids", "args": None}, {"layer": "emb", "args": [0, 0]},
             {"layer": "lstm", "args": [1, 0]}, {"layer": "d", "args": [2, 0]}]
    return ln.Model(layers, nodes, inputs=[[0, 0]], outputs=[3, 0], name="emb")


def _x(rng, b=3, t=5):
    return rng.random((b, t, 1)).astype(np.float32)


def test_error_family():
    assert issubclass(InputError, ln.LstmNpError) and issubclass(InputError, ValueError)


@pytest.mark.parametrize("shape", [(3, 5), (3, 5, 1, 1), (5,)])
def test_wrong_rank(alphabet, shape):
    with pytest.raises(InputError, match=r"must have shape \(None, 5, 1\).*received"):
        alphabet.predict(np.zeros(shape, np.float32))


def test_wrong_feature_size_and_timesteps(alphabet):
    with pytest.raises(InputError, match=r"\(None, 5, 1\).*\(3, 5, 2\)"):
        alphabet.predict(np.zeros((3, 5, 2), np.float32))
    with pytest.raises(InputError, match=r"\(None, 5, 1\).*\(3, 4, 1\)"):
        alphabet.predict(np.zeros((3, 4, 1), np.float32))


def test_scalar_input(alphabet):
    with pytest.raises(InputError):
        alphabet.predict(np.float32(1.0))


def test_wrong_number_of_inputs(rng):
    model = _two_input_model(rng)
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 4))
    with pytest.raises(InputError, match=r"2 input\(s\).*received 3"):
        model.predict([a, b, a])
    with pytest.raises(InputError, match="missing input"):
        model.predict({"a": a})


@pytest.mark.parametrize("dtype", [object, str, "U3", "S3", complex])
def test_non_numeric_arrays(alphabet, dtype):
    x = np.zeros((2, 5, 1)).astype(dtype)
    with pytest.raises(InputError, match="must be numeric"):
        alphabet.predict(x)


def test_ragged_list(alphabet):
    with pytest.raises(InputError):
        alphabet.predict([[[0.0]] * 5, [[0.0]] * 4])


def test_embedding_ids_out_of_range(embed_model):
    ok = embed_model.predict(np.array([[1, 2, 9]]))
    assert ok.shape == (1, 3)
    for bad in ([[1, 2, 10]], [[-1, 0, 1]]):
        with pytest.raises(InputError, match=r"indices must be in \[0, 10\)"):
            embed_model.predict(np.array(bad))


def test_empty_batch(alphabet, embed_model, rng):
    out = alphabet.predict(np.zeros((0, 5, 1), np.float32))
    assert out.shape == (0,) + alphabet.predict(_x(rng, 1)).shape[1:]
    assert out.dtype == np.float32
    assert embed_model.predict(np.zeros((0, 7), np.int64)).shape == (0, 3)
    model = _two_input_model(rng)
    outs = model.predict([np.zeros((0, 2)), np.zeros((0, 4))])
    assert [o.shape for o in outs] == [(0, 3), (0, 3)]


def test_zero_timesteps(embed_model):
    with pytest.raises(InputError, match="at least one timestep"):
        embed_model.predict(np.zeros((2, 0), np.int64))


def test_layout_and_dtype_variants(alphabet, rng):
    x = _x(rng, 4)
    want = alphabet.predict(x)
    fortran = np.asfortranarray(x)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(alphabet.predict(fortran), want)
    big = np.zeros((4, 10, 2), np.float32)
    big[:, ::2, :1] = x
    strided = big[:, ::2, :1]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(alphabet.predict(strided), want)
    np.testing.assert_array_equal(alphabet.predict(x.astype(np.float64)), want)
    half = x.astype(np.float16)
    out16 = alphabet.predict(half)
    assert out16.dtype == np.float32
    np.testing.assert_array_equal(out16, alphabet.predict(half.astype(np.float32)))
    np.testing.assert_array_equal(alphabet.predict(x.tolist()), want)


def test_nan_and_inf_propagate_quietly(alphabet, rng):
    x = _x(rng, 3)
    x[0, 2, 0] = np.nan
    x[1, 3, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = alphabet.predict(x)
    assert np.isnan(out[0]).all()
    assert out.shape == (3, out.shape[1])
    assert np.isfinite(out[2]).all()   # other samples are unaffected
    np.testing.assert_allclose(out[2], alphabet.predict(x[2:])[0], rtol=1e-4, atol=1e-7)
    # NumPy's error state is left alone: benign underflow in exp (softmax) is not an error,
    # so np.errstate(all="raise") is not supported around predict; invalid/divide are quiet
    with np.errstate(divide="raise"):
        alphabet.predict(x)


def test_batch_size_must_be_positive(alphabet, rng):
    with pytest.raises(InputError, match="batch_size must be positive"):
        alphabet.predict(_x(rng), batch_size=0)
