"""Keras activations as integer codes and one vectorised kernel.

Kernels cannot take strings, so a Keras activation name is resolved once, in Python, to an
integer code (:func:`resolve`); :func:`_activate` then dispatches on that code inside the
jitted loops. Definitions follow Keras 3 (``keras/src/activations/activations.py`` and
``keras/src/backend/tensorflow/nn.py``), with one Keras-version switch: ``hard_sigmoid`` is
``relu6(x + 3) / 6`` in Keras 3 and ``clip(0.2 * x + 0.5, 0, 1)`` in Keras 2 (tf-keras
``backend.hard_sigmoid``); ``hard_silu`` is ``x * hard_sigmoid(x)`` with the Keras 3 form.

Every form is written so that it cannot overflow for finite input (``|x|`` up to float max),
except ``exponential`` (and ``selu`` above ``max / 1.0507``), which overflow to ``inf``
exactly as Keras's do. Neither form emits NumPy warnings, for any input including +-inf:
where Keras gives NaN (``silu(-inf)``, ``softsign(inf)``) both forms give it quietly.
"""
import math

import numpy as np

from ._jit import jit
from .errors import UnsupportedKerasFeature

__all__ = ["ACTIVATIONS", "resolve", "activate", "UnsupportedActivation"]

LINEAR, TANH, SIGMOID, HARD_SIGMOID, HARD_SIGMOID_K2, RELU, RELU6, LEAKY_RELU = range(8)
ELU, SELU, CELU, SOFTPLUS, SOFTSIGN, EXPONENTIAL, SILU, GELU = range(8, 16)
HARD_SILU, MISH, LOG_SIGMOID, HARD_TANH, TANH_SHRINK, SOFT_SHRINK, SPARSE_PLUS = range(16, 23)
SQUAREPLUS, SPARSE_SIGMOID, HARD_SHRINK = range(23, 26)

#: Keras name -> code (aliases included); ``hard_sigmoid`` depends on the Keras version.
ACTIVATIONS = {
    "linear": LINEAR, "tanh": TANH, "sigmoid": SIGMOID, "hard_sigmoid": HARD_SIGMOID,
    "relu": RELU, "relu6": RELU6, "leaky_relu": LEAKY_RELU, "elu": ELU, "selu": SELU,
    "celu": CELU, "softplus": SOFTPLUS, "softsign": SOFTSIGN, "exponential": EXPONENTIAL,
    "silu": SILU, "swish": SILU, "gelu": GELU, "hard_silu": HARD_SILU, "hard_swish": HARD_SILU,
    "mish": MISH, "log_sigmoid": LOG_SIGMOID, "hard_tanh": HARD_TANH,
    "tanh_shrink": TANH_SHRINK, "soft_shrink": SOFT_SHRINK, "sparse_plus": SPARSE_PLUS,
    "squareplus": SQUAREPLUS, "sparse_sigmoid": SPARSE_SIGMOID, "hard_shrink": HARD_SHRINK,
}

# tf.nn.leaky_relu keeps its alpha as a float32 constant, so Keras's 0.2 slope is float32(0.2)
# = 0.20000000298023224 even in float64 models (checked against Keras 3 float64 predict).
_LEAKY_SLOPE = 0.20000000298023224
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class UnsupportedActivation(UnsupportedKerasFeature):
    """An activation lstm_np does not implement (for example ``softmax`` inside an RNN)."""


def resolve(identifier, keras_version=3, where="activation"):
    """Return the integer code of a Keras activation identifier.

    Parameters
    ----------
    identifier : str, None, or a Keras-serialised dict ``{"class_name": ..., "config": ...}``
        ``None`` means ``linear``, as in Keras.
    keras_version : {2, 3}
        Which Keras wrote the model: selects the ``hard_sigmoid`` formula.
    where : str
        Named in the error message (for example ``"LSTM 'lstm_1' recurrent_activation"``).
    """
    if identifier is None:
        return LINEAR
    name = identifier
    if isinstance(identifier, dict):  # Keras 3 may serialise built-ins as dicts
        name = identifier.get("config", identifier.get("class_name"))
    if hasattr(identifier, "__name__"):  # a live Keras activation function
        name = identifier.__name__
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UnsupportedActivation(
            f"{where}: unsupported activation {identifier!r}; lstm_np supports "
            f"{sorted(ACTIVATIONS)}")
    code = ACTIVATIONS[name]
    if code == HARD_SIGMOID and int(keras_version) == 2:
        code = HARD_SIGMOID_K2
    return code


