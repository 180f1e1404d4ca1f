# cython: language_level=3, cdivision=True
"""What the engine ``_core`` shares with its kernels ``_kernels``: the structs the
kernels work on, the table of kernels each SIMD level exports, and the vector maths.

``_kernels.pyx`` is compiled once per SIMD level (``backprop._kernels_baseline``,
``_kernels_avx2``, ``_kernels_avx512``: the same source, built with more vector
instructions allowed); each fills a ``Kernels`` table, and ``_core`` picks one at
import (``_core.use_simd``).  The vector maths below is written once and inlined
into every level and into ``_core``'s own loops.

Vector maths: ``exp`` and ``tanh`` in double (``exp64``, ``tanh64``) and single
precision (``exp32``, ``tanh32``), with no branches and no table lookups, so that a
loop over a layer compiles to vector instructions at every level and every level
computes the same bits (no fused multiply-adds: the build passes
``-ffp-contract=off``; nothing is reassociated without fast-math).

* ``exp``: Cody-Waite reduction ``x = k ln2 + s`` (``ln2`` in two parts, the
  first with trailing zero bits so that ``k * LN2_HI`` is exact), ``|s| <= ln2/2``;
  ``e^s = 1 + s + s^2 Q(s)`` with the Taylor coefficients ``1/k!`` (k = 2..13 in
  double, 2..8 in single precision; truncation below 0.03 ulp), evaluated by
  Estrin's scheme; the roundings of ``s`` and of ``1 + s`` are carried as
  corrections; ``2^k`` is built from exponent bits in two factors (exact for
  ``k`` down to the subnormal range, so that results there round once more).
  ``k = rint(x / ln2)`` comes from adding and subtracting ``1.5 * 2^52``
  (``2^23``): no float-to-integer conversion, which SSE2 lacks for 64 bits.
  Inputs are clamped to the range where the result is neither 0 nor infinite
  (the clamps are compare-and-select; -ffp-contract=off and no fast-math keep
  the arithmetic exactly as written); NaN passes through, ``exp(-0) = 1``.
* ``tanh``: ``|x| < 0.55``: ``x + x^3 R(x^2)``, ``R`` a near-minimax polynomial
  (Chebyshev fit, degree 10 in double, 4 in single); else
  ``1 - 2 / (e^{2|x|} + 1)`` with ``e^{2|x|}`` and the sum kept in two parts and
  ``1 - q`` split exactly, so that the only roundings that count are the
  division's (a quarter ulp of the result) and the last; the sign copied from
  ``x``; ``|x|`` above 20 (10 in single) gives 1.

Maximum error against the correctly rounded result (``tests/test_vmath.py``
checks these on dense grids against mpmath and at the edges: overflow,
underflow, subnormal results, -0, +-inf, NaN):

========  =========================  ==========================================
function  domain                     largest error measured (bound tested)
========  =========================  ==========================================
exp64     all doubles                0.77 ulp (1 ulp); 0.65 ulp for normal results
exp32     all floats                 0.78 ulp (1 ulp); 0.64 ulp for normal results
tanh64    all doubles                0.82 ulp (1 ulp)
tanh32    all floats                 0.85 ulp (1 ulp)
========  =========================  ==========================================

(The largest errors of ``exp`` are in the subnormal range, where the result is
rounded a second time; those of ``tanh`` near ``|x| = 0.55``.)
"""

from libc.math cimport fabs, fabsf
from libc.stdint cimport uint32_t, uint64_t

# The engine's codes: each option's position in its table in ``backprop._spec``
# (``tests/test_spec.py`` checks these against it through ``_core.CODES``).
cdef enum:
    LOGISTIC = 0
    TANH = 1
    RELU = 2
    LEAKY_RELU = 3
    LINEAR = 4
    SOFTMAX = 5

cdef enum:
    HALF_SSE = 0
    MSE = 1
    CROSS_ENTROPY = 2

cdef extern from *:
    """
    #define BACKPROP_LEAKY_SLOPE 0.01
    """
    #: Slope of ``leaky_relu`` for negative net input (``_spec.LEAKY_SLOPE``).
    const double LEAKY_SLOPE "BACKPROP_LEAKY_SLOPE"

# Every kernel is written once over ``real`` and compiled for both precisions.
ctypedef fused real:
    float
    double


