"""Activations of whole vectors for the JIT kernels' epilogues.

float32 ``tanh`` and ``sigmoid`` are Eigen's rational forms (what TF's CPU kernels compute,
:func:`lstm_np.activations._tanh_f32`) evaluated on vectors; every other activation and
dtype goes lane by lane through the scalar :func:`lstm_np.activations._act` (exact, a few
float64 ulps), via a small scratch array. ``code`` is a constant in the specialised
kernels, so only one branch survives compilation.
"""
import numpy as np
from numba import njit

from ..activations import (
    LINEAR, SIGMOID, TANH, _TANH_A, _TANH_B, _TANH_CLAMP, _TANH_TINY, _act,
)
from .gemm import JIT_OPTIONS
from .simd import (
    vabs, vadd, vbcast, vdiv, vexp2i_mul, vfma, vload, vmax, vmin, vmul, vround, vselect_ge, vstore,
    vsub,
)

__all__ = ["vtanh_f32", "vsigmoid_f32", "vexp_f32", "vact"]

_INLINE = dict(JIT_OPTIONS, inline="always")
_C = _TANH_CLAMP
_HALF = _TANH_A[0].__class__(0.5)


@njit(**_INLINE)
def vtanh_f32(v):
    """Eigen's float32 tanh on a vector; NaN passes through, +-inf gives +-1."""
    x = vmin(vmax(v, vbcast(-_C)), vbcast(_C))
    x2 = vmul(x, x)
    p = vfma(vbcast(_TANH_A[0]), x2, vbcast(_TANH_A[1]))
    p = vfma(p, x2, vbcast(_TANH_A[2]))
    p = vfma(p, x2, vbcast(_TANH_A[3]))
    p = vfma(p, x2, vbcast(_TANH_A[4]))
    p = vfma(p, x2, vbcast(_TANH_A[5]))
    p = vfma(p, x2, vbcast(_TANH_A[6]))
    q = vfma(vbcast(_TANH_B[0]), x2, vbcast(_TANH_B[1]))
    q = vfma(q, x2, vbcast(_TANH_B[2]))
    q = vfma(q, x2, vbcast(_TANH_B[3]))
    r = vdiv(vmul(x, p), q)
    return vselect_ge(vabs(v), vbcast(_TANH_TINY), r, v)


@njit(**_INLINE)
def vsigmoid_f32(v):
    """``0.5 * tanh(v / 2) + 0.5`` with :func:`vtanh_f32`."""
    h = vbcast(_HALF)
    return vfma(h, vtanh_f32(vmul(h, v)), h)


@njit(**_INLINE)
def vact(v, code, f32, scratch):
    """Activation ``code`` of vector ``v``; ``scratch`` holds at least one vector."""
    if code == LINEAR:
        return v
    if f32 and code == TANH:
        return vtanh_f32(v)
    if f32 and code == SIGMOID:
        return vsigmoid_f32(v)
    vstore(scratch, 0, v)
    L = scratch.size
    for j in range(L):
        scratch[j] = _act(scratch[j], code)
    return vload(scratch, 0)


# Cephes expf (as Eigen's pexp for float): |x| reduced by ln 2, a degree-5 polynomial.
_F = _HALF.__class__
_LOG2E = _F(1.44269504088896341)
_EXP_C1 = _F(0.693359375)
_EXP_C2 = _F(-2.12194440e-4)
_EXP_P = tuple(_F(p) for p in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                               4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_EXP_HI = _F(88.3762626647949)
_EXP_LO = _F(-87.3365447505531)     # ln(FLT_MIN): below it the result is flushed to 0
_ONE = _F(1.0)
_INF = _F(np.inf)
_ZERO = _F(0.0)


@njit(**_INLINE)
def vexp_f32(x):
    """float32 ``exp`` of a vector (about 1 ulp): +inf above 88.38, 0 below -87.34, NaN kept."""
    xc = vmin(vmax(x, vbcast(_EXP_LO)), vbcast(_EXP_HI))
    fx = vround(vmul(xc, vbcast(_LOG2E)))
    r = vsub(vsub(xc, vmul(fx, vbcast(_EXP_C1))), vmul(fx, vbcast(_EXP_C2)))
    z = vmul(r, r)
    y = vfma(vbcast(_EXP_P[0]), r, vbcast(_EXP_P[1]))
    y = vfma(y, r, vbcast(_EXP_P[2]))
    y = vfma(y, r, vbcast(_EXP_P[3]))
    y = vfma(y, r, vbcast(_EXP_P[4]))
    y = vfma(y, r, vbcast(_EXP_P[5]))
    y = vadd(vfma(y, z, r), vbcast(_ONE))
    y = vexp2i_mul(y, fx)
    y = vselect_ge(x, vbcast(_EXP_LO), y, vbcast(_ZERO))     # underflow (and NaN -> 0 ...)
    y = vselect_ge(vbcast(_EXP_HI), x, y, vbcast(_INF))      # overflow (... and NaN -> inf)
    return vselect_ge(x, x, y, x)                            # ... NaN restored
