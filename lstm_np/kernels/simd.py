"""SIMD vectors for numba kernels: LLVM vector types and a handful of intrinsics.

numba has no vector type, and its loop vectoriser cannot keep a GEMM tile's accumulators in
registers across the reduction loop. These intrinsics give kernels explicit LLVM vectors:

* ``vload(a, i)`` / ``vstore(a, i, v)``: ``LANES`` consecutive elements of the 1-D array
  ``a`` from index ``i`` (unaligned, no bounds check: callers keep ``i + LANES <= a.size``);
* ``vbcast(x)``: the scalar ``x`` in every lane; ``vfma(a, b, c)``: ``a * b + c``, one
  rounding (``llvm.fma``, as BLAS's FMA kernels);
* ``vregs(like, n)``: a register file of ``n`` vectors (an ``alloca`` that LLVM promotes to
  registers when every index is a constant after unrolling), read with ``rget(regs, k)``
  and written with ``rset(regs, k, v)``.

A vector holds ``VECTOR_BYTES`` bytes: 64 (16 float32 or 8 float64) where the CPU has
AVX-512, 32 with AVX, else 16; LLVM splits wider vectors on smaller machines, so the
kernels stay correct anywhere and are tuned where the register file is large enough
(``REGISTERS``). Only kernels under :mod:`lstm_np.kernels` import this module, and only
when the JIT path is in use: importing it imports numba.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic, models, register_model

__all__ = ["VECTOR_BYTES", "REGISTERS", "lanes", "vload", "vstore", "vload_n", "vstore_n",
           "vbcast", "vsplat", "vfma", "vadd", "vsub", "vmul", "vdiv", "vabs", "vmin", "vmax",
           "vselect_ge", "vregs", "rget", "rset", "atomic_load", "atomic_store"]


def _host_features():
    if config.CPU_FEATURES:
        return {f[1:] for f in str(config.CPU_FEATURES).split(",") if f.startswith("+")}
    import llvmlite.binding as ll
    return {k for k, v in ll.get_host_cpu_features().items() if v}


_FEATURES = _host_features()
VECTOR_BYTES = 64 if "avx512f" in _FEATURES else (32 if "avx" in _FEATURES else 16)
#: Architectural vector registers (AVX-512 and AArch64 have 32, AVX/SSE 16).
REGISTERS = 32 if ("avx512f" in _FEATURES or "neon" in _FEATURES or not _FEATURES & {
    "avx", "sse2"}) else 16


def lanes(dtype):
    """Elements of ``dtype`` in one vector."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


class Vector(types.Type):
    """An LLVM ``<lanes x float|double>`` value."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VECTOR_BYTES // (dtype.bitwidth // 8)
        super().__init__(name=f"vector({dtype}x{self.lanes})")


class Registers(types.Type):
    """Pointer to a stack array of vectors (see ``vregs``)."""

    def __init__(self, vector):
        self.vector = vector
        super().__init__(name=f"registers({vector})")


def _llvm_vector(vt):
    elem = ir.FloatType() if vt.dtype == types.float32 else ir.DoubleType()
    return ir.VectorType(elem, vt.lanes)


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _llvm_vector(fe_type))


@register_model(Registers)
class _RegistersModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _llvm_vector(fe_type.vector).as_pointer())


_VECTORS = {types.float32: Vector(types.float32), types.float64: Vector(types.float64)}


def _vector_of(arr):
    if not isinstance(arr, types.Array) or arr.dtype not in _VECTORS:
        return None
    return _VECTORS[arr.dtype]


def _element_pointer(context, builder, arrty, arr, index):
    ary = context.make_array(arrty)(context, builder, arr)
    return builder.gep(ary.data, [index])


@intrinsic
def vload(typingctx, arr, index):
    vt = _vector_of(arr)
    if vt is None or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _llvm_vector(vt).as_pointer()),
                            align=vt.dtype.bitwidth // 8)
    return vt(arr, index), codegen


@intrinsic
def vstore(typingctx, arr, index, value):
    vt = _vector_of(arr)
    if vt is None or value != vt or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, _llvm_vector(vt).as_pointer()),
                      align=vt.dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.void(arr, index, value), codegen


@intrinsic
def vbcast(typingctx, x):
    if x not in _VECTORS:
        return None
    vt = _VECTORS[x]

    def codegen(context, builder, sig, args):
        lv = _llvm_vector(vt)
        v = builder.insert_element(ir.Constant(lv, ir.Undefined), args[0],
                                   ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(v, ir.Constant(lv, ir.Undefined), zeros)
    return vt(x), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    if not (isinstance(a, Vector) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        lv = _llvm_vector(a)
        suffix = f"v{a.lanes}f{a.dtype.bitwidth}"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lv, [lv] * 3),
                                            f"llvm.fma.{suffix}")
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def vregs(typingctx, like, n):
    """``n`` zeroed vectors of ``like``'s dtype (``n`` a compile-time constant)."""
    vt = _vector_of(like)
    if vt is None or not isinstance(n, types.IntegerLiteral):
        return None
    count = n.literal_value
    rt = Registers(vt)

    def codegen(context, builder, sig, args):
        arr = ir.ArrayType(_llvm_vector(vt), count)
        ptr = cgutils.alloca_once(builder, arr)
        builder.store(ir.Constant(arr, None), ptr)
        return builder.bitcast(ptr, _llvm_vector(vt).as_pointer())
    return rt(like, n), codegen


