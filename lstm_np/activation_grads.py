"""Derivatives of the Keras activations, for the backward pass.

:func:`_activate_grad` returns ``d act(x) / dx`` elementwise for an activation code from
:mod:`lstm_np.activations`. The value at every kink and flat region is the one TensorFlow's
autodiff gives for the Keras 3 TF-backend definition (``keras/src/backend/tensorflow/nn.py``;
tf-keras ``backend.hard_sigmoid`` for the Keras 2 form), checked against
``tf.GradientTape`` in ``tests/test_backward.py``:

===================  =====================================================================
activation           derivative (kinks as TF gives them)
===================  =====================================================================
tanh, sigmoid        from the output: ``1 - y**2``, ``y (1 - y)`` (TF ``TanhGrad``,
                     ``SigmoidGrad``)
hard_sigmoid (K3)    ``1/6`` where ``0 < x + 3 < 6`` (strict: ``relu6`` gives 0 at both ends)
hard_sigmoid (K2)    ``0.2`` where ``0 <= 0.2 x + 0.5 <= 1`` (``clip_by_value``: inclusive)
relu, relu6          ``x > 0`` (and ``x < 6``): relu'(0) = 0, relu6'(6) = 0
leaky_relu           ``1`` where ``x > 0``, else ``0.2``: leaky_relu'(0) = 0.2
elu, selu            ``1`` (selu: ``scale``) where ``y >= 0``, else ``y + 1``
                     (``y + scale*alpha``): elu'(0) = 1, selu'(0) = scale
celu                 ``[x >= 0] + [x <= 0] exp(x)`` (``maximum`` + ``minimum``): celu'(0) = 2
hard_tanh            ``1`` where ``-1 <= x <= 1`` (``clip_by_value``: inclusive)
soft_shrink,         ``1`` where ``|x| > 0.5`` (strict: 0 at ``|x| = 0.5``)
hard_shrink
sparse_plus          ``0`` for ``x <= -1``, ``(x + 1)/2`` for ``-1 < x < 1``, ``1`` for ``x >= 1``
sparse_sigmoid       ``1/2`` where ``-1 < x < 1`` (strict)
hard_silu            ``hs(x) + x hs'(x)`` with the K3 hard_sigmoid ``hs`` above
silu                 ``s (1 + x (1 - s))``, ``s = sigmoid(x)`` (``tf.nn.silu``'s gradient)
===================  =====================================================================

The others are smooth: softplus' = sigmoid, softsign' = ``1/(1+|x|)**2``, exponential' = y,
gelu' (erf form) = ``Phi(x) + x phi(x)``, mish' = ``tanh(sp) + x sigmoid(x) (1 - tanh(sp)**2)``,
log_sigmoid' = ``sigmoid(-x)``, tanh_shrink' = ``tanh(x)**2``,
squareplus' = ``(1 + x / sqrt(x**2 + 4)) / 2``.
"""
import math

import numpy as np

from ._jit import jit
from .activations import (
    CELU, ELU, EXPONENTIAL, GELU, HARD_SHRINK, HARD_SIGMOID, HARD_SIGMOID_K2, HARD_SILU,
    HARD_TANH, LEAKY_RELU, LINEAR, LOG_SIGMOID, MISH, RELU, RELU6, SELU, SIGMOID, SILU,
    SOFT_SHRINK, SOFTPLUS, SOFTSIGN, SPARSE_PLUS, SPARSE_SIGMOID, SQUAREPLUS, TANH,
    TANH_SHRINK, _LEAKY_SLOPE, _SELU_ALPHA, _SELU_SCALE, _erf, _sigmoid, _sigmoid1, _softplus,
    _softplus1, _tanh1,
)

__all__ = ["activate_grad"]


