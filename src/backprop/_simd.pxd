# cython: language_level=3, cdivision=True
"""What the engine ``_core`` shares with its kernels ``_kernels``: the structs the
kernels work on, the table of kernels each SIMD level exports, and the vector maths.

``_kernels.pyx`` is compiled once per SIMD level (``backprop._kernels_baseline``,
``_kernels_avx2``, ``_kernels_avx512``: the same source, built with more vector
instructions allowed); each fills a ``Kernels`` table, and ``_core`` picks one at
import (``_core.use_simd``).  The vector maths below is written once and inlined
into every level and into ``_core``'s own loops.

Vector maths: ``exp`` and ``tanh`` in double (``exp64``, ``tanh64``) and single
precision (``exp32``, ``tanh32``), with no branches, so that a loop over a layer
compiles to vector instructions at every level and every level computes the
same bits (no fused multiply-adds: the build passes ``-ffp-contract=off``;
nothing is reassociated without fast-math).

* ``exp64``: ``x = (k / 128) ln2 + r`` (Cody-Waite: ``ln2 / 128`` in two parts,
  the first with 17 zero bits so that ``k`` times it is exact), ``|r| <= ln2 /
  256``; ``e^x = 2^floor(k / 128) * 2^(j / 128) * e^r`` with ``j = k mod 128``
  looked up in a table of 128 pairs (``2^(j/128)`` rounded, and the relative
  error of that rounding, which joins the polynomial: glibc's layout; vector
  gathers, emulated on SSE2 by the compiler) and ``e^r`` by Taylor's polynomial
  to ``r^5`` (truncation below 2^-60); ``2^floor(k/128)`` built from exponent bits
  in two factors, so that a subnormal result is rounded once from an exact
  product.  The short polynomial keeps the latency low for the seed's loop,
  where each step waits on its exponentials.
* ``exp32``: ``x = k ln2 + s``, ``|s| <= ln2 / 2``, ``e^s = 1 + s + s^2 Q(s)`` with
  Taylor's coefficients ``1/k!``, k = 2..8 (truncation below 0.05 ulp), the
  roundings of ``s`` and of ``1 + s`` carried as corrections, ``2^k`` from
  exponent bits in two factors.
* Both: ``k = rint(...)`` by adding and subtracting ``1.5 * 2^52`` (``2^23``): no
  float-to-integer conversion, which SSE2 lacks for 64 bits.  Out of range
  (beyond the last finite result, and below the last that rounds above 0) the
  result is selected as ``inf`` or ``0`` after the computation (compare and
  select, no clamp on the critical path); NaN passes through, ``exp(-0) = 1``.
* ``tanh``: ``|x| < 0.55``: ``x + x^3 R(x^2)``, ``R`` a near-minimax polynomial
  (Chebyshev fit, degree 10 in double, 4 in single); else
  ``1 - 2 / (e^{2|x|} + 1)`` with ``e^{2|x|}`` (from the exp's parts) and the sum
  kept in two parts and ``1 - q`` split exactly, so that the only roundings that
  count are the division's (a quarter ulp of the result) and the last; the sign
  copied from ``x``; ``|x|`` above 20 (10 in single) gives 1; ``tanh(-0) = -0``.

Largest error against the correctly rounded result, in ulps of the exact
result, measured on 20 million evenly spaced points of each range (against
long double for double precision, double for single); ``tests/test_vmath.py``
checks at most 1 ulp on dense grids against mpmath and long double at every
SIMD level, and the edges exactly (overflow, underflow, subnormal results, -0,
+-inf, NaN):

======  ===========================  ========================================
        normal results               with subnormal results (double rounding)
======  ===========================  ========================================
exp64   0.511 ulp                    0.752 ulp
exp32   0.649 ulp                    0.782 ulp
tanh64  0.830 ulp (near ``|x| = 0.55``)
tanh32  0.848 ulp (near ``|x| = 0.55``)
======  ===========================  ========================================

The logistic, ``1 / (1 + e^-x)`` from ``exp``, adds the sum's and the
division's roundings: up to about 2 ulp (a helper's scan of 2 million points
of [-30, 30]: 1.97 ulp in double, 2.4 in single), and 0 below ``x = -709.78``
(single: -88.72) where the exact value is subnormal.
"""