@intrinsic
def rget(typingctx, regs, k):
    if not isinstance(regs, Registers):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(builder.gep(args[0], [args[1]]))
    return regs.vector(regs, k), codegen


@intrinsic
def rset(typingctx, regs, k, value):
    if not isinstance(regs, Registers) or value != regs.vector:
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], builder.gep(args[0], [args[1]]))
        return context.get_dummy_value()
    return types.void(regs, k, value), codegen


def _binary(op):
    @intrinsic
    def fn(typingctx, a, b):
        if not (isinstance(a, Vector) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])
        return a(a, b), codegen
    return fn


vadd = _binary("fadd")
vsub = _binary("fsub")
vmul = _binary("fmul")


def _intrinsic_call(builder, name, vt, args, n_in):
    lv = _llvm_vector(vt)
    suffix = f"v{vt.lanes}f{vt.dtype.bitwidth}"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lv, [lv] * n_in),
                                        f"llvm.{name}.{suffix}")
    return builder.call(fn, args)


def _unary_intrinsic(name):
    @intrinsic
    def fn(typingctx, a):
        if not isinstance(a, Vector):
            return None

        def codegen(context, builder, sig, args):
            return _intrinsic_call(builder, name, a, args, 1)
        return a(a), codegen
    return fn


def _binary_intrinsic(name):
    @intrinsic
    def fn(typingctx, a, b):
        if not (isinstance(a, Vector) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return _intrinsic_call(builder, name, a, args, 2)
        return a(a, b), codegen
    return fn


vdiv = _binary("fdiv")
vabs = _unary_intrinsic("fabs")
#: IEEE minNum/maxNum: the non-NaN operand wins (callers that must propagate NaN select it)
vmin = _binary_intrinsic("minnum")
vmax = _binary_intrinsic("maxnum")


@intrinsic
def vselect_ge(typingctx, a, b, x, y):
    """Lane-wise ``x if a >= b else y`` (an ordered compare: NaN in ``a`` or ``b`` picks ``y``)."""
    if not (isinstance(a, Vector) and a == b == x == y):
        return None

    def codegen(context, builder, sig, args):
        cond = builder.fcmp_ordered(">=", args[0], args[1])
        return builder.select(cond, args[2], args[3])
    return a(a, b, x, y), codegen


def _lane_mask(builder, lanes_, n):
    idx = ir.Constant(ir.VectorType(ir.IntType(64), lanes_), list(range(lanes_)))
    nv = builder.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), lanes_), ir.Undefined),
                                builder.sext(n, ir.IntType(64)) if n.type.width < 64 else n,
                                ir.Constant(ir.IntType(32), 0))
    nv = builder.shuffle_vector(nv, ir.Constant(nv.type, ir.Undefined),
                                ir.Constant(ir.VectorType(ir.IntType(32), lanes_), [0] * lanes_))
    return builder.icmp_signed("<", idx, nv)


@intrinsic
def vload_n(typingctx, arr, index, n):
    """The first ``n`` lanes from ``arr[index:]`` (the rest zero); reads nothing beyond."""
    vt = _vector_of(arr)
    if vt is None or not isinstance(index, types.Integer) or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        lv = _llvm_vector(vt)
        ptr = builder.bitcast(_element_pointer(context, builder, sig.args[0], args[0], args[1]),
                              lv.as_pointer())
        mask = _lane_mask(builder, vt.lanes, args[2])
        fnty = ir.FunctionType(lv, [lv.as_pointer(), ir.IntType(32), mask.type, lv])
        suffix = f"v{vt.lanes}f{vt.dtype.bitwidth}.p0"
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.load.{suffix}")
        align = ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8)
        return builder.call(fn, [ptr, align, mask, ir.Constant(lv, None)])
    return vt(arr, index, n), codegen


