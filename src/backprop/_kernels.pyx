# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""The engine's kernels: forward pass, deltas, weight updates and mini-batch
gradients over raw pointers, in typed Cython.

This one source is compiled once per SIMD level into ``backprop._kernels_baseline``,
``backprop._kernels_avx2`` and ``backprop._kernels_avx512`` (``setup.py``: the same
code, with more vector instructions allowed); ``backprop._core`` picks one at
import (``_core.use_simd``, ``BACKPROP_SIMD``) and calls it through the table of
function pointers ``TABLE`` holds (``_simd.Kernels``).  Every level computes the
same bits: no fused multiply-adds (``-ffp-contract=off``), sums in a fixed order
(``dot``'s eight partial sums), and the vector maths of ``_simd.pxd``.

The kernels mirror the pure-Python twin ``backprop._reference`` and carry the
names of its functions.  Nothing here raises or touches a Python object: the
kernels are ``noexcept nogil``, and ``_core`` validated everything before.
"""

from cpython.pycapsule cimport PyCapsule_New
from libc.math cimport fabs, isfinite, log, log1p

from backprop._simd cimport (
    CROSS_ENTROPY, HALF_SSE, KERNELS_ABI, LEAKY_RELU, LEAKY_SLOPE, LOGISTIC, MAP_EXP,
    LINEAR, MAP_TANH, MSE, RELU, SOFTMAX, TANH, Batch, Kernels, Net, logistic, real,
    vexp, vtanh,
)

cdef extern from *:
    """
    #if defined(__AVX512F__)
    #define BACKPROP_ISA "avx512f"
    #elif defined(__AVX2__)
    #define BACKPROP_ISA "avx2"
    #elif defined(__AVX__)
    #define BACKPROP_ISA "avx"
    #elif defined(__SSE2__) || defined(_M_X64)
    #define BACKPROP_ISA "sse2"
    #elif defined(__ARM_NEON) || defined(__aarch64__)
    #define BACKPROP_ISA "neon"
    #else
    #define BACKPROP_ISA "scalar"
    #endif
    #ifndef BACKPROP_BUILD_FLAGS
    #define BACKPROP_BUILD_FLAGS ""
    #endif
    """
    const char* BACKPROP_ISA
    const char* BACKPROP_BUILD_FLAGS


# ------------------------------------------------------------------ kernels
cdef inline real dot(const real* w, const real* a, Py_ssize_t n) noexcept nogil:
    """Sum of w[i] * a[i].

    Short rows are summed left to right, as the pure-Python twin does.  Long rows
    keep eight partial sums, combined pairwise at the end: enough independent
    additions in flight to hide the adder's latency, in a fixed order the
    compiler may vectorise without reassociating (which IEEE arithmetic forbids
    without -ffast-math), so every build gives the same bits.
    """
    cdef Py_ssize_t i, m = n - n % 8
    cdef real s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef real s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    if n < 16:
        for i in range(n):
            s0 += w[i] * a[i]
        return s0
    for i in range(0, m, 8):
        s0 += w[i] * a[i]
        s1 += w[i + 1] * a[i + 1]
        s2 += w[i + 2] * a[i + 2]
        s3 += w[i + 3] * a[i + 3]
        s4 += w[i + 4] * a[i + 4]
        s5 += w[i + 5] * a[i + 5]
        s6 += w[i + 6] * a[i + 6]
        s7 += w[i + 7] * a[i + 7]
    for i in range(m, n):
        s0 += w[i] * a[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


cdef inline void matvec(const real* w, Py_ssize_t n_in, Py_ssize_t n_out, const real* a,
                        real* out) noexcept nogil:
    """``out[j] = dot(w[j], a)`` for the ``n_out`` rows of ``w``."""
    cdef Py_ssize_t j
    for j in range(n_out):
        out[j] = dot(w + j * n_in, a, n_in)


cdef inline void add_bias(real* net, const real* b, Py_ssize_t n_bias,
                          Py_ssize_t n) noexcept nogil:
    """``net[j] + b[j]`` (one bias per unit), ``net[j] + b[0]`` (a shared one) or
    ``net`` as it is (no bias)."""
    cdef Py_ssize_t j
    cdef real b0
    if n_bias == 1:
        b0 = b[0]
        for j in range(n):
            net[j] = net[j] + b0
    elif n_bias > 1:
        for j in range(n):
            net[j] = net[j] + b[j]


cdef void activate(const real* net, real* out, Py_ssize_t n, int act) noexcept nogil:
    """The outputs of a layer of ``n`` units (softmax: of one sample's layer): one
    loop per activation, so that each is a straight loop over the layer in vector
    registers.

    Not ``inline``: a copy in every caller pushed the module past gcc's growth
    limit for inlining, and the float32 ``exp`` then stayed a scalar call per
    unit (one function per precision is also 8-20 KB smaller per module)."""
    cdef Py_ssize_t j
    if act == LOGISTIC:
        for j in range(n):
            out[j] = logistic(net[j])
    elif act == TANH:
        for j in range(n):
            out[j] = vtanh(net[j])
    elif act == RELU:
        for j in range(n):
            out[j] = net[j] if net[j] > 0.0 else 0.0
    elif act == LEAKY_RELU:
        for j in range(n):
            out[j] = net[j] if net[j] > 0.0 else LEAKY_SLOPE * net[j]
    elif act == SOFTMAX:
        softmax(net, out, n)
    else:
        for j in range(n):
            out[j] = net[j]


cdef inline void slopes(const real* net, const real* out, real* da, Py_ssize_t n,
                        int act) noexcept nogil:
    """``da[j] = slope(net[j], out[j], act)`` over a layer, one loop per activation."""
    cdef Py_ssize_t j
    if act == LOGISTIC or act == SOFTMAX:
        for j in range(n):
            da[j] = out[j] * (1.0 - out[j])
    elif act == TANH:
        for j in range(n):
            da[j] = 1.0 - out[j] * out[j]
    elif act == RELU:
        for j in range(n):
            da[j] = 1.0 if net[j] > 0.0 else 0.0
    elif act == LEAKY_RELU:
        for j in range(n):
            da[j] = 1.0 if net[j] > 0.0 else LEAKY_SLOPE
    else:
        for j in range(n):
            da[j] = 1.0


cdef inline void softmax(const real* net, real* out, Py_ssize_t n) noexcept nogil:
    """Softmax outputs, shifted by the largest net input so exp never overflows."""
    cdef Py_ssize_t j
    cdef real top = net[0], total = 0.0
    for j in range(1, n):
        if net[j] > top:
            top = net[j]
    for j in range(n):
        out[j] = vexp(net[j] - top)
        total += out[j]
    for j in range(n):
        out[j] = out[j] / total


cdef inline real slope(real net, real out, int act) noexcept nogil:
    """dout/dnet of one unit (softmax: the diagonal of its Jacobian)."""
    if act == LOGISTIC or act == SOFTMAX:
        return out * (1.0 - out)
    if act == TANH:
        return 1.0 - out * out
    if act == RELU:
        return 1.0 if net > 0.0 else 0.0
    if act == LEAKY_RELU:
        return 1.0 if net > 0.0 else LEAKY_SLOPE
    return 1.0


cdef void forward_layers(Net* n, const real* x, Py_ssize_t first) noexcept nogil:
    """Net inputs and outputs of layers ``first`` and up (``x`` feeds layer 0).

    Each layer: its net inputs, four rows of weights at a time (``matvec``), the
    biases, then the activation over the whole layer in vector registers.
    """
    cdef Py_ssize_t l
    cdef const real* a = x if first == 0 else (<real*> n.out) + n.u_off[first - 1]
    cdef real* net
    cdef real* out
    for l in range(first, n.n_layers):
        net = (<real*> n.net) + n.u_off[l]
        out = (<real*> n.out) + n.u_off[l]
        matvec((<real*> n.params) + n.w_off[l], n.sizes[l], n.sizes[l + 1], a, net)
        add_bias(net, (<real*> n.params) + n.b_off[l], n.n_bias[l], n.sizes[l + 1])
        activate(net, out, n.sizes[l + 1], n.acts[l])
        a = out


cdef double output_deltas_at(Net* n, const real* net, const real* o, const real* t,
                             real* d) noexcept nogil:
    """Error terms, dE/dout, dout/dnet and deltas of the output layer, for output
    net inputs ``net`` and outputs ``o`` stored anywhere (the workspace, or a row
    of a batch); deltas go to ``d``, the rest to the workspace.  Returns E."""
    cdef Py_ssize_t L = n.n_layers - 1, k, K = n.sizes[n.n_layers]
    cdef Py_ssize_t u = n.u_off[L]
    cdef int act = n.acts[L], loss = n.loss
    cdef real* g = (<real*> n.dout) + u
    cdef real* da = (<real*> n.dact) + u
    cdef real* err = (<real*> n.err)
    cdef double total = 0.0
    cdef real diff, lse = 0.0, dot_go = 0.0, gk, dk, t_sum = 0.0
    if loss == CROSS_ENTROPY and act == SOFTMAX:
        # targets that do not sum to 1 scale the softmax's share of the delta
        for k in range(K):
            t_sum += t[k]
        # log of the softmax denominator, from the net inputs (no log(0))
        lse = net[0]
        for k in range(1, K):
            if net[k] > lse:
                lse = net[k]
        for k in range(K):
            dot_go += vexp(net[k] - lse)
        lse = lse + log(dot_go)
    for k in range(K):
        da[k] = slope(net[k], o[k], act)
        diff = t[k] - o[k]
        if loss == HALF_SSE:
            err[k] = 0.5 * diff * diff
            gk = -diff
        elif loss == MSE:
            err[k] = diff * diff / K
            gk = 2.0 * (o[k] - t[k]) / K
        elif act == SOFTMAX:  # categorical cross-entropy
            err[k] = t[k] * (lse - net[k])
            gk = -t[k] / o[k] if t[k] != 0.0 else 0.0
        else:  # binary cross-entropy of a logistic output, from its net input
            err[k] = (net[k] if net[k] > 0.0 else 0.0) - net[k] * t[k] + log1p(vexp(-fabs(net[k])))
            gk = (o[k] - t[k]) / (o[k] * (1.0 - o[k]))
        g[k] = gk
        if loss == CROSS_ENTROPY and act == SOFTMAX:
            dk = o[k] * t_sum - t[k]  # o - t for targets summing to 1
        elif loss == CROSS_ENTROPY:
            dk = o[k] - t[k]          # the activation's slope cancels
        else:
            dk = gk * da[k]
        d[k] = dk
        total += err[k]
    if act == SOFTMAX and loss != CROSS_ENTROPY:
        # full Jacobian of softmax: delta_k = o_k (g_k - sum_m g_m o_m)
        dot_go = 0.0
        for k in range(K):
            dot_go += g[k] * o[k]
        for k in range(K):
            d[k] = o[k] * (g[k] - dot_go)
    return total


cdef inline void back_rows1(real* row, real dj, const real* a, real* g,
                            Py_ssize_t n_in, real lr, bint seq) noexcept nogil:
    """One row of a wide layer: g += dj * row and row -= lr * dj * a, fused."""
    cdef Py_ssize_t i
    cdef real c = lr * dj
    if seq:
        for i in range(n_in):
            row[i] = row[i] - c * a[i]
            g[i] += dj * row[i]
    else:
        for i in range(n_in):
            g[i] += dj * row[i]
            row[i] = row[i] - c * a[i]


cdef inline void back_rows4(real* w, Py_ssize_t n_in, const real* d, const real* a,
                            real* g, real lr, bint seq) noexcept nogil:
    """``back_rows1`` on four rows at once.

    Each g[i] takes its four additions in row order while it sits in a register,
    so the result is the same as four ``back_rows1`` calls, with a quarter of
    the loads and stores of ``g`` and of ``a``.
    """
    cdef Py_ssize_t i
    cdef real* r0 = w
    cdef real* r1 = w + n_in
    cdef real* r2 = w + 2 * n_in
    cdef real* r3 = w + 3 * n_in
    cdef real d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3]
    cdef real c0 = lr * d0, c1 = lr * d1, c2 = lr * d2, c3 = lr * d3
    cdef real ai, gi, w0, w1, w2, w3
    for i in range(n_in):
        ai = a[i]
        w0 = r0[i]
        w1 = r1[i]
        w2 = r2[i]
        w3 = r3[i]
        gi = g[i]
        if seq:
            w0 = w0 - c0 * ai
            w1 = w1 - c1 * ai
            w2 = w2 - c2 * ai
            w3 = w3 - c3 * ai
            gi = gi + d0 * w0
            gi = gi + d1 * w1
            gi = gi + d2 * w2
            gi = gi + d3 * w3
        else:
            gi = gi + d0 * w0
            gi = gi + d1 * w1
            gi = gi + d2 * w2
            gi = gi + d3 * w3
            w0 = w0 - c0 * ai
            w1 = w1 - c1 * ai
            w2 = w2 - c2 * ai
            w3 = w3 - c3 * ai
        g[i] = gi
        r0[i] = w0
        r1[i] = w1
        r2[i] = w2
        r3[i] = w3


cdef inline real update_dot(real* w, real c, const real* a, const real* nxt,
                            Py_ssize_t n) noexcept nogil:
    """``w -= c * a``, and returns ``dot(w, nxt)`` of the updated row, in the same
    sweep (``dot``'s order: the same bits as an update then a ``dot``)."""
    cdef Py_ssize_t i, k, m = n - n % 8
    cdef real acc[8]
    cdef real v, s = 0.0
    if n < 16:
        for i in range(n):
            v = w[i] - c * a[i]
            w[i] = v
            s += v * nxt[i]
        return s
    for k in range(8):
        acc[k] = 0.0
    for i in range(0, m, 8):
        for k in range(8):
            v = w[i + k] - c * a[i + k]
            w[i + k] = v
            acc[k] += v * nxt[i + k]
    for i in range(m, n):
        v = w[i] - c * a[i]
        w[i] = v
        acc[0] += v * nxt[i]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline void update_rows(real* w, Py_ssize_t n_in, Py_ssize_t n_out, const real* d,
                             real lr, const real* a, const real* nxt,
                             real* net) noexcept nogil:
    """The first layer's update, ``w[j] -= (lr * d[j]) * a``; with ``nxt`` (the
    next sample), also its net inputs ``net[j] = dot(w[j], nxt)`` (no bias yet)
    from each row while it is in registers: on wide layers that saves a pass
    over the largest matrix."""
    cdef Py_ssize_t i, j
    cdef real c
    cdef real* row
    for j in range(n_out):
        row = w + j * n_in
        c = lr * d[j]
        if nxt != NULL:
            net[j] = update_dot(row, c, a, nxt, n_in)
        else:
            for i in range(n_in):
                row[i] = row[i] - c * a[i]


cdef void backward_update(Net* n, const real* x, const real* nxt, double rate,
                          bint seq) noexcept nogil:
    """Back-propagate the output deltas and update every layer, top layer first,
    with learning rate ``rate``.

    Going down from the output, layer ``l``'s weights are read to pass the error
    to layer ``l - 1`` in the same sweep that updates them (``back_rows4``, rows
    of weights streamed through vector registers): before the update
    (simultaneous) or after it (sequential).  When ``nxt`` (the next sample) is
    given, the first layer's update also computes its net inputs and outputs for
    ``nxt`` (``update_rows``; the caller then runs ``forward_layers(n, nxt, 1)``).
    """
    cdef Py_ssize_t l, i, j, n_in, n_out, lo
    cdef const real* a
    cdef real* w
    cdef real* b
    cdef real* d
    cdef real* g
    cdef real* da
    cdef real* delta
    cdef real s
    cdef real lr = <real> rate
    for l in range(n.n_layers - 1, -1, -1):
        n_in = n.sizes[l]
        n_out = n.sizes[l + 1]
        a = x if l == 0 else (<real*> n.out) + n.u_off[l - 1]
        w = (<real*> n.params) + n.w_off[l]
        d = (<real*> n.delta) + n.u_off[l]
        if n.train_bias and n.n_bias[l] > 0:
            b = (<real*> n.params) + n.b_off[l]
            if n.n_bias[l] == 1:
                s = 0.0
                for j in range(n_out):
                    s += d[j]
                b[0] = b[0] - lr * s
            else:
                for j in range(n_out):
                    b[j] = b[j] - lr * d[j]
        if l == 0:
            update_rows(w, n_in, n_out, d, lr, a, nxt, <real*> n.net)
            if nxt != NULL:
                add_bias(<real*> n.net, (<real*> n.params) + n.b_off[0], n.n_bias[0], n_out)
                activate(<real*> n.net, <real*> n.out, n_out, n.acts[0])
            continue
        lo = n.u_off[l - 1]
        g = (<real*> n.dout) + lo
        da = (<real*> n.dact) + lo
        delta = (<real*> n.delta) + lo
        for i in range(n_in):
            g[i] = 0.0
        j = 0
        while j + 4 <= n_out:
            back_rows4(w + j * n_in, n_in, d + j, a, g, lr, seq)
            j += 4
        while j < n_out:
            back_rows1(w + j * n_in, d[j], a, g, n_in, lr, seq)
            j += 1
        slopes((<real*> n.net) + lo, a, da, n_in, n.acts[l - 1])
        for i in range(n_in):
            delta[i] = g[i] * da[i]


cdef inline void blas_gemm(const Batch* bt, char* ta, char* tb, int m, int n, int k,
                           real alpha, const real* A, int lda, const real* B, int ldb,
                           real beta, real* C, int ldc) noexcept nogil:
    """C = alpha op(A) op(B) + beta C (column-major) by BLAS, in ``real``'s precision."""
    if real is double:
        bt.dgemm(ta, tb, &m, &n, &k, &alpha, <double*> A, &lda, <double*> B, &ldb, &beta,
                 C, &ldc)
    else:
        bt.sgemm(ta, tb, &m, &n, &k, &alpha, <float*> A, &lda, <float*> B, &ldb, &beta,
                 C, &ldc)


cdef inline void layer_outputs(real* Z, real* O, const real* b, Py_ssize_t n_bias,
                               Py_ssize_t rows, Py_ssize_t n_out, int act) noexcept nogil:
    """The epilogue of a layer's forward product over ``rows`` samples: the biases
    into the net inputs ``Z``, then the outputs ``O`` (element-wise activations
    over the whole block at once, softmax row by row)."""
    cdef Py_ssize_t r
    for r in range(rows):
        add_bias(Z + r * n_out, b, n_bias, n_out)
    if act == SOFTMAX:
        for r in range(rows):
            softmax(Z + r * n_out, O + r * n_out, n_out)
    else:
        activate(Z, O, rows * n_out, act)


cdef inline void gemm_rows(const real* A, const real* W, const real* b, Py_ssize_t n_bias,
                           real* Z, real* O, Py_ssize_t rows, Py_ssize_t n_in,
                           Py_ssize_t n_out, int act, const Batch* bt,
                           bint blas) noexcept nogil:
    """Z = A W^T + b and O = act(Z): row r of Z holds the dot products of row r of
    A with W's rows (``matvec``, ``dot``'s order) plus the biases; the epilogue
    runs on each row while it is in cache (after BLAS's product, on the block)."""
    cdef Py_ssize_t r
    if blas:
        # column-major view: Z^T (n_out x rows) = W (n_out x n_in) . A^T
        blas_gemm(bt, b"T", b"N", <int> n_out, <int> rows, <int> n_in, 1, W, <int> n_in, A,
                  <int> n_in, 0, Z, <int> n_out)
        layer_outputs(Z, O, b, n_bias, rows, n_out, act)
        return
    for r in range(rows):
        matvec(W, n_in, n_out, A + r * n_in, Z + r * n_out)
        layer_outputs(Z + r * n_out, O + r * n_out, b, n_bias, 1, n_out, act)


cdef inline void gemm_grad(const real* D, const real* A, real* G, Py_ssize_t rows,
                           Py_ssize_t n_in, Py_ssize_t n_out, const Batch* bt,
                           bint blas) noexcept nogil:
    """G += D^T A: the weight gradients of ``rows`` samples, added in sample order
    (four samples per sweep over a row of G, each element's additions in order)."""
    cdef Py_ssize_t r = 0, j, i
    cdef real d0, d1, d2, d3
    cdef const real* a0
    cdef const real* a1
    cdef const real* a2
    cdef const real* a3
    cdef real* g
    if blas:
        # column-major: G^T (n_in x n_out) += A^T (n_in x rows) . D (rows x n_out)
        blas_gemm(bt, b"N", b"T", <int> n_in, <int> n_out, <int> rows, 1, A, <int> n_in, D,
                  <int> n_out, 1, G, <int> n_in)
        return
    while r + 4 <= rows:
        a0 = A + r * n_in
        a1 = a0 + n_in
        a2 = a1 + n_in
        a3 = a2 + n_in
        for j in range(n_out):
            d0 = D[r * n_out + j]
            d1 = D[(r + 1) * n_out + j]
            d2 = D[(r + 2) * n_out + j]
            d3 = D[(r + 3) * n_out + j]
            g = G + j * n_in
            for i in range(n_in):
                g[i] = (((g[i] + d0 * a0[i]) + d1 * a1[i]) + d2 * a2[i]) + d3 * a3[i]
        r += 4
    while r < rows:
        a0 = A + r * n_in
        for j in range(n_out):
            d0 = D[r * n_out + j]
            g = G + j * n_in
            for i in range(n_in):
                g[i] += d0 * a0[i]
        r += 1


cdef inline void back_rows(const real* W, Py_ssize_t n_in, Py_ssize_t n_out, const real* d,
                           real* g) noexcept nogil:
    """g = d W: ``g[i]``, from 0, adds ``d[j] * W[j, i]`` in row order, four rows
    per sweep over ``g``."""
    cdef Py_ssize_t i, j = 0
    cdef real d0, d1, d2, d3
    cdef const real* w0
    cdef const real* w1
    cdef const real* w2
    cdef const real* w3
    for i in range(n_in):
        g[i] = 0.0
    while j + 4 <= n_out:
        w0 = W + j * n_in
        w1 = w0 + n_in
        w2 = w1 + n_in
        w3 = w2 + n_in
        d0 = d[j]
        d1 = d[j + 1]
        d2 = d[j + 2]
        d3 = d[j + 3]
        for i in range(n_in):
            g[i] = (((g[i] + d0 * w0[i]) + d1 * w1[i]) + d2 * w2[i]) + d3 * w3[i]
        j += 4
    while j < n_out:
        w0 = W + j * n_in
        d0 = d[j]
        for i in range(n_in):
            g[i] += d0 * w0[i]
        j += 1


cdef inline void deltas_below(const real* e, const real* Z, const real* O, real* D,
                              Py_ssize_t n, int act) noexcept nogil:
    """The deltas of ``n`` units below: dE/dout ``e`` times the slope of their
    activation (from their net inputs ``Z`` and outputs ``O``)."""
    cdef Py_ssize_t i
    slopes(Z, O, D, n, act)
    for i in range(n):
        D[i] = e[i] * D[i]


cdef inline void gemm_back(const real* D, const real* W, real* E, const real* Z,
                           const real* O, real* D_below, Py_ssize_t rows, Py_ssize_t n_in,
                           Py_ssize_t n_out, int act, const Batch* bt,
                           bint blas) noexcept nogil:
    """E = D W, each sample's dE/dout of the layer below, and its deltas
    ``D_below = E * slope`` (the epilogue on each row while it is in cache)."""
    cdef Py_ssize_t r
    if blas:
        # column-major: E^T (n_in x rows) = W^T (n_in x n_out) . D^T (n_out x rows)
        blas_gemm(bt, b"N", b"N", <int> n_in, <int> rows, <int> n_out, 1, W, <int> n_in, D,
                  <int> n_out, 0, E, <int> n_in)
        deltas_below(E, Z, O, D_below, rows * n_in, act)
        return
    for r in range(rows):
        back_rows(W, n_in, n_out, D + r * n_out, E + r * n_in)
        deltas_below(E + r * n_in, Z + r * n_in, O + r * n_in, D_below + r * n_in, n_in, act)


cdef double batch_gradient(Net* n, Batch* bt, const real* X, const real* T,
                           Py_ssize_t rows, real* grad) noexcept nogil:
    """Add the gradients of ``rows`` samples (rows of ``X``/``T``) to ``grad``.

    The same sums as one sample at a time, in the same order, arranged as matrix
    products over the batch with their epilogues (biases and activations, slopes
    and deltas) fused in; layers marked for BLAS hand their products to it
    (faster on large layers, summed in BLAS's own order).  Returns the sum of the
    samples' errors.
    """
    cdef Py_ssize_t l, r, j, n_in, n_out, L = n.n_layers, K = n.sizes[n.n_layers]
    cdef const real* A
    cdef const real* w
    cdef real* D
    cdef real* gb
    cdef real s
    cdef double total = 0.0
    cdef real* bnet = <real*> bt.net
    cdef real* bout = <real*> bt.out
    cdef real* bdelta = <real*> bt.delta
    # forward, layer by layer over the whole batch
    for l in range(L):
        A = X if l == 0 else bout + bt.u_off[l - 1]
        gemm_rows(A, (<real*> n.params) + n.w_off[l], (<real*> n.params) + n.b_off[l],
                  n.n_bias[l], bnet + bt.u_off[l], bout + bt.u_off[l], rows, n.sizes[l],
                  n.sizes[l + 1], n.acts[l], bt, bt.blas[l])
    # output deltas, sample by sample
    for r in range(rows):
        total += output_deltas_at(n, bnet + bt.u_off[L - 1] + r * K,
                                  bout + bt.u_off[L - 1] + r * K, T + r * K,
                                  bdelta + bt.u_off[L - 1] + r * K)
    # backward, top layer first: gradients, then the deltas of the layer below
    for l in range(L - 1, -1, -1):
        n_in = n.sizes[l]
        n_out = n.sizes[l + 1]
        A = X if l == 0 else bout + bt.u_off[l - 1]
        D = bdelta + bt.u_off[l]
        w = (<real*> n.params) + n.w_off[l]
        gemm_grad(D, A, grad + n.w_off[l], rows, n_in, n_out, bt, bt.blas[l])
        if n.train_bias and n.n_bias[l] > 0:
            gb = grad + n.b_off[l]
            for r in range(rows):
                if n.n_bias[l] == 1:
                    s = 0.0
                    for j in range(n_out):
                        s += D[r * n_out + j]
                    gb[0] += s
                else:
                    for j in range(n_out):
                        gb[j] += D[r * n_out + j]
        if l > 0:
            gemm_back(D, w, <real*> bt.e, bnet + bt.u_off[l - 1], bout + bt.u_off[l - 1],
                      bdelta + bt.u_off[l - 1], rows, n_in, n_out, n.acts[l - 1], bt,
                      bt.blas[l])
    return total


# ------------------------------------------------------------------ ensembles
# Many networks of one shape trained together, side by side: every parameter,
# unit value and error of ``m`` members lies in ``m`` consecutive ``real``s (the
# "lanes"), so each step of the one-network kernels above becomes a loop over
# the lanes that the compiler turns into vector instructions.  Each lane does
# exactly the arithmetic of ``train_sample`` (the same operations in the same
# order, the dot products summed as ``dot`` sums them, the same vector maths),
# so a member trained here has the bits it would have trained alone.

cdef inline void lanes_dot(const real* w, const real* a, Py_ssize_t n, Py_ssize_t m,
                           real* s, real* part) noexcept nogil:
    """``s[k] = dot(w[., k], a[., k], n)`` for each lane k of rows ``w[i * m + k]``,
    ``a[i * m + k]``, summed as ``dot`` sums (eight partial sums in ``part`` for
    long rows)."""
    cdef Py_ssize_t i, k, q, r = n - n % 8
    cdef const real* wi
    cdef const real* ai
    cdef real* pq
    for k in range(m):
        s[k] = 0.0
    if n < 16:
        for i in range(n):
            wi = w + i * m
            ai = a + i * m
            for k in range(m):
                s[k] += wi[k] * ai[k]
        return
    for k in range(8 * m):
        part[k] = 0.0
    for i in range(0, r, 8):
        for q in range(8):
            wi = w + (i + q) * m
            ai = a + (i + q) * m
            pq = part + q * m
            for k in range(m):
                pq[k] += wi[k] * ai[k]
    for i in range(r, n):
        wi = w + i * m
        ai = a + i * m
        for k in range(m):
            part[k] += wi[k] * ai[k]
    for k in range(m):
        s[k] = (((part[k] + part[m + k]) + (part[2 * m + k] + part[3 * m + k]))
                + ((part[4 * m + k] + part[5 * m + k]) + (part[6 * m + k] + part[7 * m + k])))


cdef inline void lanes_activate(const real* s, real* o, Py_ssize_t m, int act) noexcept nogil:
    """``o[k] = activate_unit(s[k], act)`` for an element-wise activation."""
    cdef Py_ssize_t k
    if act == LOGISTIC:
        for k in range(m):
            o[k] = logistic(s[k])
    elif act == TANH:
        for k in range(m):
            o[k] = vtanh(s[k])
    elif act == RELU:
        for k in range(m):
            o[k] = s[k] if s[k] > 0.0 else 0.0
    elif act == LEAKY_RELU:
        for k in range(m):
            o[k] = s[k] if s[k] > 0.0 else LEAKY_SLOPE * s[k]
    elif act == LINEAR:
        for k in range(m):
            o[k] = s[k]


cdef inline void lanes_step(Net* n, real* W, Py_ssize_t m, const real* x, const real* t,
                            const real* lr, double* err, real* net, real* out, real* delta,
                            real* g, real* s, real* c, real* top, real* tot,
                            real* part) noexcept nogil:
    """One online SGD step of ``m`` members (``train_sample`` lane by lane).

    ``W[p * m + k]``: parameter p of lane k; ``x``, ``t``: the sample's inputs and
    targets, one row of lanes per value; ``lr[k]``: lane k's rate; ``err[k]``
    gets the sample's error (before the update).  Scratch: ``net``, ``out``,
    ``delta`` and ``g`` hold ``n_units * m`` reals, ``s``, ``c``, ``top`` and
    ``tot`` ``m``, ``part`` ``8 * m``.  Every loop over the lanes is free of
    branches on the options (they are taken outside it), so that it vectorises.
    """
    cdef Py_ssize_t L = n.n_layers, l, i, j, k, n_in, n_out, nb, lo, u, K
    cdef real* da = top                     # (the softmax scratch, free by then)
    cdef const real* a
    cdef real* wr
    cdef real* b
    cdef real* o
    cdef real* nt
    cdef real* d
    cdef real* dj
    cdef real* gj
    cdef const real* tj
    cdef real e, diff
    cdef int act, loss = n.loss
    # forward, layer by layer: net = dot + bias, out = activation(net)
    a = x
    for l in range(L):
        n_in = n.sizes[l]
        n_out = n.sizes[l + 1]
        nb = n.n_bias[l]
        act = n.acts[l]
        u = n.u_off[l]
        for j in range(n_out):
            lanes_dot(W + (n.w_off[l] + j * n_in) * m, a, n_in, m, s, part)
            nt = net + (u + j) * m
            if nb > 0:
                b = W + (n.b_off[l] + (j if nb > 1 else 0)) * m
                for k in range(m):
                    s[k] = s[k] + b[k]
            for k in range(m):
                nt[k] = s[k]
            if act != SOFTMAX:
                lanes_activate(s, out + (u + j) * m, m, act)
        if act == SOFTMAX:
            nt = net + u * m
            o = out + u * m
            for k in range(m):
                top[k] = nt[k]
            for j in range(1, n_out):
                for k in range(m):
                    top[k] = nt[j * m + k] if nt[j * m + k] > top[k] else top[k]
            for k in range(m):
                tot[k] = 0.0
            for j in range(n_out):
                for k in range(m):
                    o[j * m + k] = vexp(nt[j * m + k] - top[k])
                for k in range(m):
                    tot[k] += o[j * m + k]
            for j in range(n_out):
                for k in range(m):
                    o[j * m + k] = o[j * m + k] / tot[k]
        a = out + u * m
    # the output layer's deltas and the sample's error (output_deltas_at)
    K = n.sizes[L]
    u = n.u_off[L - 1]
    act = n.acts[L - 1]
    nt = net + u * m
    o = out + u * m
    d = delta + u * m
    for k in range(m):
        err[k] = 0.0
    if loss == CROSS_ENTROPY and act == SOFTMAX:
        for k in range(m):
            c[k] = 0.0                       # the targets' sum
            top[k] = nt[k]
        for j in range(K):
            for k in range(m):
                c[k] += t[j * m + k]
        for j in range(1, K):
            for k in range(m):
                top[k] = nt[j * m + k] if nt[j * m + k] > top[k] else top[k]
        for k in range(m):
            tot[k] = 0.0
        for j in range(K):
            for k in range(m):
                tot[k] += vexp(nt[j * m + k] - top[k])
        for k in range(m):
            top[k] = top[k] + log(tot[k])    # log of the softmax denominator
        for j in range(K):
            tj = t + j * m
            for k in range(m):
                e = tj[k] * (top[k] - nt[j * m + k])
                g[j * m + k] = -tj[k] / o[j * m + k] if tj[k] != 0.0 else 0.0
                d[j * m + k] = o[j * m + k] * c[k] - tj[k]
                err[k] += e
    else:
        for j in range(K):
            tj = t + j * m
            gj = g + j * m
            dj = d + j * m
            nt = net + (u + j) * m
            o = out + (u + j) * m
            slopes(nt, o, da, m, act)
            if loss == HALF_SSE:
                for k in range(m):
                    diff = tj[k] - o[k]
                    e = 0.5 * diff * diff
                    gj[k] = -diff
                    dj[k] = gj[k] * da[k]
                    err[k] += e
            elif loss == MSE:
                for k in range(m):
                    diff = tj[k] - o[k]
                    e = diff * diff / K
                    gj[k] = 2.0 * (o[k] - tj[k]) / K
                    dj[k] = gj[k] * da[k]
                    err[k] += e
            else:  # binary cross-entropy of logistic outputs
                for k in range(m):
                    e = ((nt[k] if nt[k] > 0.0 else 0.0) - nt[k] * tj[k]
                         + log1p(vexp(-fabs(nt[k]))))
                    gj[k] = (o[k] - tj[k]) / (o[k] * (1.0 - o[k]))
                    dj[k] = o[k] - tj[k]
                    err[k] += e
        if act == SOFTMAX and loss != CROSS_ENTROPY:
            o = out + u * m
            for k in range(m):
                tot[k] = 0.0
            for j in range(K):
                for k in range(m):
                    tot[k] += g[j * m + k] * o[j * m + k]
            for j in range(K):
                for k in range(m):
                    d[j * m + k] = o[j * m + k] * (g[j * m + k] - tot[k])
    # back-propagate and update, top layer first (backward_update, simultaneous)
    for l in range(L - 1, -1, -1):
        n_in = n.sizes[l]
        n_out = n.sizes[l + 1]
        nb = n.n_bias[l]
        a = x if l == 0 else out + n.u_off[l - 1] * m
        d = delta + n.u_off[l] * m
        if n.train_bias and nb > 0:
            b = W + n.b_off[l] * m
            if nb == 1:
                for k in range(m):
                    s[k] = 0.0
                for j in range(n_out):
                    for k in range(m):
                        s[k] += d[j * m + k]
                for k in range(m):
                    b[k] = b[k] - lr[k] * s[k]
            else:
                for j in range(n_out):
                    for k in range(m):
                        b[j * m + k] = b[j * m + k] - lr[k] * d[j * m + k]
        if l > 0:
            for i in range(n_in * m):
                g[i] = 0.0
        for j in range(n_out):
            dj = d + j * m
            for k in range(m):
                c[k] = lr[k] * dj[k]
            for i in range(n_in):
                wr = W + (n.w_off[l] + j * n_in + i) * m
                gj = g + i * m
                if l > 0:
                    for k in range(m):
                        gj[k] = gj[k] + dj[k] * wr[k]
                for k in range(m):
                    wr[k] = wr[k] - c[k] * a[i * m + k]
        if l > 0:
            lo = n.u_off[l - 1]
            act = n.acts[l - 1]
            for i in range(n_in):
                slopes(net + (lo + i) * m, a + i * m, da, m, act)
                gj = g + i * m
                dj = delta + (lo + i) * m
                for k in range(m):
                    dj[k] = gj[k] * da[k]


cdef void lanes_sample(Net* n, real* W, Py_ssize_t m, const real* x, const real* t,
                       const real* lr, double* err, real* work) noexcept nogil:
    """``lanes_step`` with its scratch in ``work``: ``(5 * n_units + 12) * m`` reals."""
    cdef real* s = work + 4 * n.n_units * m
    lanes_step(n, W, m, x, t, lr, err, work, work + n.n_units * m,
               work + 2 * n.n_units * m, work + 3 * n.n_units * m, s, s + m, s + 2 * m,
               s + 3 * m, s + 4 * m)


# A small network's block of LANE_BLOCK lanes lives on the stack for a whole call:
# every loop over its lanes has a known trip count and works on arrays that
# cannot overlap, so the compiler turns each into a few vector instructions with
# no run-time overlap checks and no remainder loops.
cdef enum:
    LANE_BLOCK = 8
    LANE_MAX_PARAMS = 320         # parameters of a network the blocks take
    LANE_MAX_UNITS = 40           # units (outside the inputs); inputs and outputs


cdef inline bint lanes_fit(Net* n) noexcept nogil:
    """Whether ``n`` is small enough for ``lanes_block_epochs``."""
    return (n.n_params <= LANE_MAX_PARAMS and n.n_units <= LANE_MAX_UNITS
            and n.sizes[0] <= LANE_MAX_UNITS)


cdef Py_ssize_t lanes_block_epochs(Net* n, real* W, Py_ssize_t m, const real* X,
                                   const real* T, Py_ssize_t x_stride, Py_ssize_t t_stride,
                                   Py_ssize_t n_samples, Py_ssize_t epochs, const real* lr,
                                   double* history, Py_ssize_t history_stride) noexcept nogil:
    """``lanes_epochs`` for a small network (``lanes_fit``): blocks of
    ``LANE_BLOCK`` lanes, each trained for all the epochs in turn (a short last
    block is filled with copies of its first lane, whose results are dropped)."""
    cdef real Wl[LANE_MAX_PARAMS * LANE_BLOCK]
    cdef real net[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real out[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real delta[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real g[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real xb[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real tb[LANE_MAX_UNITS * LANE_BLOCK]
    cdef real s[LANE_BLOCK]
    cdef real c[LANE_BLOCK]
    cdef real top[LANE_BLOCK]
    cdef real tot[LANE_BLOCK]
    cdef real lrb[LANE_BLOCK]
    cdef real part[8 * LANE_BLOCK]
    cdef double err[LANE_BLOCK]
    cdef double total[LANE_BLOCK]
    cdef Py_ssize_t P = n.n_params, n_in = n.sizes[0], n_out = n.sizes[n.n_layers]
    cdef Py_ssize_t k0, mb, e, smp, i, p, v, failed = -1, bad
    cdef Py_ssize_t lane[LANE_BLOCK]
    cdef const real* xs
    cdef const real* ts
    k0 = 0
    while k0 < m:
        mb = min(<Py_ssize_t> LANE_BLOCK, m - k0)
        for v in range(LANE_BLOCK):
            lane[v] = k0 + (v if v < mb else 0)
            lrb[v] = lr[lane[v]]
        for p in range(P):
            for v in range(LANE_BLOCK):
                Wl[p * LANE_BLOCK + v] = W[p * m + lane[v]]
        bad = -1
        for e in range(epochs):
            for v in range(LANE_BLOCK):
                total[v] = 0.0
            for smp in range(n_samples):
                for v in range(LANE_BLOCK):
                    xs = X + lane[v] * x_stride + smp * n_in
                    ts = T + lane[v] * t_stride + smp * n_out
                    for i in range(n_in):
                        xb[i * LANE_BLOCK + v] = xs[i]
                    for i in range(n_out):
                        tb[i * LANE_BLOCK + v] = ts[i]
                lanes_step(n, Wl, LANE_BLOCK, xb, tb, lrb, err, net, out, delta, g, s, c,
                           top, tot, part)
                for v in range(LANE_BLOCK):
                    total[v] += err[v]
            for v in range(mb):
                history[(k0 + v) * history_stride + e] = total[v]
            for v in range(mb):
                if not isfinite(total[v]):
                    bad = e
            if bad >= 0:
                break
        for p in range(P):
            for v in range(mb):
                W[p * m + k0 + v] = Wl[p * LANE_BLOCK + v]
        if bad >= 0 and (failed < 0 or bad < failed):
            failed = bad
        k0 += LANE_BLOCK
    return failed


# The smallest networks (one hidden layer of a few logistic units, the seed's
# shape among them) go further: a block of lanes on the stack, each step a few
# passes over it whose sizes are constants (``fused_epochs`` is instantiated for
# each shape in ``lanes_epochs``), so that the compiler unrolls the units and
# turns each pass over the lanes into vector instructions, the exponentials'
# table lookups included.  Its arithmetic is ``lanes_step``'s for those
# networks, operation for operation.
cdef enum:
    FUSED_LANES = 64              # lanes of a block (a multiple of every vector width)
    FUSED_MAX_UNITS = 4           # the most units of a layer among the shapes below

# The shapes (inputs, hidden units, outputs) with an instance of ``fused_epochs``
# (the seed's, and XOR's with 2 to 4 hidden units; each instance costs about 10 KB
# of each SIMD level's module, and the wheel must stay under 1 MB):
# empty types that only name a specialisation of the fused type ``tiny``, in which
# the sizes are constants.
cdef extern from *:
    """
    typedef struct { char unused; } backprop_shape_2_2_1;
    typedef struct { char unused; } backprop_shape_2_3_1;
    typedef struct { char unused; } backprop_shape_2_4_1;
    typedef struct { char unused; } backprop_shape_2_2_2;
    """
    ctypedef struct Shape221 "backprop_shape_2_2_1":
        pass
    ctypedef struct Shape231 "backprop_shape_2_3_1":
        pass
    ctypedef struct Shape241 "backprop_shape_2_4_1":
        pass
    ctypedef struct Shape222 "backprop_shape_2_2_2":
        pass

ctypedef fused tiny:
    Shape221
    Shape231
    Shape241
    Shape222


cdef inline void bias_step(real* b, const real* d, const real* lr, Py_ssize_t units,
                           bint one) noexcept nogil:
    """One layer's biases in ``fused_epochs`` (``FUSED_LANES`` lanes, unit-major):
    ``b -= lr * d``, or with one bias for the layer (``one``) ``b -= lr * sum(d)``,
    the sum kept in every unit's place (the forward pass reads them all)."""
    cdef Py_ssize_t j, k
    cdef real sb, bs
    if one:
        for k in range(FUSED_LANES):
            sb = 0.0
            for j in range(units):
                sb += d[j * FUSED_LANES + k]
            bs = b[k] - lr[k] * sb
            for j in range(units):
                b[j * FUSED_LANES + k] = bs
    else:
        for j in range(units):
            for k in range(FUSED_LANES):
                b[j * FUSED_LANES + k] = b[j * FUSED_LANES + k] - lr[k] * d[j * FUSED_LANES + k]


cdef Py_ssize_t fused_epochs(const tiny* shape, Net* n, real* W, Py_ssize_t m, const real* X,
                             const real* T, Py_ssize_t x_stride, Py_ssize_t t_stride,
                             Py_ssize_t n_samples, Py_ssize_t epochs, const real* lr,
                             double* history, Py_ssize_t history_stride) noexcept nogil:
    """``lanes_epochs`` for a network of ``NI`` inputs, ``NH`` logistic hidden units
    and ``NO`` logistic outputs (the sizes of ``tiny``; ``shape`` is not read) under
    the half sum of squares or the mean squared error (``fused_fit``), in blocks of
    ``FUSED_LANES`` lanes, each trained for all the epochs in turn (a short last
    block is filled with copies of its first lane, whose results are dropped).
    Biases: the kernels' rule (one bias of a layer, ``n_bias == 1``, is updated by
    the sum of the layer's deltas), kept per unit here (a layer without biases
    adds zeros: the same values).  The options (loss, bias mode, frozen biases)
    choose between loops, outside them."""
    cdef Py_ssize_t NI = 2, NH, NO
    if tiny is Shape221:
        NH, NO = 2, 1
    elif tiny is Shape231:
        NH, NO = 3, 1
    elif tiny is Shape241:
        NH, NO = 4, 1
    else:
        NH, NO = 2, 2
    cdef real w1[FUSED_MAX_UNITS * FUSED_MAX_UNITS * FUSED_LANES]
    cdef real w2[FUSED_MAX_UNITS * FUSED_MAX_UNITS * FUSED_LANES]
    cdef real b1[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real b2[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real xb[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real tb[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real lrb[FUSED_LANES]
    cdef double total[FUSED_LANES]
    cdef Py_ssize_t lane[FUSED_LANES]
    cdef real h[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real o[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real d1[FUSED_MAX_UNITS * FUSED_LANES]
    cdef real d2[FUSED_MAX_UNITS * FUSED_LANES]
    cdef Py_ssize_t w1o = n.w_off[0], w2o = n.w_off[1], b1o = n.b_off[0], b2o = n.b_off[1]
    cdef Py_ssize_t nb1 = n.n_bias[0], nb2 = n.n_bias[1]
    cdef bint one1 = nb1 == 1, one2 = nb2 == 1
    cdef bint train1 = n.train_bias and nb1 > 0, train2 = n.train_bias and nb2 > 0
    cdef bint half = n.loss == HALF_SSE
    cdef bint refill = n_samples > 1 or x_stride != 0 or t_stride != 0
    cdef Py_ssize_t k0, mb, e, smp, i, j, k, v, failed = -1, bad
    cdef real s, sb, diff, c, oj, hi, da, loss_e
    cdef double err
    k0 = 0
    while k0 < m:
        mb = min(<Py_ssize_t> FUSED_LANES, m - k0)
        for k in range(FUSED_LANES):
            lane[k] = k0 + (k if k < mb else 0)
            lrb[k] = lr[lane[k]]
        for j in range(NH):
            for k in range(FUSED_LANES):
                b1[j * FUSED_LANES + k] = (W[(b1o + (0 if one1 else j)) * m + lane[k]]
                                           if nb1 > 0 else 0.0)
            for i in range(NI):
                for k in range(FUSED_LANES):
                    w1[(j * NI + i) * FUSED_LANES + k] = W[(w1o + j * NI + i) * m + lane[k]]
        for j in range(NO):
            for k in range(FUSED_LANES):
                b2[j * FUSED_LANES + k] = (W[(b2o + (0 if one2 else j)) * m + lane[k]]
                                           if nb2 > 0 else 0.0)
            for i in range(NH):
                for k in range(FUSED_LANES):
                    w2[(j * NH + i) * FUSED_LANES + k] = W[(w2o + j * NH + i) * m + lane[k]]
        bad = -1
        for e in range(epochs):
            for k in range(FUSED_LANES):
                total[k] = 0.0
            for smp in range(n_samples):
                if refill or (e == 0 and smp == 0):
                    for k in range(FUSED_LANES):
                        for i in range(NI):
                            xb[i * FUSED_LANES + k] = X[lane[k] * x_stride + smp * NI + i]
                        for i in range(NO):
                            tb[i * FUSED_LANES + k] = T[lane[k] * t_stride + smp * NO + i]
                # a step in passes over the lanes, each a short loop whose
                # iterations are independent: one long body per lane (a chain of
                # dependent operations longer than the processor's window) took
                # 1.5x the time, and a choice of option inside a loop (a branch,
                # or a select of bits) would cost as much again
                for k in range(FUSED_LANES):  # the hidden layer's outputs
                    for j in range(NH):
                        s = 0.0
                        for i in range(NI):
                            s += w1[(j * NI + i) * FUSED_LANES + k] * xb[i * FUSED_LANES + k]
                        s = s + b1[j * FUSED_LANES + k]
                        h[j * FUSED_LANES + k] = logistic(s)
                for k in range(FUSED_LANES):  # the output layer's
                    for j in range(NO):
                        s = 0.0
                        for i in range(NH):
                            s += w2[(j * NH + i) * FUSED_LANES + k] * h[i * FUSED_LANES + k]
                        s = s + b2[j * FUSED_LANES + k]
                        o[j * FUSED_LANES + k] = logistic(s)
                # the output deltas and the sample's error (the loss chosen
                # outside the loops: a choice inside would stop the vectoriser)
                if half:
                    for k in range(FUSED_LANES):
                        err = 0.0
                        for j in range(NO):
                            oj = o[j * FUSED_LANES + k]
                            da = oj * (1.0 - oj)
                            diff = tb[j * FUSED_LANES + k] - oj
                            loss_e = 0.5 * diff * diff  # rounded to real, then summed
                            err += loss_e
                            d2[j * FUSED_LANES + k] = -diff * da
                        total[k] += err
                else:
                    for k in range(FUSED_LANES):
                        err = 0.0
                        for j in range(NO):
                            oj = o[j * FUSED_LANES + k]
                            da = oj * (1.0 - oj)
                            diff = tb[j * FUSED_LANES + k] - oj
                            loss_e = diff * diff / NO
                            err += loss_e
                            c = 2.0 * (oj - tb[j * FUSED_LANES + k]) / NO
                            d2[j * FUSED_LANES + k] = c * da
                        total[k] += err
                # the output layer: its biases, then its weights and the sums that
                # carry the deltas back (with the weights before the update)
                if train2:
                    bias_step(b2, d2, lrb, NO, one2)
                for k in range(FUSED_LANES):
                    for i in range(NH):
                        sb = 0.0
                        for j in range(NO):
                            sb = sb + d2[j * FUSED_LANES + k] * w2[(j * NH + i) * FUSED_LANES + k]
                        hi = h[i * FUSED_LANES + k]
                        da = hi * (1.0 - hi)
                        d1[i * FUSED_LANES + k] = sb * da
                    for j in range(NO):
                        c = lrb[k] * d2[j * FUSED_LANES + k]
                        for i in range(NH):
                            w2[(j * NH + i) * FUSED_LANES + k] = (
                                w2[(j * NH + i) * FUSED_LANES + k] - c * h[i * FUSED_LANES + k])
                # the hidden layer
                if train1:
                    bias_step(b1, d1, lrb, NH, one1)
                for k in range(FUSED_LANES):
                    for j in range(NH):
                        c = lrb[k] * d1[j * FUSED_LANES + k]
                        for i in range(NI):
                            w1[(j * NI + i) * FUSED_LANES + k] = (
                                w1[(j * NI + i) * FUSED_LANES + k] - c * xb[i * FUSED_LANES + k])
            for k in range(mb):
                history[(k0 + k) * history_stride + e] = total[k]
            for k in range(mb):
                if not isfinite(total[k]):
                    bad = e
            if bad >= 0:
                break
        for j in range(NH):
            if nb1 > 0 and (j == 0 or not one1):
                for v in range(mb):
                    W[(b1o + j) * m + k0 + v] = b1[j * FUSED_LANES + v]
            for i in range(NI):
                for v in range(mb):
                    W[(w1o + j * NI + i) * m + k0 + v] = w1[(j * NI + i) * FUSED_LANES + v]
        for j in range(NO):
            if nb2 > 0 and (j == 0 or not one2):
                for v in range(mb):
                    W[(b2o + j) * m + k0 + v] = b2[j * FUSED_LANES + v]
            for i in range(NH):
                for v in range(mb):
                    W[(w2o + j * NH + i) * m + k0 + v] = w2[(j * NH + i) * FUSED_LANES + v]
        if bad >= 0 and (failed < 0 or bad < failed):
            failed = bad
        k0 += FUSED_LANES
    return failed


cdef inline bint fused_fit(Net* n) noexcept nogil:
    """Whether ``fused_epochs`` has an instance for ``n`` (see ``lanes_epochs``)."""
    return (n.n_layers == 2 and n.acts[0] == LOGISTIC and n.acts[1] == LOGISTIC
            and (n.loss == HALF_SSE or n.loss == MSE) and n.sizes[0] == 2
            and ((n.sizes[2] == 1 and 2 <= n.sizes[1] <= 4)
                 or (n.sizes[2] == 2 and n.sizes[1] == 2)))


cdef Py_ssize_t lanes_epochs(Net* n, real* W, Py_ssize_t m, const real* X, const real* T,
                             Py_ssize_t x_stride, Py_ssize_t t_stride, Py_ssize_t n_samples,
                             Py_ssize_t epochs, const real* lr, double* history,
                             Py_ssize_t history_stride, real* work,
                             double* dwork) noexcept nogil:
    """``epochs`` epochs of online SGD, samples in order, for the ``m`` lanes of
    ``W``; lane k reads its samples at ``X + k * x_stride`` and ``T + k *
    t_stride`` (strides 0: data shared by all) and writes its epoch errors to
    ``history[k * history_stride + e]``.  ``work`` holds ``(5 * n_units + 12 +
    inputs + outputs) * m`` reals, ``dwork`` ``2 * m`` doubles.  Returns the first
    epoch in which a lane's error was not finite, else -1 (the caller checks the
    parameters)."""
    cdef Py_ssize_t e, s, i, k, n_in = n.sizes[0], n_out = n.sizes[n.n_layers]
    cdef real* xb = work + (5 * n.n_units + 12) * m
    cdef real* tb = xb + n_in * m
    cdef double* err = dwork
    cdef double* total = dwork + m
    cdef const real* xs
    cdef const real* ts
    if fused_fit(n):  # the shapes of ``tiny``
        if n.sizes[2] == 2:
            return fused_epochs(<Shape222*> NULL, n, W, m, X, T, x_stride, t_stride,
                                n_samples, epochs, lr, history, history_stride)
        if n.sizes[1] == 2:
            return fused_epochs(<Shape221*> NULL, n, W, m, X, T, x_stride, t_stride,
                                n_samples, epochs, lr, history, history_stride)
        if n.sizes[1] == 3:
            return fused_epochs(<Shape231*> NULL, n, W, m, X, T, x_stride, t_stride,
                                n_samples, epochs, lr, history, history_stride)
        return fused_epochs(<Shape241*> NULL, n, W, m, X, T, x_stride, t_stride,
                            n_samples, epochs, lr, history, history_stride)
    if lanes_fit(n):
        return lanes_block_epochs(n, W, m, X, T, x_stride, t_stride, n_samples, epochs, lr,
                                  history, history_stride)
    for e in range(epochs):
        for k in range(m):
            total[k] = 0.0
        for s in range(n_samples):
            xs = X + s * n_in
            ts = T + s * n_out
            for i in range(n_in):
                for k in range(m):
                    xb[i * m + k] = xs[k * x_stride + i]
            for i in range(n_out):
                for k in range(m):
                    tb[i * m + k] = ts[k * t_stride + i]
            lanes_sample(n, W, m, xb, tb, lr, err, work)
            for k in range(m):
                total[k] += err[k]
        for k in range(m):
            history[k * history_stride + e] = total[k]
        for k in range(m):
            if not isfinite(total[k]):
                return e
    return -1


# ------------------------------------------------------------- maths, mapped
cdef void map_values(const real* x, real* y, Py_ssize_t n, int fn) noexcept nogil:
    """``y[i] = f(x[i])`` for the tests of the vector maths: ``fn`` is ``MAP_EXP``,
    ``MAP_TANH`` or ``MAP_LOGISTIC``; each is one loop, as the kernels run it."""
    cdef Py_ssize_t i
    if fn == MAP_EXP:
        for i in range(n):
            y[i] = vexp(x[i])
    elif fn == MAP_TANH:
        for i in range(n):
            y[i] = vtanh(x[i])
    else:
        for i in range(n):
            y[i] = logistic(x[i])


# ------------------------------------------------------------------ the table
cdef Kernels table
table.abi = KERNELS_ABI
table.isa = BACKPROP_ISA
table.forward_layers_d = forward_layers[double]
table.forward_layers_f = forward_layers[float]
table.output_deltas_d = output_deltas_at[double]
table.output_deltas_f = output_deltas_at[float]
table.backward_update_d = backward_update[double]
table.backward_update_f = backward_update[float]
table.batch_gradient_d = batch_gradient[double]
table.batch_gradient_f = batch_gradient[float]
table.map_d = map_values[double]
table.map_f = map_values[float]
table.lanes_epochs_d = lanes_epochs[double]
table.lanes_epochs_f = lanes_epochs[float]

#: The kernels of this level, for ``_core`` (a capsule of a ``_simd.Kernels``).
TABLE = PyCapsule_New(&table, b"backprop._simd.Kernels", NULL)
#: The vector instructions this level was compiled for (``sse2``, ``avx2``, ...).
ISA = BACKPROP_ISA.decode()
#: The compiler flags of this level's build.
FLAGS = BACKPROP_BUILD_FLAGS.decode()