from libc.math cimport INFINITY, fabs, fabsf
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


cdef extern from *:
    """
    /* 2^(j/128), j = 0..127, as (bits of tail, bits of hi - (j << 45)): hi is
       2^(j/128) rounded, tail the relative error of that rounding.  Printed by
       tools/exp_table.py (mpmath); tests/test_vmath.py checks it.  Words of a
       union, read as doubles: gcc vectorises a loop's table lookups (gathers)
       of doubles where it refuses those of integers. */
    typedef union { unsigned long long u; double d; } backprop_word;
    static const backprop_word backprop_exp_table[256] = {
        {0x0000000000000000ULL}, {0x3ff0000000000000ULL},
        {0x3c9b3b4f1a88bf6eULL}, {0x3feff63da9fb3335ULL},
        {0xbc7160139cd8dc5dULL}, {0x3fefec9a3e778061ULL},
        {0xbc905e7a108766d1ULL}, {0x3fefe315e86e7f85ULL},
        {0x3c8cd2523567f613ULL}, {0x3fefd9b0d3158574ULL},
        {0xbc8bce8023f98efaULL}, {0x3fefd06b29ddf6deULL},
        {0x3c60f74e61e6c861ULL}, {0x3fefc74518759bc8ULL},
        {0x3c90a3e45b33d399ULL}, {0x3fefbe3ecac6f383ULL},
        {0x3c979aa65d837b6dULL}, {0x3fefb5586cf9890fULL},
        {0x3c8eb51a92fdeffcULL}, {0x3fefac922b7247f7ULL},
        {0x3c3ebe3d702f9cd1ULL}, {0x3fefa3ec32d3d1a2ULL},
        {0xbc6a033489906e0bULL}, {0x3fef9b66affed31bULL},
        {0xbc9556522a2fbd0eULL}, {0x3fef9301d0125b51ULL},
        {0xbc5080ef8c4eea55ULL}, {0x3fef8abdc06c31ccULL},
        {0xbc91c923b9d5f416ULL}, {0x3fef829aaea92de0ULL},
        {0x3c80d3e3e95c55afULL}, {0x3fef7a98c8a58e51ULL},
        {0xbc801b15eaa59348ULL}, {0x3fef72b83c7d517bULL},
        {0xbc8f1ff055de323dULL}, {0x3fef6af9388c8deaULL},
        {0x3c8b898c3f1353bfULL}, {0x3fef635beb6fcb75ULL},
        {0xbc96d99c7611eb26ULL}, {0x3fef5be084045cd4ULL},
        {0x3c9aecf73e3a2f60ULL}, {0x3fef54873168b9aaULL},
        {0xbc8fe782cb86389dULL}, {0x3fef4d5022fcd91dULL},
        {0x3c8a6f4144a6c38dULL}, {0x3fef463b88628cd6ULL},
        {0x3c807a05b0e4047dULL}, {0x3fef3f49917ddc96ULL},
        {0x3c968efde3a8a894ULL}, {0x3fef387a6e756238ULL},
        {0x3c875e18f274487dULL}, {0x3fef31ce4fb2a63fULL},
        {0x3c80472b981fe7f2ULL}, {0x3fef2b4565e27cddULL},
        {0xbc96b87b3f71085eULL}, {0x3fef24dfe1f56381ULL},
        {0x3c82f7e16d09ab31ULL}, {0x3fef1e9df51fdee1ULL},
        {0xbc3d219b1a6fbffaULL}, {0x3fef187fd0dad990ULL},
        {0x3c8b3782720c0ab4ULL}, {0x3fef1285a6e4030bULL},
        {0x3c6e149289cecb8fULL}, {0x3fef0cafa93e2f56ULL},
        {0x3c834d754db0abb6ULL}, {0x3fef06fe0a31b715ULL},
        {0x3c864201e2ac744cULL}, {0x3fef0170fc4cd831ULL},
        {0x3c8fdd395dd3f84aULL}, {0x3feefc08b26416ffULL},
        {0xbc86a3803b8e5b04ULL}, {0x3feef6c55f929ff1ULL},
        {0xbc924aedcc4b5068ULL}, {0x3feef1a7373aa9cbULL},
        {0xbc9907f81b512d8eULL}, {0x3feeecae6d05d866ULL},
        {0xbc71d1e83e9436d2ULL}, {0x3feee7db34e59ff7ULL},
        {0xbc991919b3ce1b15ULL}, {0x3feee32dc313a8e5ULL},
        {0x3c859f48a72a4c6dULL}, {0x3feedea64c123422ULL},
        {0xbc9312607a28698aULL}, {0x3feeda4504ac801cULL},
        {0xbc58a78f4817895bULL}, {0x3feed60a21f72e2aULL},
        {0xbc7c2c9b67499a1bULL}, {0x3feed1f5d950a897ULL},
        {0x3c4363ed60c2ac11ULL}, {0x3feece086061892dULL},
        {0x3c9666093b0664efULL}, {0x3feeca41ed1d0057ULL},
        {0x3c6ecce1daa10379ULL}, {0x3feec6a2b5c13cd0ULL},
        {0x3c93ff8e3f0f1230ULL}, {0x3feec32af0d7d3deULL},
        {0x3c7690cebb7aafb0ULL}, {0x3feebfdad5362a27ULL},
        {0x3c931dbdeb54e077ULL}, {0x3feebcb299fddd0dULL},
        {0xbc8f94340071a38eULL}, {0x3feeb9b2769d2ca7ULL},
        {0xbc87deccdc93a349ULL}, {0x3feeb6daa2cf6642ULL},
        {0xbc78dec6bd0f385fULL}, {0x3feeb42b569d4f82ULL},
        {0xbc861246ec7b5cf6ULL}, {0x3feeb1a4ca5d920fULL},
        {0x3c93350518fdd78eULL}, {0x3feeaf4736b527daULL},
        {0x3c7b98b72f8a9b05ULL}, {0x3feead12d497c7fdULL},
        {0x3c9063e1e21c5409ULL}, {0x3feeab07dd485429ULL},
        {0x3c34c7855019c6eaULL}, {0x3feea9268a5946b7ULL},
        {0x3c9432e62b64c035ULL}, {0x3feea76f15ad2148ULL},
        {0xbc8ce44a6199769fULL}, {0x3feea5e1b976dc09ULL},
        {0xbc8c33c53bef4da8ULL}, {0x3feea47eb03a5585ULL},
        {0xbc845378892be9aeULL}, {0x3feea34634ccc320ULL},
        {0xbc93cedd78565858ULL}, {0x3feea23882552225ULL},
        {0x3c5710aa807e1964ULL}, {0x3feea155d44ca973ULL},
        {0xbc93b3efbf5e2228ULL}, {0x3feea09e667f3bcdULL},
        {0xbc6a12ad8734b982ULL}, {0x3feea012750bdabfULL},
        {0xbc6367efb86da9eeULL}, {0x3fee9fb23c651a2fULL},
        {0xbc80dc3d54e08851ULL}, {0x3fee9f7df9519484ULL},
        {0xbc781f647e5a3ecfULL}, {0x3fee9f75e8ec5f74ULL},
        {0xbc86ee4ac08b7db0ULL}, {0x3fee9f9a48a58174ULL},
        {0xbc8619321e55e68aULL}, {0x3fee9feb564267c9ULL},
        {0x3c909ccb5e09d4d3ULL}, {0x3feea0694fde5d3fULL},
        {0xbc7b32dcb94da51dULL}, {0x3feea11473eb0187ULL},
        {0x3c94ecfd5467c06bULL}, {0x3feea1ed0130c132ULL},
        {0x3c65ebe1abd66c55ULL}, {0x3feea2f336cf4e62ULL},
        {0xbc88a1c52fb3cf42ULL}, {0x3feea427543e1a12ULL},
        {0xbc9369b6f13b3734ULL}, {0x3feea589994cce13ULL},
        {0xbc805e843a19ff1eULL}, {0x3feea71a4623c7adULL},
        {0xbc94d450d872576eULL}, {0x3feea8d99b4492edULL},
        {0x3c90ad675b0e8a00ULL}, {0x3feeaac7d98a6699ULL},
        {0x3c8db72fc1f0eab4ULL}, {0x3feeace5422aa0dbULL},
        {0xbc65b6609cc5e7ffULL}, {0x3feeaf3216b5448cULL},
        {0x3c7bf68359f35f44ULL}, {0x3feeb1ae99157736ULL},
        {0xbc93091fa71e3d83ULL}, {0x3feeb45b0b91ffc6ULL},
        {0xbc5da9b88b6c1e29ULL}, {0x3feeb737b0cdc5e5ULL},
        {0xbc6c23f97c90b959ULL}, {0x3feeba44cbc8520fULL},
        {0xbc92434322f4f9aaULL}, {0x3feebd829fde4e50ULL},
        {0xbc85ca6cd7668e4bULL}, {0x3feec0f170ca07baULL},
        {0x3c71affc2b91ce27ULL}, {0x3feec49182a3f090ULL},
        {0x3c6dd235e10a73bbULL}, {0x3feec86319e32323ULL},
        {0xbc87c50422622263ULL}, {0x3feecc667b5de565ULL},
        {0x3c8b1c86e3e231d5ULL}, {0x3feed09bec4a2d33ULL},
        {0xbc91bbd1d3bcbb15ULL}, {0x3feed503b23e255dULL},
        {0x3c90cc319cee31d2ULL}, {0x3feed99e1330b358ULL},
        {0x3c8469846e735ab3ULL}, {0x3feede6b5579fdbfULL},
        {0xbc82dfcd978e9db4ULL}, {0x3feee36bbfd3f37aULL},
        {0x3c8c1a7792cb3387ULL}, {0x3feee89f995ad3adULL},
        {0xbc907b8f4ad1d9faULL}, {0x3feeee07298db666ULL},
        {0xbc55c3d956dcaebaULL}, {0x3feef3a2b84f15fbULL},
        {0xbc90a40e3da6f640ULL}, {0x3feef9728de5593aULL},
        {0xbc68d6f438ad9334ULL}, {0x3feeff76f2fb5e47ULL},
        {0xbc91eee26b588a35ULL}, {0x3fef05b030a1064aULL},
        {0x3c74ffd70a5fddcdULL}, {0x3fef0c1e904bc1d2ULL},
        {0xbc91bdfbfa9298acULL}, {0x3fef12c25bd71e09ULL},
        {0x3c736eae30af0cb3ULL}, {0x3fef199bdd85529cULL},
        {0x3c8ee3325c9ffd94ULL}, {0x3fef20ab5fffd07aULL},
        {0x3c84e08fd10959acULL}, {0x3fef27f12e57d14bULL},
        {0x3c63cdaf384e1a67ULL}, {0x3fef2f6d9406e7b5ULL},
        {0x3c676b2c6c921968ULL}, {0x3fef3720dcef9069ULL},
        {0xbc808a1883ccb5d2ULL}, {0x3fef3f0b555dc3faULL},
        {0xbc8fad5d3ffffa6fULL}, {0x3fef472d4a07897cULL},
        {0xbc900dae3875a949ULL}, {0x3fef4f87080d89f2ULL},
        {0x3c74a385a63d07a7ULL}, {0x3fef5818dcfba487ULL},
        {0xbc82919e2040220fULL}, {0x3fef60e316c98398ULL},
        {0x3c8e5a50d5c192acULL}, {0x3fef69e603db3285ULL},
        {0x3c843a59ac016b4bULL}, {0x3fef7321f301b460ULL},
        {0xbc82d52107b43e1fULL}, {0x3fef7c97337b9b5fULL},
        {0xbc892ab93b470dc9ULL}, {0x3fef864614f5a129ULL},
        {0x3c74b604603a88d3ULL}, {0x3fef902ee78b3ff6ULL},
        {0x3c83c5ec519d7271ULL}, {0x3fef9a51fbc74c83ULL},
        {0xbc8ff7128fd391f0ULL}, {0x3fefa4afa2a490daULL},
        {0xbc8dae98e223747dULL}, {0x3fefaf482d8e67f1ULL},
        {0x3c8ec3bc41aa2008ULL}, {0x3fefba1bee615a27ULL},
        {0x3c842b94c3a9eb32ULL}, {0x3fefc52b376bba97ULL},
        {0x3c8a64a931d185eeULL}, {0x3fefd0765b6e4540ULL},
        {0xbc8e37bae43be3edULL}, {0x3fefdbfdad9cbe14ULL},
        {0x3c77893b4d91cd9dULL}, {0x3fefe7c1819e90d8ULL},
        {0x3c5305c14160cc89ULL}, {0x3feff3c22b8f71f1ULL},
    };
    """
    ctypedef union ExpWord "backprop_word":
        uint64_t u
        double d
    const ExpWord EXP_TABLE "backprop_exp_table"[256]