@intrinsic
def vstore_n(typingctx, arr, index, value, n):
    """Store the first ``n`` lanes of ``value`` at ``arr[index:]``; writes nothing beyond."""
    vt = _vector_of(arr)
    if vt is None or value != vt or not isinstance(n, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        lv = _llvm_vector(vt)
        ptr = builder.bitcast(_element_pointer(context, builder, sig.args[0], args[0], args[1]),
                              lv.as_pointer())
        mask = _lane_mask(builder, vt.lanes, args[3])
        fnty = ir.FunctionType(ir.VoidType(), [lv, lv.as_pointer(), ir.IntType(32), mask.type])
        suffix = f"v{vt.lanes}f{vt.dtype.bitwidth}.p0"
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.store.{suffix}")
        align = ir.Constant(ir.IntType(32), vt.dtype.bitwidth // 8)
        builder.call(fn, [args[2], ptr, align, mask])
        return context.get_dummy_value()
    return types.void(arr, index, value, n), codegen


@intrinsic
def vsplat(typingctx, like, x):
    """``x`` (any number) converted to the dtype of ``like`` (an array or a vector), in every
    lane."""
    vt = like if isinstance(like, Vector) else _vector_of(like)
    if vt is None or not isinstance(x, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        val = context.cast(builder, args[1], sig.args[1], vt.dtype)
        lv = _llvm_vector(vt)
        v = builder.insert_element(ir.Constant(lv, ir.Undefined), val,
                                   ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(v, ir.Constant(lv, ir.Undefined), zeros)
    return vt(like, x), codegen


def _int_vector(vt):
    return ir.VectorType(ir.IntType(vt.dtype.bitwidth), vt.lanes)


@intrinsic
def vexp2i_mul(typingctx, p, n):
    """``p * 2**n`` lane-wise for a vector ``n`` of integral values with ``|n|`` small
    enough that ``2**n`` is a normal number (the exponent bits are built directly)."""
    if not (isinstance(p, Vector) and p == n):
        return None

    def codegen(context, builder, sig, args):
        ity = _int_vector(p)
        bits = p.dtype.bitwidth
        mant = 23 if bits == 32 else 52
        bias = 127 if bits == 32 else 1023
        ni = builder.fptosi(args[1], ity)
        e = builder.add(ni, ir.Constant(ity, [bias] * p.lanes))
        e = builder.shl(e, ir.Constant(ity, [mant] * p.lanes))
        scale = builder.bitcast(e, _llvm_vector(p))
        return builder.fmul(args[0], scale)
    return p(p, n), codegen


vround = _unary_intrinsic("roundeven")


@intrinsic
def vhsum(typingctx, v):
    """The sum of the lanes (a tree reduction)."""
    if not isinstance(v, Vector):
        return None

    def codegen(context, builder, sig, args):
        x = args[0]
        n = v.lanes
        while n > 1:
            n //= 2
            lo = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(ir.IntType(32), n),
                                                          list(range(n))))
            hi = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(ir.IntType(32), n),
                                                          list(range(n, 2 * n))))
            x = builder.fadd(lo, hi)
        return builder.extract_element(x, ir.Constant(ir.IntType(32), 0))
    return v.dtype(v), codegen


@intrinsic
def vhmax(typingctx, v):
    """The largest lane; NaN if any lane is NaN (as ``np.max``)."""
    if not isinstance(v, Vector):
        return None

    def codegen(context, builder, sig, args):
        x = args[0]
        n = v.lanes
        bits = v.dtype.bitwidth
        while n > 1:
            n //= 2
            lo = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(ir.IntType(32), n),
                                                          list(range(n))))
            hi = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(ir.IntType(32), n),
                                                          list(range(n, 2 * n))))
            if n == 1:
                zero = ir.Constant(ir.IntType(32), 0)
                lo, hi = builder.extract_element(lo, zero), builder.extract_element(hi, zero)
                name = f"llvm.maximum.f{bits}"
            else:
                name = f"llvm.maximum.v{n}f{bits}"
            fn = cgutils.get_or_insert_function(builder.module,
                                                ir.FunctionType(lo.type, [lo.type, lo.type]), name)
            x = builder.call(fn, [lo, hi])
        return x
    return v.dtype(v), codegen


vmaximum = _binary_intrinsic("maximum")    # NaN-propagating


@intrinsic
def atomic_load(typingctx, arr, index):
    """``arr[index]`` read with acquire ordering (int64 arrays; for flags shared by threads)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return types.int64(arr, index), codegen


@intrinsic
def atomic_store(typingctx, arr, index, value):
    """``arr[index] = value`` with release ordering (int64 arrays)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        val = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()
    return types.void(arr, index, value), codegen
