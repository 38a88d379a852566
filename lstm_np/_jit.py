"""The only module that imports numba: one home for JIT options.

``jit(fn)`` compiles ``fn`` with numba (``cache=True``, no ``fastmath``) when numba is
installed and ``LSTM_NP_DISABLE_JIT`` is not set to a true value; otherwise it returns ``fn``
unchanged, so the same source runs as plain NumPy (the pure-NumPy path).
"""
import os

__all__ = ["jit", "HAVE_NUMBA", "JIT_ENABLED"]

try:  # numba is optional: without it every kernel runs as plain NumPy.
    import numba as _numba
except ImportError:  # pragma: no cover - exercised in the no-numba CI job
    _numba = None

HAVE_NUMBA = _numba is not None
JIT_ENABLED = HAVE_NUMBA and os.environ.get("LSTM_NP_DISABLE_JIT", "0").lower() in ("", "0", "false", "no")

# fastmath stays off: it lets LLVM reorder float operations and drop NaN/inf semantics,
# which would break equivalence with Keras (see umap commit a59c9ff).
# error_model="numpy": float division by zero gives inf/nan as in NumPy (the pure-NumPy path)
# instead of raising ZeroDivisionError; the check numba's default inserts before every
# division also stops LLVM from vectorising a loop that divides.
_OPTIONS = dict(cache=True, fastmath=False, nogil=True, error_model="numpy")


def jit(fn=None, *, fallback=None, contract=False, inline=False):
    """Compile ``fn`` with numba when enabled; otherwise return ``fallback`` or ``fn``.

    ``fallback`` is a NumPy-vectorised twin for leaves whose fast numba form is a scalar
    loop (slow in plain Python); both forms are tested to agree. ``contract=True`` lets
    LLVM fuse ``a * b + c`` into one FMA (one rounding instead of two, as BLAS does) and
    nothing else: NaN/inf semantics and operation order stay. It is earned by the
    recurrent mat-vec (6.3 -> 4.7 us for 128 x 512, benchmarks/README.md).

    ``inline=True`` inlines ``fn`` into its jitted callers at the numba IR level
    (``inline="always"``) instead of compiling it as a function of its own. It saves compile
    time for a function that calls large kernels (``_activate``): numba links and
    re-optimises a callee's whole closure into every jitted function up the call chain, so
    each such level costs about as much as compiling the closure once.
    """
    if fn is None:
        return lambda f: jit(f, fallback=fallback, contract=contract, inline=inline)
    if not JIT_ENABLED:
        return fallback or fn
    options = dict(_OPTIONS, fastmath={"contract"}) if contract else dict(_OPTIONS)
    if inline:
        options["inline"] = "always"
    return _numba.njit(**options)(fn)