# ------------------------------------------------------------------ structs
cdef struct Net:
    # the network's shape and options: fixed for its lifetime (the per-call
    # values, learning rate and update order, travel with each call)
    Py_ssize_t n_layers        # weight layers
    Py_ssize_t n_units         # units outside the input layer
    const Py_ssize_t* sizes    # n_layers + 1 layer sizes
    Py_ssize_t* w_off          # offset of W[l] in params       (_spec.layout column 0)
    Py_ssize_t* b_off          # offset of layer l's biases     (column 1)
    Py_ssize_t* n_bias         # 0, 1 or sizes[l + 1] biases    (column 2)
    Py_ssize_t* u_off          # offset of layer l's units in the unit buffers
    Py_ssize_t n_params
    const int* acts
    int loss
    bint train_bias
    # the parameters and the workspace (one value per unit outside the input
    # layer) hold ``real`` values: float or double, as the kernels are specialised
    void* params
    void* block                # the single allocation behind the buffers below
    void* net                  # net input
    void* out                  # output
    void* dout                 # dE/dout
    void* dact                 # dout/dnet
    void* delta                # dE/dnet
    void* err                  # per-output error terms of the last sample


ctypedef void (*dgemm_t)(char* transa, char* transb, int* m, int* n, int* k,
                         double* alpha, double* a, int* lda, double* b, int* ldb,
                         double* beta, double* c, int* ldc) noexcept nogil
ctypedef void (*sgemm_t)(char* transa, char* transb, int* m, int* n, int* k,
                         float* alpha, float* a, int* lda, float* b, int* ldb,
                         float* beta, float* c, int* ldc) noexcept nogil


cdef struct Batch:
    # workspace of the mini-batch path: ``rows`` samples at a time, every buffer
    # row-major with one row per sample
    Py_ssize_t rows
    Py_ssize_t* u_off          # offset of layer l's block (rows x sizes[l + 1])
    # ``real`` buffers:
    void* x                    # gathered inputs (rows x sizes[0]) when shuffled
    void* t                    # gathered targets (rows x sizes[L])
    void* net
    void* out
    void* delta
    void* e                    # back-propagated dE/dout (rows x widest layer)
    bint* blas                 # per layer: use BLAS for its matrix products
    dgemm_t dgemm              # BLAS's products, when a layer uses them
    sgemm_t sgemm


# ------------------------------------------------------ the table of kernels
#: Version of the ``Kernels`` layout: ``_core`` refuses a table of another one.
cdef enum:
    KERNELS_ABI = 2

ctypedef void (*forward_d_t)(Net* n, const double* x, Py_ssize_t first) noexcept nogil
ctypedef void (*forward_f_t)(Net* n, const float* x, Py_ssize_t first) noexcept nogil
ctypedef double (*deltas_d_t)(Net* n, const double* net, const double* o, const double* t,
                              double* d) noexcept nogil
ctypedef double (*deltas_f_t)(Net* n, const float* net, const float* o, const float* t,
                              float* d) noexcept nogil
ctypedef void (*backward_d_t)(Net* n, const double* x, const double* nxt, double rate,
                              bint seq) noexcept nogil
ctypedef void (*backward_f_t)(Net* n, const float* x, const float* nxt, double rate,
                              bint seq) noexcept nogil
ctypedef double (*batch_d_t)(Net* n, Batch* bt, const double* X, const double* T,
                             Py_ssize_t rows, double* grad) noexcept nogil
ctypedef double (*batch_f_t)(Net* n, Batch* bt, const float* X, const float* T,
                             Py_ssize_t rows, float* grad) noexcept nogil
ctypedef void (*map_d_t)(const double* x, double* y, Py_ssize_t n, int fn) noexcept nogil
ctypedef void (*map_f_t)(const float* x, float* y, Py_ssize_t n, int fn) noexcept nogil
ctypedef Py_ssize_t (*lanes_d_t)(Net* n, double* W, Py_ssize_t m, const double* X,
                                 const double* T, Py_ssize_t x_stride, Py_ssize_t t_stride,
                                 Py_ssize_t n_samples, Py_ssize_t epochs, const double* lr,
                                 double* history, Py_ssize_t history_stride, double* work,
                                 double* dwork) noexcept nogil
ctypedef Py_ssize_t (*lanes_f_t)(Net* n, float* W, Py_ssize_t m, const float* X,
                                 const float* T, Py_ssize_t x_stride, Py_ssize_t t_stride,
                                 Py_ssize_t n_samples, Py_ssize_t epochs, const float* lr,
                                 double* history, Py_ssize_t history_stride, float* work,
                                 double* dwork) noexcept nogil

#: What ``map_d``/``map_f`` apply (element by element, for the tests of the maths).
cdef enum:
    MAP_EXP = 0
    MAP_TANH = 1
    MAP_LOGISTIC = 2