@jit
def _sigmoid(x):
    T = x.dtype.type
    # Split on the sign so that exp never overflows: exp(-|x|) is in (0, 1].
    e = np.exp(-np.abs(x))
    return np.where(x >= T(0), T(1) / (T(1) + e), e / (T(1) + e))


@jit
def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), as tf.math.softplus.
    return np.maximum(x, x.dtype.type(0)) + np.log1p(np.exp(-np.abs(x)))


@jit
def _erf(x):
    out = np.empty_like(x)
    flat_in = x.ravel()
    flat_out = out.ravel()
    for i in range(flat_in.size):
        flat_out[i] = math.erf(flat_in[i])
    return out


def _activate_arrays(x, code):
    """NumPy form of :func:`_activate`: whole-array expressions (the no-numba path).

    Constants are built with ``T = x.dtype.type`` so float32 stays float32 in both numba
    and NumPy (a bare Python float would promote numba's result to float64).
    """
    T = x.dtype.type
    zero = T(0)
    if code == LINEAR:
        return x.copy()
    if code == TANH:
        return np.tanh(x)
    if code == SIGMOID:
        return _sigmoid(x)
    if code == HARD_SIGMOID:  # Keras 3: relu6(x + 3) / 6, a true division
        return np.minimum(np.maximum(x + T(3), zero), T(6)) / T(6)
    if code == HARD_SIGMOID_K2:  # Keras 2: clip(0.2 x + 0.5, 0, 1)
        return np.minimum(np.maximum(x * T(0.2) + T(0.5), zero), T(1))
    if code == RELU:
        return np.maximum(x, zero)
    if code == RELU6:
        return np.minimum(np.maximum(x, zero), T(6))
    if code == LEAKY_RELU:  # Keras 3 default negative_slope=0.2 (as float32, like TF)
        return np.where(x >= zero, x, x * T(_LEAKY_SLOPE))
    if code == ELU:
        return np.where(x > zero, x, np.expm1(np.minimum(x, zero)))
    if code == SELU:   # scale * x overflows to inf only for x > max / 1.0507, as in Keras
        with np.errstate(over="ignore"):
            return T(_SELU_SCALE) * np.where(
                x > zero, x, T(_SELU_ALPHA) * np.expm1(np.minimum(x, zero)))
    if code == CELU:  # alpha = 1
        return np.maximum(x, zero) + np.expm1(np.minimum(x, zero))
    if code == SOFTPLUS:
        return _softplus(x)
    if code == SOFTSIGN:   # inf / inf = NaN for x = +-inf, as in Keras
        with np.errstate(invalid="ignore"):
            return x / (T(1) + np.abs(x))
    if code == EXPONENTIAL:   # overflows to inf, as Keras's does
        with np.errstate(over="ignore"):
            return np.exp(x)
    # x * f(x) with f(-inf) = 0 gives NaN at x = -inf, as in Keras: quietly, like numba.
    if code == SILU:
        with np.errstate(invalid="ignore"):
            return x * _sigmoid(x)
    if code == GELU:  # Keras activation default: approximate=False (erf form)
        with np.errstate(invalid="ignore"):
            return T(0.5) * x * (T(1) + _erf(x * T(0.7071067811865476)))
    if code == HARD_SILU:
        with np.errstate(invalid="ignore"):
            return x * (np.minimum(np.maximum(x + T(3), zero), T(6)) / T(6))
    if code == MISH:
        with np.errstate(invalid="ignore"):
            return x * np.tanh(_softplus(x))
    if code == LOG_SIGMOID:  # -softplus(-x)
        return -_softplus(-x)
    if code == HARD_TANH:
        return np.minimum(np.maximum(x, T(-1)), T(1))
    if code == TANH_SHRINK:
        return x - np.tanh(x)
    # Below, NaN reaches a branch computed from x (or a clip of x) and so passes through;
    # no branch multiplies +-inf by 0.
    if code == SOFT_SHRINK:  # threshold 0.5: x - clip(x, -0.5, 0.5)
        return x - np.minimum(np.maximum(x, T(-0.5)), T(0.5))
    if code == SPARSE_PLUS:
        xc = np.minimum(np.maximum(x, T(-1)), T(1))  # clipped so the square cannot overflow
        return np.where(x <= T(-1), zero, np.where(x < T(1), T(0.25) * (xc + T(1)) ** 2, x))
    if code == SQUAREPLUS:  # b = 4: (x + sqrt(x^2 + 4)) / 2; large |x| use the limit forms
        # computed in float64 like the numba form: in float32 the sum cancels for x << 0
        xc = np.minimum(np.maximum(x, T(-1e15)), T(1e15)).astype(np.float64)
        y = ((xc + np.sqrt(xc * xc + 4.0)) / 2.0).astype(x.dtype)
        return np.where(x > T(1e15), x, np.where(x < T(-1e15), zero, y))
    if code == SPARSE_SIGMOID:
        return np.where(x <= T(-1), zero, np.where(x >= T(1), T(1), T(0.5) * (x + T(1))))
    if code == HARD_SHRINK:
        return x * (np.abs(x) > T(0.5))
    raise ValueError("unknown activation code")