def _activate_grad_arrays(x, y, code):
    """Derivative of activation ``code`` at ``x``, given its output ``y = act(x)`` (the
    NumPy path; the numba path is :func:`_activate_grad_loop`, the same formulas per element).

    Returns a new array of ``x``'s dtype. ``y`` is used where TF's own gradient uses the
    output (tanh, sigmoid, elu, selu, exponential), so the result matches TF's autodiff;
    other forms recompute from ``x``. Constants are built with ``T = x.dtype.type`` so
    float32 stays float32 under numba.
    """
    T = x.dtype.type
    zero = T(0)
    one = T(1)
    if code == LINEAR:
        return np.ones_like(x)
    if code == TANH:
        return one - y * y
    if code == SIGMOID:
        return y * (one - y)
    if code == HARD_SIGMOID:  # relu6(x + 3) / 6: slope only strictly inside
        u = x + T(3)
        return np.where((u > zero) & (u < T(6)), one / T(6), zero)
    if code == HARD_SIGMOID_K2:  # clip(0.2 x + 0.5, 0, 1): clip_by_value passes the ends
        u = x * T(0.2) + T(0.5)
        return np.where((u >= zero) & (u <= one), T(0.2), zero)
    if code == RELU:
        return np.where(x > zero, one, zero)
    if code == RELU6:
        return np.where((x > zero) & (x < T(6)), one, zero)
    if code == LEAKY_RELU:
        return np.where(x > zero, one, T(_LEAKY_SLOPE))
    if code == ELU:  # TF EluGrad: y < 0 ? y + 1 : 1
        return np.where(y < zero, y + one, one)
    if code == SELU:  # TF SeluGrad: y < 0 ? y + scale*alpha : scale
        return np.where(y < zero, y + T(_SELU_SCALE * _SELU_ALPHA), T(_SELU_SCALE))
    if code == CELU:  # maximum(x, 0) + expm1(minimum(x, 0)): both branches count at 0
        return (np.where(x >= zero, one, zero)
                + np.where(x <= zero, np.exp(np.minimum(x, zero)), zero))
    if code == SOFTPLUS:
        return _sigmoid(x)
    if code == SOFTSIGN:
        d = one + np.abs(x)
        return one / (d * d)
    if code == EXPONENTIAL:
        return y.copy()
    if code == SILU:
        s = _sigmoid(x)
        return s * (one + x * (one - s))
    if code == GELU:  # 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
        return (T(0.5) * (one + _erf(x * T(0.7071067811865476)))
                + x * np.exp(T(-0.5) * x * x) * T(0.3989422804014327))
    if code == HARD_SILU:
        u = x + T(3)
        hs = np.minimum(np.maximum(u, zero), T(6)) / T(6)
        return hs + x * np.where((u > zero) & (u < T(6)), one / T(6), zero)
    if code == MISH:
        t = np.tanh(_softplus(x))
        return t + x * _sigmoid(x) * (one - t * t)
    if code == LOG_SIGMOID:
        return _sigmoid(-x)
    if code == HARD_TANH:
        return np.where((x >= T(-1)) & (x <= one), one, zero)
    if code == TANH_SHRINK:
        t = np.tanh(x)
        return t * t
    if code == SOFT_SHRINK or code == HARD_SHRINK:
        return np.where(np.abs(x) > T(0.5), one, zero)
    if code == SPARSE_PLUS:
        return np.where(x <= T(-1), zero, np.where(x < one, T(0.5) * (x + one), one))
    if code == SQUAREPLUS:  # limit forms beyond 1e15, as the forward
        xc = np.minimum(np.maximum(x, T(-1e15)), T(1e15))
        d = T(0.5) * (one + xc / np.sqrt(xc * xc + T(4)))
        return np.where(x > T(1e15), one, np.where(x < T(-1e15), zero, d))
    if code == SPARSE_SIGMOID:
        return np.where((x > T(-1)) & (x < one), T(0.5), zero)
    raise ValueError("unknown activation code")


@jit
def _in(u, f32):
    """``u`` rounded to float32 when the array is float32: a kink's test then sees the sum
    that float32 arithmetic (TF's, and the NumPy path's) computes, e.g. 2.9999998 + 3 == 6."""
    return float(np.float32(u)) if f32 else u