cdef struct Kernels:
    int abi                    # KERNELS_ABI
    const char* isa            # the vector instructions the level was compiled for
    forward_d_t forward_layers_d
    forward_f_t forward_layers_f
    deltas_d_t output_deltas_d
    deltas_f_t output_deltas_f
    backward_d_t backward_update_d
    backward_f_t backward_update_f
    batch_d_t batch_gradient_d
    batch_f_t batch_gradient_f
    map_d_t map_d
    map_f_t map_f
    lanes_d_t lanes_epochs_d   # ensembles: many networks side by side (lanes)
    lanes_f_t lanes_epochs_f


# ------------------------------------------------------------ vector maths
cdef union Bits64:
    double d
    uint64_t u


cdef union Bits32:
    float f
    uint32_t u


cdef inline uint64_t bits64(double x) noexcept nogil:
    cdef Bits64 b
    b.d = x
    return b.u


cdef inline double from_bits64(uint64_t u) noexcept nogil:
    cdef Bits64 b
    b.u = u
    return b.d


cdef inline uint32_t bits32(float x) noexcept nogil:
    cdef Bits32 b
    b.f = x
    return b.u


cdef inline float from_bits32(uint32_t u) noexcept nogil:
    cdef Bits32 b
    b.u = u
    return b.f


cdef inline double exp_parts64(double x, double* lo, double* t) noexcept nogil:
    """``e^x = 2^k (hi + lo)`` for ``|x| <= 746``: returns ``hi`` (in [0.7, 1.42]);
    ``lo`` (below half an ulp of ``hi``) and ``t`` (``1.5 * 2^52 + k``, ``k`` in
    its low bits) go to the pointers."""
    cdef double shift = 6755399441055744.0            # 1.5 * 2^52
    cdef double k, hi, low, s, ds, s2, s4, q, v, dv
    t[0] = x * 1.4426950408889634 + shift              # 1/ln2; rounds to an integer
    k = t[0] - shift
    hi = x - k * 0.69314718036912382                   # LN2_HI: 32 bits, k * it exact
    low = k * 1.9082149292705877e-10                   # LN2_LO = ln2 - LN2_HI
    s = hi - low
    ds = (hi - s) - low                                # what s lost in rounding
    s2 = s * s
    s4 = s2 * s2
    q = (((1.0 / 2.0 + s * (1.0 / 6.0)) + s2 * (1.0 / 24.0 + s * (1.0 / 120.0)))
         + s4 * (((1.0 / 720.0 + s * (1.0 / 5040.0))
                  + s2 * (1.0 / 40320.0 + s * (1.0 / 362880.0)))
                 + s4 * ((1.0 / 3628800.0 + s * (1.0 / 39916800.0))
                         + s2 * (1.0 / 479001600.0 + s * (1.0 / 6227020800.0)))))
    v = 1.0 + s
    dv = (1.0 - v) + s                                 # exact: |s| < 1
    low = dv + (s2 * q + (ds + ds * s))
    hi = v + low
    lo[0] = (v - hi) + low
    return hi


cdef inline double exp64(double x) noexcept nogil:
    """``e^x`` in double precision (see the module's docstring)."""
    cdef double lo, t, u
    cdef uint64_t n, a
    x = 709.8 if x > 709.8 else x                      # overflows below: inf
    x = -745.2 if x < -745.2 else x                    # rounds to 0
    u = exp_parts64(x, &lo, &t)
    n = bits64(t) - bits64(6755399441055744.0) + 2048  # k + 2048 >= 0
    a = n >> 1                                         # floor(k / 2) + 1024
    u = u * from_bits64((a - 1) << 52)                 # * 2^floor(k / 2)
    return u * from_bits64((n - a - 1) << 52)          # * 2^(k - floor(k / 2))


cdef inline double tanh64(double x) noexcept nogil:
    """``tanh(x)`` in double precision (see the module's docstring)."""
    cdef uint64_t sign = 0x8000000000000000
    cdef double a, y, r, small, hi, lo, t, e, dh, dl, q, c, rh, rl
    a = fabs(x)
    a = 20.0 if a > 20.0 else a                        # tanh(20) rounds to 1
    y = a * a
    r = -2.06027653763663402e-05
    r = r * y + 8.51131368557767076e-05
    r = r * y + -2.34634741088723703e-04
    r = r * y + 5.88936052007405734e-04
    r = r * y + -1.45566183010071605e-03
    r = r * y + 3.59211037868902407e-03
    r = r * y + -8.86323439781435546e-03
    r = r * y + 2.18694884936669436e-02
    r = r * y + -5.39682539674340156e-02
    r = r * y + 1.33333333333327142e-01
    r = r * y + -3.33333333333333315e-01
    small = a + (a * y) * r
    # 1 - 2 / (e^2a + 1), e^2a = 2^k (hi + lo) with k in [1, 58]
    hi = exp_parts64(a + a, &lo, &t)
    e = from_bits64((bits64(t) - bits64(6755399441055744.0) + 1023) << 52)
    hi = hi * e
    lo = lo * e
    dh = hi + 1.0
    dl = ((hi - dh) + 1.0) + lo                        # e^2a + 1 = dh + dl
    q = 2.0 / dh
    c = q * (dl / dh)                                  # 2 / (dh + dl) = q - c
    rh = 1.0 - q
    rl = (1.0 - rh) - q                                # 1 - q = rh + rl exactly
    a = small if a < 0.55 else rh + (rl + c)
    return from_bits64(bits64(a) | (bits64(x) & sign))