@jit
def _act(v, code):
    """Activation ``code`` of one number, computed in float64 (rounded once on store).

    Scalar loops over this are what numba runs fastest (glibc ``exp`` is ~3 ns, ``tanh``
    ~20 ns), so tanh and sigmoid are written with ``exp``; every branch is accurate to a
    few float64 ulps, so float32 results are correctly rounded or within one ulp.
    """
    v = float(v)
    if code == LINEAR or v != v:   # NaN passes through every activation, as in Keras
        return v
    if code == TANH:
        return _tanh1(v)
    if code == SIGMOID:
        return _sigmoid1(v)
    if code == HARD_SIGMOID:
        return min(max(v + 3.0, 0.0), 6.0) / 6.0
    if code == HARD_SIGMOID_K2:
        return min(max(v * 0.2 + 0.5, 0.0), 1.0)
    if code == RELU:
        return v if v > 0.0 else 0.0
    if code == RELU6:
        return min(max(v, 0.0), 6.0)
    if code == LEAKY_RELU:
        return v if v >= 0.0 else v * _LEAKY_SLOPE
    if code == ELU:
        return v if v > 0.0 else math.expm1(v)
    if code == SELU:
        return _SELU_SCALE * (v if v > 0.0 else _SELU_ALPHA * math.expm1(v))
    if code == CELU:
        return max(v, 0.0) + math.expm1(min(v, 0.0))
    if code == SOFTPLUS:
        return _softplus1(v)
    if code == SOFTSIGN:
        return v / (1.0 + abs(v))
    if code == EXPONENTIAL:
        return math.exp(v) if v < 709.0 else math.inf
    if code == SILU:
        return v * _sigmoid1(v)
    if code == GELU:
        return 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))
    if code == HARD_SILU:
        return v * (min(max(v + 3.0, 0.0), 6.0) / 6.0)
    if code == MISH:
        return v * _tanh1(_softplus1(v))
    if code == LOG_SIGMOID:
        return -_softplus1(-v)
    if code == HARD_TANH:
        return min(max(v, -1.0), 1.0)
    if code == TANH_SHRINK:
        return v - _tanh1(v)
    if code == SOFT_SHRINK:
        return v - 0.5 if v > 0.5 else (v + 0.5 if v < -0.5 else 0.0 * v)
    if code == SPARSE_PLUS:
        return 0.0 if v <= -1.0 else (0.25 * (v + 1.0) ** 2 if v < 1.0 else v)
    if code == SQUAREPLUS:
        if v > 1e15:
            return v
        if v < -1e15:
            return 0.0
        return (v + math.sqrt(v * v + 4.0)) / 2.0
    if code == SPARSE_SIGMOID:
        return 0.0 if v <= -1.0 else (1.0 if v >= 1.0 else 0.5 * (v + 1.0))
    if code == HARD_SHRINK:
        return v if abs(v) > 0.5 else 0.0 * v
    raise ValueError("unknown activation code")