cdef inline double exp_parts64(double x, double* lo, double* rest) noexcept nogil:
    """``e^x = (hi + lo) * rest`` for ``|x| <= 746``: returns ``hi``; ``lo`` (within
    half an ulp of ``hi``) and ``rest``, a power of two, go to the pointers.  With
    ``k = rint(x * 128 / ln2)`` and ``e = floor(k / 128)``, ``hi + lo`` is ``e^x``
    over ``2^(e - floor(e / 2))`` (``rest``): both factors normal, so that the
    multiplication by ``rest`` is the one rounding of a subnormal result, and
    off the critical path the other half of ``2^e`` joins the table's value."""
    cdef double shift = 6755399441055744.0            # 1.5 * 2^52
    cdef double kd, r, r2, tmp, scale, prod, hi
    cdef uint64_t ki, j, n, a
    kd = x * 184.6649652337873 + shift                 # 128 / ln2; rounds to an integer
    ki = bits64(kd) - bits64(shift)
    kd = kd - shift
    # x - kd ln2/128 in two parts (the first with 17 zero bits: kd times it is exact)
    r = (x + kd * -0.005415212348111709) + kd * -1.2864023111638346e-14
    j = ki & 127
    n = ((ki + 1048576) >> 7) - 6144                   # e + 2048 (k + 2^20 >= 0)
    a = n >> 1                                         # floor(e / 2) + 1024
    # 2^(j/128) = scale (1 + tail), scale times 2^floor(e / 2): exponent bits added
    scale = from_bits64(bits64(EXP_TABLE[2 * j + 1].d) + (j << 45) + ((a - 1024) << 52))
    rest[0] = from_bits64((n - a - 1) << 52)           # 2^(e - floor(e / 2))
    # e^r - 1 + tail: Taylor's to r^5 (|r| <= ln2/256: the rest is below 2^-60)
    r2 = r * r
    tmp = (((EXP_TABLE[2 * j].d + r) + r2 * (1.0 / 2.0 + r * (1.0 / 6.0)))
           + (r2 * r2) * (1.0 / 24.0 + r * (1.0 / 120.0)))
    prod = scale * tmp
    hi = scale + prod
    lo[0] = (scale - hi) + prod                        # exact: |prod| < scale
    return hi