cdef inline float exp_parts32(float x, float* lo, float* t) noexcept nogil:
    """``exp_parts64`` in single precision (``t`` = ``1.5 * 2^23 + k``)."""
    cdef float shift = 12582912.0                      # 1.5 * 2^23
    cdef float log2e = 1.44269504, ln2_hi = 0.693145752, ln2_lo = 1.42860677e-06
    cdef float c2 = 1.0 / 2.0, c3 = 1.0 / 6.0, c4 = 1.0 / 24.0, c5 = 1.0 / 120.0
    cdef float c6 = 1.0 / 720.0, c7 = 1.0 / 5040.0, c8 = 1.0 / 40320.0, one = 1.0
    cdef float k, hi, low, s, ds, s2, q, v, dv
    t[0] = x * log2e + shift
    k = t[0] - shift
    hi = x - k * ln2_hi                                # LN2_HI: 15 bits, k * it exact
    low = k * ln2_lo
    s = hi - low
    ds = (hi - s) - low
    s2 = s * s
    q = ((c2 + s * c3) + s2 * (c4 + s * c5)) + (s2 * s2) * ((c6 + s * c7) + s2 * c8)
    v = one + s
    dv = (one - v) + s
    low = dv + (s2 * q + (ds + ds * s))
    hi = v + low
    lo[0] = (v - hi) + low
    return hi


cdef inline float exp32(float x) noexcept nogil:
    """``e^x`` in single precision (see the module's docstring)."""
    cdef float hi_x = 88.8, lo_x = -104.0, lo, t, u
    cdef uint32_t n, a
    x = hi_x if x > hi_x else x
    x = lo_x if x < lo_x else x
    u = exp_parts32(x, &lo, &t)
    n = bits32(t) - bits32(12582912.0) + 256           # k + 256 >= 0
    a = n >> 1                                         # floor(k / 2) + 128
    u = u * from_bits32((a - 1) << 23)
    return u * from_bits32((n - a - 1) << 23)


cdef inline float tanh32(float x) noexcept nogil:
    """``tanh(x)`` in single precision (see the module's docstring)."""
    cdef float top = 10.0, cut = 0.55, one = 1.0, two = 2.0
    cdef uint32_t sign = 0x80000000
    cdef float a, y, r, small, hi, lo, t, e, dh, dl, q, c, rh, rl
    a = fabsf(x)
    a = top if a > top else a
    y = a * a
    r = -6.610227831e-03
    r = r * y + <float> 2.130938866e-02
    r = r * y + <float> -5.390942883e-02
    r = r * y + <float> 1.333311373e-01
    r = r * y + <float> -3.333333201e-01
    small = a + (a * y) * r
    hi = exp_parts32(a + a, &lo, &t)
    e = from_bits32((bits32(t) - bits32(12582912.0) + 127) << 23)
    hi = hi * e
    lo = lo * e
    dh = hi + one
    dl = ((hi - dh) + one) + lo
    q = two / dh
    c = q * (dl / dh)
    rh = one - q
    rl = (one - rh) - q
    a = small if a < cut else rh + (rl + c)
    return from_bits32(bits32(a) | (bits32(x) & sign))


cdef inline real vexp(real x) noexcept nogil:
    """``e^x`` in ``real``'s precision."""
    if real is double:
        return exp64(x)
    else:
        return exp32(x)


cdef inline real vtanh(real x) noexcept nogil:
    """``tanh(x)`` in ``real``'s precision."""
    if real is double:
        return tanh64(x)
    else:
        return tanh32(x)


cdef inline real logistic(real s) noexcept nogil:
    """``1 / (1 + e^-s)`` in ``real``'s precision."""
    cdef real one = 1
    return one / (one + vexp(-s))