@jit
def _sigmoid1(v):
    e = math.exp(-abs(v))          # in (0, 1]: never overflows
    r = 1.0 / (1.0 + e)
    return r if v >= 0.0 else e * r


@jit
def _softplus1(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@jit
def _tanh1(v):
    a = abs(v)
    if a < 0.01:   # odd Taylor series: (1 - e) / (1 + e) would cancel here
        a2 = a * a
        t = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0))))
    else:
        e = math.exp(-2.0 * a)
        t = (1.0 - e) / (1.0 + e)
    return t if v >= 0.0 else -t


# Eigen's float32 tanh (``generic_fast_tanh_float``, Eigen/src/Core/MathFunctionsImpl.h):
# a 13/6-degree rational interpolant, a couple of ulps on [-8, 8], clamped where it reaches
# exactly 1 (the non-FMA clamp), and ``tanh(x) = x`` below 4e-4. It is what TF's CPU kernels
# evaluate for float32 tanh, and it is branch-free, so LLVM vectorises loops over it (a libm
# call stays scalar). Used only by the fused float32 LSTM gates; float64 stays exact.
_F32 = np.float32
_TANH_CLAMP = _F32(7.90531110763549805)
_TANH_TINY = _F32(0.0004)
_TANH_A = tuple(_F32(a) for a in (-2.76076847742355e-16, 2.00018790482477e-13,
                                  -8.60467152213735e-11, 5.12229709037114e-08,
                                  1.48572235717979e-05, 6.37261928875436e-04,
                                  4.89352455891786e-03))
_TANH_B = tuple(_F32(b) for b in (1.19825839466702e-06, 1.18534705686654e-04,
                                  2.26843463243900e-03, 4.89352518554385e-03))


@jit
def _tanh_f32(v):
    """float32 tanh by Eigen's rational form (above); NaN and +-inf as ``np.tanh``."""
    x = min(max(v, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = _TANH_A[0]
    p = p * x2 + _TANH_A[1]
    p = p * x2 + _TANH_A[2]
    p = p * x2 + _TANH_A[3]
    p = p * x2 + _TANH_A[4]
    p = p * x2 + _TANH_A[5]
    p = p * x2 + _TANH_A[6]
    q = _TANH_B[0]
    q = q * x2 + _TANH_B[1]
    q = q * x2 + _TANH_B[2]
    q = q * x2 + _TANH_B[3]
    r = (x * p) / q
    return r if abs(v) >= _TANH_TINY else v      # NaN fails the test and passes through


@jit
def _sigmoid_f32(v):
    """float32 sigmoid as ``0.5 * tanh(v / 2) + 0.5`` with :func:`_tanh_f32` (exact identity)."""
    h = _F32(0.5)
    return h * _tanh_f32(h * v) + h


def _activate_loop(x, code):
    """numba form of :func:`_activate`: one scalar :func:`_act` per element, no temporaries."""
    xc = np.ascontiguousarray(x)
    out = np.empty_like(xc)
    flat_in = xc.reshape(-1)
    flat_out = out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = _act(flat_in[i], code)
    return out


_activate = jit(_activate_loop, fallback=_activate_arrays)
_activate.__doc__ = """Apply activation ``code`` elementwise to ``x``; a new C-contiguous array of x's dtype."""


def activate(x, code):
    """Apply the activation with integer ``code`` (see :func:`resolve`) to array ``x``."""
    x = np.asarray(x)
    return _activate(x, code)