@jit
def _grad1(v, yv, code, f32):
    """:func:`_activate_grad_arrays` for one number, computed in float64 (rounded once on
    store), branch by branch the same comparisons, so kinks and NaNs come out alike; the
    sums tested at a kink are rounded as in the array's dtype (:func:`_in`)."""
    v = float(v)
    yv = float(yv)
    if code == LINEAR:
        return 1.0
    if code == TANH:
        return 1.0 - yv * yv
    if code == SIGMOID:
        return yv * (1.0 - yv)
    if code == HARD_SIGMOID:
        u = _in(v + 3.0, f32)
        return 1.0 / 6.0 if (u > 0.0 and u < 6.0) else 0.0
    if code == HARD_SIGMOID_K2:
        u = _in(_in(v * _in(0.2, f32), f32) + 0.5, f32)
        return 0.2 if (u >= 0.0 and u <= 1.0) else 0.0
    if code == RELU:
        return 1.0 if v > 0.0 else 0.0
    if code == RELU6:
        return 1.0 if (v > 0.0 and v < 6.0) else 0.0
    if code == LEAKY_RELU:
        return 1.0 if v > 0.0 else _LEAKY_SLOPE
    if code == ELU:
        return yv + 1.0 if yv < 0.0 else 1.0
    if code == SELU:
        return yv + _SELU_SCALE * _SELU_ALPHA if yv < 0.0 else _SELU_SCALE
    if code == CELU:
        return (1.0 if v >= 0.0 else 0.0) + (math.exp(v) if v <= 0.0 else 0.0)
    if code == SOFTPLUS:
        return _sigmoid1(v)
    if code == SOFTSIGN:
        d = 1.0 + abs(v)
        return 1.0 / (d * d)
    if code == EXPONENTIAL:
        return yv
    if code == SILU:
        s = _sigmoid1(v)
        return s * (1.0 + v * (1.0 - s))
    if code == GELU:
        return (0.5 * (1.0 + math.erf(v * 0.7071067811865476))
                + v * math.exp(-0.5 * v * v) * 0.3989422804014327)
    if code == HARD_SILU:
        u = _in(v + 3.0, f32)
        inside = u > 0.0 and u < 6.0
        hs = u / 6.0 if inside else (1.0 if u >= 6.0 else (0.0 if u <= 0.0 else u))   # u: NaN
        return hs + v * (1.0 / 6.0 if inside else 0.0)
    if code == MISH:
        t = _tanh1(_softplus1(v))
        return t + v * _sigmoid1(v) * (1.0 - t * t)
    if code == LOG_SIGMOID:
        return _sigmoid1(-v)
    if code == HARD_TANH:
        return 1.0 if (v >= -1.0 and v <= 1.0) else 0.0
    if code == TANH_SHRINK:
        t = _tanh1(v)
        return t * t
    if code == SOFT_SHRINK or code == HARD_SHRINK:
        return 1.0 if abs(v) > 0.5 else 0.0
    if code == SPARSE_PLUS:
        return 0.0 if v <= -1.0 else (0.5 * (v + 1.0) if v < 1.0 else 1.0)
    if code == SQUAREPLUS:  # limit forms beyond 1e15, as the forward
        if v > 1e15:
            return 1.0
        if v < -1e15:
            return 0.0
        return 0.5 * (1.0 + v / math.sqrt(v * v + 4.0))
    if code == SPARSE_SIGMOID:
        return 0.5 if (v > -1.0 and v < 1.0) else 0.0
    raise ValueError("unknown activation code")


def _activate_grad_loop(x, y, code):
    """numba form of :func:`_activate_grad_arrays`: one scalar :func:`_grad1` per element.
    A scalar loop keeps each caller's compiled code small (the array form's 26 branches of
    array expressions, inlined at every call site of the backward, took minutes to compile)."""
    xc = np.ascontiguousarray(x)
    yc = np.ascontiguousarray(y)
    out = np.empty_like(xc)
    fx, fy, fo = xc.reshape(-1), yc.reshape(-1), out.reshape(-1)
    f32 = xc.itemsize == 4
    for i in range(fx.size):
        fo[i] = _grad1(fx[i], fy[i], code, f32)
    return out


_activate_grad = jit(_activate_grad_loop, fallback=_activate_grad_arrays)
_activate_grad.__doc__ = """Derivative of activation ``code`` at ``x`` given ``y = act(x)``; a new
C-contiguous array of x's dtype."""


def activate_grad(x, code, y=None):
    """Derivative of the activation with integer ``code`` at ``x`` (array).

    ``y`` is ``act(x)`` when already known; it is computed otherwise.
    """
    from .activations import _activate
    x = np.asarray(x)
    if y is None:
        y = _activate(x, code)
    return _activate_grad(x, np.asarray(y, dtype=x.dtype), code)