cdef inline double exp64(double x) noexcept nogil:
    """``e^x`` in double precision (see the module's docstring)."""
    cdef double lo, rest, u
    u = exp_parts64(x, &lo, &rest) * rest              # rounds once (subnormal results)
    u = INFINITY if x > 709.79 else u                  # beyond the range (and inf): the
    return 0.0 if x < -745.2 else u                    # limits; NaN passes through


cdef inline double tanh64(double x) noexcept nogil:
    """``tanh(x)`` in double precision (see the module's docstring)."""
    cdef uint64_t sign = 0x8000000000000000
    cdef double a, y, r, small, hi, lo, e, dh, dl, q, c, rh, rl
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
    # 1 - 2 / (e^2a + 1), e^2a = (hi + lo) e, e a power of two below 2^30
    hi = exp_parts64(a + a, &lo, &e)
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
    """``e^x = 2^k (hi + lo)`` for ``|x| <= 104``, in single precision: returns
    ``hi`` (in [0.7, 1.42]); ``lo`` (below half an ulp of ``hi``) and ``t``
    (``1.5 * 2^23 + k``, ``k`` in its low bits) go to the pointers."""
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
    cdef float top = 88.73, bottom = -104.0, zero = 0.0, lo, t, u
    cdef uint32_t n, a
    u = exp_parts32(x, &lo, &t)
    n = bits32(t) - bits32(12582912.0) + 256           # k + 256 >= 0
    a = n >> 1                                         # floor(k / 2) + 128
    u = u * from_bits32((a - 1) << 23)
    u = u * from_bits32((n - a - 1) << 23)
    u = INFINITY if x > top else u
    return zero if x < bottom else u


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
