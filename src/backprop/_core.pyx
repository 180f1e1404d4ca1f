# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""The compiled engine: forward pass, deltas and weight updates in typed Cython.

Twin of ``backprop._reference`` (read that module first: it states the maths; the
layout of the flat parameter buffer is ``backprop._spec.layout``).  The functions
here take the same arguments and return the same results, and the kernels carry
the names of the twin's functions they mirror.  Their callers
(``backprop._training``, ``backprop.network``) have already validated and
converted every input, so nothing below raises inside ``nogil``: the kernels
report trouble through return values and the thin ``def`` wrappers raise after
leaving the ``nogil`` block.  The engine knows nothing of ``Network``.

Layers of this file:

* ``def`` wrappers: take typed memoryviews, set up a ``Net`` and its workspace,
  release the GIL, call the kernels;
* ``cdef ... noexcept nogil`` kernels over raw pointers to contiguous float32 or
  float64 data (the fused type ``real``): the training loops here, the per-layer
  kernels (forward pass, deltas, updates, mini-batch gradients) in
  ``backprop._kernels``, compiled once per SIMD level and called through the
  table of the level chosen at import (``use_simd``; ``_simd.pxd`` declares what
  the two modules share, and the vector maths both use).
"""

from libc.math cimport isfinite, pow, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

import os

import numpy as np

cimport numpy as cnp
cimport cpython.float
from cpython.object cimport PyObject_TypeCheck, PyTypeObject
from cpython.ref cimport Py_REFCNT
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer, PyCapsule_IsValid

from backprop._simd cimport (
    CROSS_ENTROPY, HALF_SSE, KERNELS_ABI, LEAKY_RELU, LEAKY_SLOPE, LINEAR, LOGISTIC,
    MSE, RELU, SOFTMAX, TANH, Batch, Kernels, Net, dgemm_t, logistic, real, sgemm_t,
)

cnp.import_array()

# The engine's codes: each option's position in its table in ``backprop._spec``
# (``tests/test_spec.py`` checks these against it through ``CODES``); those of
# the activations and losses are in ``_simd.pxd``, which the kernels share.
cdef enum:
    SGD = 0
    MOMENTUM = 1
    NESTEROV = 2
    ADAM = 3
    RPROP = 4

# positions of the optimizer settings in the ``hyper`` vector (``_spec.HYPER``)
cdef enum:
    H_MOMENTUM = 0
    H_BETA1 = 1
    H_BETA2 = 2
    H_EPSILON = 3
    H_ETA_PLUS = 4
    H_ETA_MINUS = 5
    H_DELTA_MIN = 6
    H_DELTA_MAX = 7
    H_WEIGHT_DECAY = 8
    H_ALPHA = 9
    N_HYPER = 10

#: Batch rows the mini-batch path handles at once (bounds its workspace;
#: ``_spec.BATCH_ROWS``, checked by ``tests/test_spec.py`` through ``CODES``).
cdef Py_ssize_t BATCH_ROWS = 256
#: Layers with at least this many weights use BLAS for mini-batches, if found.
BLAS_MIN_WEIGHTS = 16384

cdef dgemm_t dgemm_ptr = NULL
cdef sgemm_t sgemm_ptr = NULL
cdef int blas_state = 0           # 0: not looked for yet, 1: found, -1: absent


def blas_available():
    """Whether mini-batches of large layers can use BLAS (dgemm, sgemm).

    BLAS comes from SciPy when it is installed (``scipy.linalg.cython_blas``,
    looked up once, at the first need); backprop itself needs only NumPy.
    ``BACKPROP_BLAS=0`` in the environment turns it off.
    """
    global dgemm_ptr, sgemm_ptr, blas_state
    cdef dgemm_t d = NULL
    cdef sgemm_t s = NULL
    if blas_state == 0:
        # the state is set last, once known: a thread that asks while another is
        # importing SciPy (the import lets other threads run) looks for itself,
        # instead of reading "absent" and training that network without BLAS
        found = -1
        if os.environ.get("BACKPROP_BLAS", "1").strip().lower() not in ("0", "false", "no", "off"):
            try:
                from scipy.linalg import cython_blas
                capsule = cython_blas.__pyx_capi__["dgemm"]
                d = <dgemm_t> PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
                capsule = cython_blas.__pyx_capi__["sgemm"]
                s = <sgemm_t> PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
                found = 1
            except (ImportError, KeyError, AttributeError, ValueError):
                pass
        if found == 1:
            dgemm_ptr, sgemm_ptr = d, s
        blas_state = found
    return blas_state == 1


#: The codes compiled into this module, for ``tests/test_spec.py`` to check
#: against ``backprop._spec``.
CODES = {
    "activation": {"logistic": LOGISTIC, "tanh": TANH, "relu": RELU,
                   "leaky_relu": LEAKY_RELU, "linear": LINEAR, "softmax": SOFTMAX},
    "loss": {"half_sse": HALF_SSE, "mse": MSE, "cross_entropy": CROSS_ENTROPY},
    "optimizer": {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM,
                  "rprop": RPROP},
    "hyper": {"momentum": H_MOMENTUM, "beta1": H_BETA1, "beta2": H_BETA2,
              "epsilon": H_EPSILON, "rprop_increase": H_ETA_PLUS,
              "rprop_decrease": H_ETA_MINUS, "rprop_min_step": H_DELTA_MIN,
              "rprop_max_step": H_DELTA_MAX, "weight_decay": H_WEIGHT_DECAY,
              "alpha": H_ALPHA},
    "hyper_size": N_HYPER,
    "leaky_slope": LEAKY_SLOPE,
    "batch_rows": BATCH_ROWS,
}


cdef int net_init(Net* n, void* params, const Py_ssize_t[::1] sizes,
                  const Py_ssize_t[:, ::1] layout, const int[::1] acts,
                  size_t item) noexcept nogil:
    """Read the layout (``_spec.layout``) and allocate the workspace; -1 when out
    of memory."""
    cdef Py_ssize_t L = sizes.shape[0] - 1, l, units = 0
    n.n_layers = L
    n.sizes = &sizes[0]
    n.acts = &acts[0]
    n.params = params
    n.w_off = <Py_ssize_t*> malloc(4 * L * sizeof(Py_ssize_t))
    if n.w_off == NULL:
        n.block = NULL
        return -1
    n.b_off = n.w_off + L
    n.n_bias = n.w_off + 2 * L
    n.u_off = n.w_off + 3 * L
    for l in range(L):
        n.w_off[l] = layout[l, 0]
        n.b_off[l] = layout[l, 1]
        n.n_bias[l] = layout[l, 2]
        n.u_off[l] = units
        units += sizes[l + 1]
    n.n_params = n.b_off[L - 1] + n.n_bias[L - 1]
    n.n_units = units
    n.block = malloc((5 * units + sizes[L]) * item)
    if n.block == NULL:
        free(n.w_off)
        n.w_off = NULL
        return -1
    memset(n.block, 0, (5 * units + sizes[L]) * item)
    n.net = n.block
    n.out = <char*> n.block + units * item
    n.dout = <char*> n.block + 2 * units * item
    n.dact = <char*> n.block + 3 * units * item
    n.delta = <char*> n.block + 4 * units * item
    n.err = <char*> n.block + 5 * units * item
    return 0


cdef void net_free(Net* n) noexcept nogil:
    free(n.block)
    free(n.w_off)
    n.block = NULL
    n.w_off = NULL


# ------------------------------------------------------- one call's values
cdef extern from "Python.h":
    int PyErr_CheckSignals() noexcept

#: Parameter updates between two looks for pending signals: a few milliseconds of
#: work, so that Ctrl-C stops training within a fraction of a second.
cdef Py_ssize_t SIGNAL_WORK = 1 << 21
#: The fixed cost of a sample beyond its parameter updates, in updates' worth
#: (so that a network of a handful of weights still looks every few ms).
cdef Py_ssize_t STEP_COST = 64
#: Whether training looks for signals at all (``watch_signals``; benchmarks only).
cdef bint WATCH_SIGNALS = True


def watch_signals(bint on):
    """Turn training's looks for pending signals on or off; returns the previous
    setting.  Only for measuring what the looks cost (``backprop bench``): with
    them off, Ctrl-C waits for the end of a compiled ``train`` call."""
    global WATCH_SIGNALS
    previous = WATCH_SIGNALS
    WATCH_SIGNALS = on
    return previous


cdef struct Run:
    # the values of one training call, which travel with it (never in ``Net``)
    double lr                   # learning rate
    bint sequential             # update order of online SGD
    bint check_params           # check the weights after every epoch (else at the end)
    Py_ssize_t first            # index of this call's first epoch in the whole run
    Py_ssize_t total            # epochs of the whole run (its last is always recorded)
    Py_ssize_t record_every     # keep every k-th epoch's error (``_spec.recorded``)
    double* history             # the whole run's recorded errors, written in place
    Py_ssize_t slot             # where the next recorded error goes in ``history``
    Py_ssize_t until_record     # epochs until the next k-th one (no division per epoch)
    double last_error           # the error of the last epoch run
    # interrupts: a look for pending signals every SIGNAL_WORK parameter updates
    bint watch                  # look at all
    Py_ssize_t budget           # updates left before the next look
    bint interrupted            # a signal handler raised: its exception is set
    Py_ssize_t epochs_done      # epochs completed (all of them unless interrupted)
    Py_ssize_t samples_done     # samples completed in the interrupted epoch


cdef void run_init(Run* r, double lr, bint sequential, bint check_params, Py_ssize_t first,
                   Py_ssize_t total, Py_ssize_t record_every, double* history,
                   bint watch) noexcept nogil:
    r.lr = lr
    r.sequential = sequential
    r.check_params = check_params
    r.first = first
    r.total = total
    r.record_every = record_every
    r.history = history
    r.watch = watch
    run_rewind(r)


cdef void run_rewind(Run* r) noexcept nogil:
    """Back to the start of the call (a replay): the history fills from its start."""
    r.slot = r.first // r.record_every
    r.until_record = r.record_every - r.first % r.record_every
    r.last_error = 0.0
    r.budget = SIGNAL_WORK
    r.interrupted = False
    r.epochs_done = 0
    r.samples_done = 0


cdef inline void record(Run* r, Py_ssize_t e, double total) noexcept nogil:
    """Keep epoch ``e``'s error if the run records it (every ``record_every``-th
    epoch of the whole run, and its last) and count the epoch complete (the
    ``def`` wrapper copies the counts out when the loop ends)."""
    cdef Py_ssize_t g = r.first + e
    r.last_error = total
    r.epochs_done = e + 1
    r.until_record -= 1
    if r.until_record == 0:
        r.history[r.slot] = total
        r.slot += 1
        r.until_record = r.record_every
    elif g + 1 == r.total:
        r.history[r.slot] = total


cdef bint look_for_signals(Run* r) noexcept with gil:
    """Run Python's handlers of pending signals (Ctrl-C); True if one raised, its
    exception then left set for the ``def`` wrapper to take."""
    if PyErr_CheckSignals() != 0:
        r.interrupted = True
    return r.interrupted


cdef inline bint interrupted(Run* r, Py_ssize_t work, Py_ssize_t e,
                             Py_ssize_t done) noexcept nogil:
    """Count ``work`` parameter updates at a sample or batch boundary (``done``
    samples of epoch ``e`` complete); now and then look for signals.  True when
    training must stop there."""
    r.budget -= work
    if r.budget > 0:
        return False
    return look(r, e, done)


cdef inline bint look(Run* r, Py_ssize_t e, Py_ssize_t done) noexcept nogil:
    """``interrupted``'s look for signals, for a loop that counts its own budget."""
    r.budget = SIGNAL_WORK
    if r.watch and look_for_signals(r):
        r.epochs_done = e
        r.samples_done = done
        return True
    return False


# ---------------------------------------------------------- the SIMD levels
cdef extern from *:
    """
    /* Which SIMD levels this CPU runs: 0 baseline, 1 AVX2, 2 AVX-512 (F, DQ, BW,
       VL), with the operating system saving the vector registers. */
    static int backprop_cpu_level(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx2"))
            return 0;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
            return 2;
        return 1;
    #else
        return 0;
    #endif
    }
    #if defined(__clang__)
    #define BACKPROP_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define BACKPROP_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define BACKPROP_STR2(x) #x
    #define BACKPROP_STR(x) BACKPROP_STR2(x)
    #define BACKPROP_COMPILER "msvc " BACKPROP_STR(_MSC_FULL_VER)
    #else
    #define BACKPROP_COMPILER "unknown"
    #endif
    #ifndef BACKPROP_BUILD_FLAGS
    #define BACKPROP_BUILD_FLAGS ""
    #endif
    """
    int backprop_cpu_level() noexcept nogil
    const char* BACKPROP_COMPILER
    const char* BACKPROP_BUILD_FLAGS

#: The SIMD levels, lowest first: each is a build of ``_kernels.pyx``.
SIMD_LEVELS = ("baseline", "avx2", "avx512")  # _spec.SIMD_LEVELS (tests/test_spec.py)

#: The kernels in use (a table of the level ``use_simd`` chose).
cdef const Kernels* K = NULL
cdef object K_level = None       # its name
cdef object K_module = None      # its module, kept imported
cdef object BUILT = None         # the levels built (looked up once)
cdef dict MODULES = {}           # level -> its module, once imported


def cpu_simd_levels():
    """The SIMD levels this CPU can run, lowest first (``baseline`` on any CPU;
    ``avx2`` and ``avx512`` on x86-64 CPUs, and an operating system, that have them)."""
    return SIMD_LEVELS[:backprop_cpu_level() + 1]


def built_simd_levels():
    """The SIMD levels this installation has kernels for, lowest first."""
    global BUILT
    if BUILT is None:
        import importlib.util
        BUILT = tuple(level for level in SIMD_LEVELS
                      if importlib.util.find_spec(f"backprop._kernels_{level}") is not None)
    return BUILT


def simd_levels():
    """The SIMD levels usable here: built, and run by this CPU; lowest first."""
    cpu = cpu_simd_levels()
    return tuple(level for level in built_simd_levels() if level in cpu)


def simd_level():
    """The SIMD level whose kernels the engine runs now."""
    return K_level


def use_simd(level=None):
    """Run the kernels of SIMD ``level`` from now on (``None``: the best usable
    one); returns the level in use before.  Every level computes the same bits;
    this is for benchmarks and tests (``BACKPROP_SIMD`` chooses at import).

    Raises ``ValueError`` for an unknown level and ``RuntimeError`` for one this
    CPU cannot run or this installation did not build.
    """
    global K, K_level, K_module
    module = MODULES.get(level)
    if module is not None:                 # a level used before: switch at once
        previous = K_level
        K = <const Kernels*> PyCapsule_GetPointer(module.TABLE, b"backprop._simd.Kernels")
        K_level = level
        K_module = module
        return previous
    import importlib
    if level is None:
        usable = simd_levels()
        if not usable:
            raise RuntimeError("backprop: no SIMD level of the kernels is built "
                               "(reinstall backprop)")
        level = usable[len(usable) - 1]
    if level not in SIMD_LEVELS:
        raise ValueError(f"unknown SIMD level {level!r}; expected one of "
                         f"{', '.join(SIMD_LEVELS)}")
    if level not in cpu_simd_levels():
        raise RuntimeError(f"SIMD level {level!r}: this CPU does not support it (it runs "
                           f"{', '.join(cpu_simd_levels())})")
    if level not in built_simd_levels():
        raise RuntimeError(f"SIMD level {level!r}: not built in this installation "
                           f"(built: {', '.join(built_simd_levels()) or 'none'})")
    module = importlib.import_module(f"backprop._kernels_{level}")
    capsule = module.TABLE
    if not PyCapsule_IsValid(capsule, b"backprop._simd.Kernels"):
        raise RuntimeError(f"backprop._kernels_{level}: not a table of kernels")
    cdef const Kernels* table = <const Kernels*> PyCapsule_GetPointer(
        capsule, b"backprop._simd.Kernels")
    if table.abi != KERNELS_ABI:
        raise RuntimeError(f"backprop._kernels_{level} is of another build "
                           f"(kernel table {table.abi}, expected {KERNELS_ABI}); reinstall")
    previous = K_level
    K = table
    K_level = level
    K_module = module
    MODULES[level] = module
    return previous


def build_info():
    """How this engine was built and what it runs (see ``backprop.build_info``)."""
    return {
        "compiler": BACKPROP_COMPILER.decode(),
        "flags": BACKPROP_BUILD_FLAGS.decode(),
        "simd": K_level,
        "simd_isa": K.isa.decode() if K != NULL else None,
        "simd_flags": K_module.FLAGS if K_module is not None else None,
        "simd_levels": simd_levels(),
        "simd_built": built_simd_levels(),
        "simd_cpu": cpu_simd_levels(),
    }


def map_values(values, str fn):
    """``fn`` (``"exp"``, ``"tanh"`` or ``"logistic"``) of every value of a 1-D
    float64 or float32 array, by the kernels of the SIMD level in use (for the
    tests of the vector maths)."""
    cdef int code = {"exp": 0, "tanh": 1, "logistic": 2}[fn]
    cdef cnp.ndarray x = np.ascontiguousarray(values)
    if x.dtype not in (np.float64, np.float32) or x.ndim != 1:
        raise TypeError("map_values needs a 1-D float64 or float32 array")
    cdef cnp.ndarray y = np.empty_like(x)
    cdef Py_ssize_t size = x.shape[0]
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_DOUBLE:
            K.map_d(<const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(y), size,
                    code)
        else:
            K.map_f(<const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(y), size,
                    code)
    return y


def _choose_simd():
    """The level ``BACKPROP_SIMD`` names (``baseline``, ``avx2``, ``avx512``), or the
    best usable one; a level this CPU lacks is refused."""
    given = os.environ.get("BACKPROP_SIMD", "")
    wanted = given.strip().lower()
    try:
        use_simd(wanted or None)
    except (ValueError, RuntimeError) as exc:
        if wanted:
            raise RuntimeError(f"BACKPROP_SIMD={given!r}: {exc}") from None
        raise


_choose_simd()


# ------------------------------------------------------------------ kernels
cdef inline void forward_layers(Net* n, const real* x, Py_ssize_t first) noexcept nogil:
    """Net inputs and outputs of layers ``first`` and up (``x`` feeds layer 0), by
    the kernels of the SIMD level in use."""
    if real is double:
        K.forward_layers_d(n, x, first)
    else:
        K.forward_layers_f(n, x, first)


cdef inline double output_deltas_at(Net* n, const real* net, const real* o, const real* t,
                                    real* d) noexcept nogil:
    """Error terms, dE/dout, dout/dnet and deltas of the output layer, for output
    net inputs ``net`` and outputs ``o`` stored anywhere; returns E."""
    if real is double:
        return K.output_deltas_d(n, net, o, t, d)
    else:
        return K.output_deltas_f(n, net, o, t, d)


cdef inline void backward_update(Net* n, const real* x, const real* nxt, double rate,
                                 bint seq) noexcept nogil:
    """Back-propagate the output deltas and update every layer (see the kernel)."""
    if real is double:
        K.backward_update_d(n, x, nxt, rate, seq)
    else:
        K.backward_update_f(n, x, nxt, rate, seq)


cdef inline double batch_gradient(Net* n, Batch* bt, const real* X, const real* T,
                                  Py_ssize_t rows, real* grad) noexcept nogil:
    """Add the gradients of ``rows`` samples to ``grad``; returns their errors' sum."""
    if real is double:
        return K.batch_gradient_d(n, bt, X, T, rows, grad)
    else:
        return K.batch_gradient_f(n, bt, X, T, rows, grad)


cdef inline void forward_sample(Net* n, const real* x) noexcept nogil:
    """Net inputs and outputs of every layer for one input row."""
    forward_layers(n, x, 0)


cdef inline double output_deltas(Net* n, const real* t) noexcept nogil:
    """Error terms, dE/dout, dout/dnet and deltas of the output layer; returns E."""
    cdef Py_ssize_t u = n.u_off[n.n_layers - 1]
    return output_deltas_at(n, (<real*> n.net) + u, (<real*> n.out) + u, t, (<real*> n.delta) + u)


cdef inline double train_sample(Net* n, const real* x, const real* t, double lr,
                                bint seq) noexcept nogil:
    """One online SGD step; returns the sample's error before the update."""
    cdef double e
    forward_sample(n, x)
    e = output_deltas(n, t)
    backward_update(n, x, NULL, lr, seq)
    return e


cdef bint params_finite(const Net* n, const real* p) noexcept nogil:
    """Whether every parameter ``p[0:n.n_params]`` is finite.

    inf * 0 and nan * 0 are nan, so a sum of ``p[k] * 0`` is 0 exactly when all
    are finite; eight partial sums let the pass run at memory speed (it is one
    more pass over the weights on every ``train`` call).
    """
    cdef Py_ssize_t k, m = n.n_params - n.n_params % 8
    cdef real a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef real a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0
    cdef real zero = 0.0       # a real zero: a literal 0 would be a C double
    for k in range(0, m, 8):
        a0 += p[k] * zero
        a1 += p[k + 1] * zero
        a2 += p[k + 2] * zero
        a3 += p[k + 3] * zero
        a4 += p[k + 4] * zero
        a5 += p[k + 5] * zero
        a6 += p[k + 6] * zero
        a7 += p[k + 7] * zero
    for k in range(m, n.n_params):
        a0 += p[k] * zero
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) == 0


cdef inline bint is_seed_shape(const Net* n) noexcept nogil:
    """The seed's network: 2-2-2, logistic units, half-SSE (any biases)."""
    return (n.n_layers == 2 and n.sizes[0] == 2 and n.sizes[1] == 2 and n.sizes[2] == 2
            and n.acts[0] == LOGISTIC and n.acts[1] == LOGISTIC and n.loss == HALF_SSE)


cdef inline real sigmoid(real s) noexcept nogil:
    return logistic(s)


cdef Py_ssize_t train_loop_seed(Net* n, Run* r, const real* X, const real* T,
                                Py_ssize_t n_samples, Py_ssize_t epochs) noexcept nogil:
    """``train_loop`` for the seed's shape (``is_seed_shape``), every value in a register.

    The generic loop passes each layer's values through memory; on a network this
    small those round trips are a fifth of the step.  This loop performs the same
    operations in the same order as the generic kernels (``dot``, the bias, the
    logistic, ``output_deltas_at``, the column sweep of ``backward_update``, the
    first layer's update), so its results are the same bits.
    """
    cdef real* p = <real*> n.params
    cdef real* w = p + n.w_off[0]          # w1 w2 w3 w4
    cdef real* v = p + n.w_off[1]          # w5 w6 w7 w8
    cdef real* bh = p + n.b_off[0]
    cdef real* bo = p + n.b_off[1]
    cdef Py_ssize_t nb = n.n_bias[0], e, s
    cdef bint tb = n.train_bias and nb > 0, seq = r.sequential, check = r.check_params
    cdef Py_ssize_t budget = r.budget       # updates until the next look for signals
    cdef real lr = <real> r.lr
    cdef real w1 = w[0], w2 = w[1], w3 = w[2], w4 = w[3]
    cdef real w5 = v[0], w6 = v[1], w7 = v[2], w8 = v[3]
    cdef real b1 = bh[0] if nb > 0 else 0, b2 = bh[nb - 1] if nb > 0 else 0
    cdef real b3 = bo[0] if nb > 0 else 0, b4 = bo[nb - 1] if nb > 0 else 0
    cdef real x1, x2, t1, t2, h1, h2, o1, o2, diff1, diff2, d1, d2, e1, e2, g1, g2, q
    cdef real e_1, e_2, da1, da2
    cdef double total
    cdef Py_ssize_t failed = -1
    for e in range(epochs):
        total = 0.0
        for s in range(n_samples):
            x1 = X[2 * s]
            x2 = X[2 * s + 1]
            t1 = T[2 * s]
            t2 = T[2 * s + 1]
            # forward: net = (w . a) + b, then the logistic
            h1 = w1 * x1 + w2 * x2
            h2 = w3 * x1 + w4 * x2
            if nb > 0:
                h1 = h1 + b1
                h2 = h2 + b2
            h1 = sigmoid(h1)
            h2 = sigmoid(h2)
            o1 = w5 * h1 + w6 * h2
            o2 = w7 * h1 + w8 * h2
            if nb > 0:
                o1 = o1 + b3
                o2 = o2 + b4
            o1 = sigmoid(o1)
            o2 = sigmoid(o2)
            # error and output deltas: dE/dout * dout/dnet
            diff1 = t1 - o1
            diff2 = t2 - o2
            e_1 = 0.5 * diff1 * diff1
            e_2 = 0.5 * diff2 * diff2
            total += (0.0 + <double> e_1) + <double> e_2
            da1 = o1 * (1.0 - o1)
            da2 = o2 * (1.0 - o2)
            d1 = -diff1 * da1
            d2 = -diff2 * da2
            # output layer: biases, then each hidden unit's column
            if tb:
                if nb == 1:
                    q = d1 + d2
                    b3 = b3 - lr * q
                    b4 = b3
                else:
                    b3 = b3 - lr * d1
                    b4 = b4 - lr * d2
            if seq:
                w5 = w5 - (lr * d1) * h1
                w7 = w7 - (lr * d2) * h1
                g1 = d1 * w5 + d2 * w7
                w6 = w6 - (lr * d1) * h2
                w8 = w8 - (lr * d2) * h2
                g2 = d1 * w6 + d2 * w8
            else:
                g1 = d1 * w5 + d2 * w7
                w5 = w5 - (lr * d1) * h1
                w7 = w7 - (lr * d2) * h1
                g2 = d1 * w6 + d2 * w8
                w6 = w6 - (lr * d1) * h2
                w8 = w8 - (lr * d2) * h2
            da1 = h1 * (1.0 - h1)
            da2 = h2 * (1.0 - h2)
            e1 = g1 * da1
            e2 = g2 * da2
            # hidden layer
            if tb:
                if nb == 1:
                    q = e1 + e2
                    b1 = b1 - lr * q
                    b2 = b1
                else:
                    b1 = b1 - lr * e1
                    b2 = b2 - lr * e2
            q = lr * e1
            w1 = w1 - q * x1
            w2 = w2 - q * x2
            q = lr * e2
            w3 = w3 - q * x1
            w4 = w4 - q * x2
            budget -= 12 + STEP_COST
            if budget <= 0 and s + 1 < n_samples:
                budget = SIGNAL_WORK
                if look(r, e, s + 1):
                    break
        if r.interrupted:
            break
        record(r, e, total)
        if not isfinite(total):
            failed = e
            break
        if check and not (isfinite(w1) and isfinite(w2) and isfinite(w3)
                          and isfinite(w4) and isfinite(w5) and isfinite(w6)
                          and isfinite(w7) and isfinite(w8) and isfinite(b1)
                          and isfinite(b2) and isfinite(b3) and isfinite(b4)):
            failed = e
            break
        if budget <= 0:  # at the epoch's end: the epoch counts as complete
            budget = SIGNAL_WORK
            if look(r, e + 1, 0):
                break
    w[0], w[1], w[2], w[3] = w1, w2, w3, w4
    v[0], v[1], v[2], v[3] = w5, w6, w7, w8
    if nb > 0:
        bh[0], bh[nb - 1], bo[0], bo[nb - 1] = b1, b2, b3, b4
    return failed


cdef Py_ssize_t train_loop(Net* n, Run* r, const real* X, const real* T,
                           Py_ssize_t n_samples, Py_ssize_t epochs) noexcept nogil:
    """Online SGD over all samples for ``epochs`` epochs, with the call's learning
    rate and update order.

    Returns -1 on success (or on an interrupt: ``r.interrupted``, the weights
    consistent at a sample boundary), else the first epoch whose error (or, when
    ``r.check_params``, whose weights) became non-finite.
    """
    cdef Py_ssize_t e, s
    cdef Py_ssize_t n_in = n.sizes[0], n_out = n.sizes[n.n_layers]
    cdef double total
    cdef const real* x
    cdef const real* nxt
    cdef bint primed = False      # the forward pass of the next sample is done
    if is_seed_shape(n):
        return train_loop_seed(n, r, X, T, n_samples, epochs)
    for e in range(epochs):
        total = 0.0
        for s in range(n_samples):
            x = X + s * n_in
            if not primed:
                forward_sample(n, x)
            total += output_deltas(n, T + s * n_out)
            if s + 1 < n_samples:
                nxt = x + n_in
            elif e + 1 < epochs:
                nxt = X
            else:
                nxt = NULL
            backward_update(n, x, nxt, r.lr, r.sequential)
            if s + 1 < n_samples:
                if interrupted(r, n.n_params + STEP_COST, e, s + 1):
                    return -1
            else:
                r.budget -= n.n_params + STEP_COST
            if nxt != NULL:
                forward_layers(n, nxt, 1)
            primed = nxt != NULL
        record(r, e, total)
        if not isfinite(total):
            return e
        if r.check_params and not params_finite(n, <const real*> n.params):
            return e
        if interrupted(r, 0, e + 1, 0):  # the epoch counts as complete
            return -1
    return -1


# ------------------------------------------------ mini-batches and optimizers
cdef struct Plan:
    # how the general loop trains (see ``_reference.train``), beside the ``Run``
    Py_ssize_t batch            # samples per gradient step
    int optimizer
    const double* hyper         # N_HYPER settings
    void* state                 # optimizer state (``real``), as ``_reference.state_size``
    void* grad                  # gradient (``real``) accumulated over the current batch
    Py_ssize_t* perm            # sample order, reshuffled each epoch; NULL: in order
    uint64_t* rng               # shuffling generator state
    const double* rates         # each epoch's learning rate (a schedule); NULL: run.lr


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    """The splitmix64 generator (Steele, Lea and Flood 2014); the twin has it too."""
    cdef uint64_t z
    state[0] += <uint64_t> 0x9E3779B97F4A7C15
    z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline void shuffle(Py_ssize_t* perm, Py_ssize_t n, uint64_t* rng) noexcept nogil:
    """Fisher-Yates shuffle of ``perm`` in place."""
    cdef Py_ssize_t i, j, tmp
    for i in range(n - 1, 0, -1):
        j = <Py_ssize_t> (splitmix64(rng) % <uint64_t> (i + 1))
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp


cdef void optimizer_step(Net* n, Plan* p, real* g, double count, double rate) noexcept nogil:
    """Apply the mean gradient of ``count`` samples with the plan's optimizer and
    learning rate ``rate``, and zero the gradient for the next batch.

    One loop per optimizer, so that each is a straight, vectorisable pass.
    """
    cdef Py_ssize_t k, m = n.n_params
    cdef real lr = <real> rate, gk, v, step, mhat, vhat, prod
    cdef real mu = <real> p.hyper[H_MOMENTUM], b1 = <real> p.hyper[H_BETA1]
    cdef real b2 = <real> p.hyper[H_BETA2], eps = <real> p.hyper[H_EPSILON]
    cdef real up = <real> p.hyper[H_ETA_PLUS], down = <real> p.hyper[H_ETA_MINUS]
    cdef real lo = <real> p.hyper[H_DELTA_MIN], hi = <real> p.hyper[H_DELTA_MAX]
    cdef real c1, c2
    cdef real inv = <real> (1.0 / count)      # the mean: a multiply, not a divide
    cdef real* st = <real*> p.state
    cdef real* w = <real*> n.params
    cdef int opt = p.optimizer
    if opt == SGD:
        for k in range(m):
            w[k] = w[k] - lr * (g[k] * inv)
            g[k] = 0.0
    elif opt == MOMENTUM:
        for k in range(m):
            v = mu * st[k] - lr * (g[k] * inv)
            g[k] = 0.0
            st[k] = v
            w[k] = w[k] + v
    elif opt == NESTEROV:
        for k in range(m):
            gk = g[k] * inv
            g[k] = 0.0
            v = mu * st[k] - lr * gk
            st[k] = v
            w[k] = w[k] + (mu * v - lr * gk)
    elif opt == ADAM:
        st[2 * m] += 1.0                      # the step counter t
        c1 = 1.0 - pow(b1, st[2 * m])
        c2 = 1.0 - pow(b2, st[2 * m])
        for k in range(m):
            gk = g[k] * inv
            g[k] = 0.0
            st[k] = b1 * st[k] + (1.0 - b1) * gk
            st[m + k] = b2 * st[m + k] + (1.0 - b2) * (gk * gk)
            mhat = st[k] / c1
            vhat = st[m + k] / c2
            w[k] = w[k] - lr * mhat / (sqrt(vhat) + eps)
    else:  # iRPROP-: step sizes st[k], the previous gradients' signs st[m + k]
        for k in range(m):
            gk = g[k] * inv
            g[k] = 0.0
            prod = gk * st[m + k]  # (exact: a sign, not a gradient that may underflow)
            step = st[k]
            if prod > 0.0:
                step = step * up
                if step > hi:
                    step = hi
            elif prod < 0.0:
                step = step * down
                if step < lo:
                    step = lo
                gk = 0.0
            st[k] = step
            if gk > 0.0:
                w[k] = w[k] - step
            elif gk < 0.0:
                w[k] = w[k] + step
            st[m + k] = (gk > 0.0) - (gk < 0.0)


cdef inline bint penalised(const Plan* p) noexcept nogil:
    """Whether the plan puts an L2 penalty on the weights."""
    return p.hyper != NULL and (p.hyper[H_WEIGHT_DECAY] != 0.0 or p.hyper[H_ALPHA] != 0.0)


cdef void add_penalty(Net* n, Plan* p, real* g, double count) noexcept nogil:
    """Add the L2 penalty's gradient to the summed gradient ``g`` of ``count``
    samples, weights only (biases are never penalised): ``alpha * w`` to the sum
    (scikit-learn's convention), ``weight_decay * w`` to the mean that
    ``optimizer_step`` takes (PyTorch's), so ``(weight_decay * count + alpha) * w``
    to the sum."""
    cdef Py_ssize_t l, k
    cdef real c = <real> (p.hyper[H_WEIGHT_DECAY] * count + p.hyper[H_ALPHA])
    cdef real* w = <real*> n.params
    for l in range(n.n_layers):
        for k in range(n.w_off[l], n.b_off[l]):
            g[k] = g[k] + c * w[k]


cdef Py_ssize_t train_plan(Net* n, Run* run, Plan* p, Batch* bt, const real* X,
                           const real* T, Py_ssize_t n_samples,
                           Py_ssize_t epochs) noexcept nogil:
    """``train_loop`` with shuffling, mini-batches and optimizers (same returns;
    an interrupt stops at a sample or batch boundary)."""
    cdef Py_ssize_t e, s, r, q, start, rows = 0, done
    cdef Py_ssize_t n_in = n.sizes[0], n_out = n.sizes[n.n_layers]
    cdef bint online = p.batch == 1 and p.optimizer == SGD and not penalised(p)
    cdef double total
    cdef const real* xs
    cdef const real* ts
    for e in range(epochs):
        if p.rates != NULL:
            run.lr = p.rates[e]
        if p.perm != NULL:
            shuffle(p.perm, n_samples, p.rng)
        total = 0.0
        if online:
            for s in range(n_samples):
                r = p.perm[s] if p.perm != NULL else s
                total += train_sample(n, X + r * n_in, T + r * n_out, run.lr, run.sequential)
                if s + 1 < n_samples:
                    if interrupted(run, n.n_params + STEP_COST, e, s + 1):
                        return -1
                else:
                    run.budget -= n.n_params + STEP_COST
        else:
            start = 0
            while start < n_samples:
                # one optimizer step per batch, its gradient gathered in chunks
                # of at most bt.rows samples
                done = 0
                while done < p.batch and start + done < n_samples:
                    rows = min(bt.rows, p.batch - done, n_samples - start - done)
                    if p.perm == NULL:
                        xs = X + (start + done) * n_in
                        ts = T + (start + done) * n_out
                    else:
                        for q in range(rows):
                            r = p.perm[start + done + q]
                            memcpy(<real*> bt.x + q * n_in, X + r * n_in, n_in * sizeof(real))
                            memcpy(<real*> bt.t + q * n_out, T + r * n_out, n_out * sizeof(real))
                        xs = <real*> bt.x
                        ts = <real*> bt.t
                    total += batch_gradient(n, bt, xs, ts, rows, <real*> p.grad)
                    done += rows
                    if done < p.batch and start + done < n_samples:
                        # a large batch looks for signals between its chunks too; an
                        # interrupt drops the batch's partial gradient, so that the
                        # network stays at the batch's start (``p.grad`` belongs to
                        # this call and is never reused)
                        if interrupted(run, (n.n_params + STEP_COST) * rows, e, start):
                            return -1
                if penalised(p):
                    add_penalty(n, p, <real*> p.grad, <double> done)
                optimizer_step(n, p, <real*> p.grad, <double> done, run.lr)
                start += done
                # (the batch's earlier chunks were counted in the loop above)
                if start < n_samples:
                    if interrupted(run, (n.n_params + STEP_COST) * rows, e, start):
                        return -1
                else:
                    run.budget -= (n.n_params + STEP_COST) * rows
        record(run, e, total)
        if not isfinite(total):
            return e
        if run.check_params and not params_finite(n, <const real*> n.params):
            return e
        if interrupted(run, 0, e + 1, 0):  # the epoch counts as complete
            return -1
    return -1


# ------------------------------------------------------------------ wrappers
cdef inline void _raise_memory(int status) except *:
    if status != 0:
        raise MemoryError("backprop: could not allocate the training workspace")


cdef int _raise_pending() except -1:
    return -1  # the exception a signal handler raised is already set


cdef object pending_exception():
    """The exception a signal handler raised during training, taken (cleared)."""
    try:
        _raise_pending()
    except BaseException as exc:
        return exc


cdef object interrupt_of(Run* r):
    """``None``, or ``(exception, epochs completed, samples completed of the next)``."""
    if not r.interrupted:
        return None
    return (pending_exception(), r.epochs_done, r.samples_done)


def forward(const real[::1] params, const Py_ssize_t[::1] sizes,
            const Py_ssize_t[:, ::1] layout, const int[::1] acts, const real[:, ::1] X):
    """Outputs of the network for every row of ``X`` (2-D, the parameters' dtype)."""
    cdef Net n
    cdef Py_ssize_t s, k, n_samples = X.shape[0], K = sizes[sizes.shape[0] - 1]
    cdef Py_ssize_t u
    out = np.empty((n_samples, K), dtype=np.float32 if real is float else np.float64)
    cdef real[:, ::1] out_v = out
    # forward never writes to params: the cast only satisfies the shared struct
    _raise_memory(net_init(&n, <void*> &params[0], sizes, layout, acts, sizeof(real)))
    u = n.u_off[n.n_layers - 1]
    with nogil:
        for s in range(n_samples):
            forward_sample(&n, &X[s, 0])
            for k in range(K):
                out_v[s, k] = (<real*> n.out)[u + k]
    net_free(&n)
    return out


def sample_errors(const real[::1] params, const Py_ssize_t[::1] sizes,
                  const Py_ssize_t[:, ::1] layout, const int[::1] acts, int loss,
                  const real[:, ::1] X, const real[:, ::1] T):
    """The error of every sample (row of ``X``, ``T``) under the network's loss."""
    cdef Net n
    cdef Py_ssize_t s, n_samples = X.shape[0]
    errors_arr = np.empty(n_samples, dtype=np.float64)
    cdef double[::1] errors = errors_arr
    _raise_memory(net_init(&n, <void*> &params[0], sizes, layout, acts, sizeof(real)))
    n.loss = loss
    with nogil:
        for s in range(n_samples):
            forward_sample(&n, &X[s, 0])
            errors[s] = output_deltas(&n, &T[s, 0])
    net_free(&n)
    return errors_arr


def train(real[::1] params, const Py_ssize_t[::1] sizes, const Py_ssize_t[:, ::1] layout,
          const int[::1] acts, bint train_bias, int loss, const real[:, ::1] X,
          const real[:, ::1] T, Py_ssize_t epochs, double lr, bint sequential,
          double[::1] history, long long[::1] counts, Py_ssize_t total=-1,
          Py_ssize_t record_every=1, Py_ssize_t batch_size=1, int optimizer=SGD,
          const double[::1] hyper=None, real[::1] state=None, Py_ssize_t[::1] perm=None,
          uint64_t[::1] rng=None, bint check_params=True, const double[::1] rates=None):
    """Train in place; see ``backprop._reference.train`` for the contract."""
    cdef Net n
    cdef Plan p
    cdef Run r
    cdef Py_ssize_t failed = -1, n_samples = X.shape[0]
    cdef bint plain = (batch_size == 1 and optimizer == SGD and perm is None and rates is None
                       and (hyper is None or (hyper[H_WEIGHT_DECAY] == 0.0
                                              and hyper[H_ALPHA] == 0.0)))
    dtype = np.float32 if real is float else np.float64
    cdef real[::1] grad = np.zeros(params.shape[0], dtype=dtype)
    _raise_memory(net_init(&n, <void*> &params[0], sizes, layout, acts, sizeof(real)))
    n.loss = loss
    n.train_bias = train_bias
    cdef Py_ssize_t first = counts[0]
    run_init(&r, lr, sequential, check_params, first, first + epochs if total < 0 else total,
             record_every, &history[0] if history.shape[0] > 0 else NULL, WATCH_SIGNALS)
    p.batch = batch_size
    p.optimizer = optimizer
    p.hyper = &hyper[0] if hyper is not None else NULL
    p.state = <void*> &state[0] if state is not None and state.shape[0] > 0 else NULL
    p.grad = <void*> &grad[0]
    p.perm = &perm[0] if perm is not None else NULL
    p.rng = &rng[0] if rng is not None else NULL
    p.rates = &rates[0] if rates is not None and rates.shape[0] > 0 else NULL
    # the mini-batch path's workspace
    cdef Batch bt
    cdef Py_ssize_t L = sizes.shape[0] - 1, l, widest = 0
    cdef Py_ssize_t rows = max(1, min(batch_size, n_samples, BATCH_ROWS))
    cdef Py_ssize_t largest = 0
    for l in range(L):
        largest = max(largest, n.b_off[l] - n.w_off[l])        # weights of layer l
    use_blas = not plain and largest >= BLAS_MIN_WEIGHTS and blas_available()
    cdef Py_ssize_t[::1] b_off = np.zeros(L, dtype=np.intp)
    cdef bint[::1] b_blas = np.zeros(L, dtype=np.intc)
    for l in range(L):
        b_off[l] = rows * n.u_off[l]
        b_blas[l] = use_blas and n.b_off[l] - n.w_off[l] >= BLAS_MIN_WEIGHTS
        widest = max(widest, sizes[l])
    cdef real[::1] b_work = np.zeros(rows * (3 * n.n_units + widest + sizes[0] + sizes[L]),
                                     dtype=dtype)
    cdef real* work = &b_work[0]
    bt.rows = rows
    bt.u_off = &b_off[0]
    bt.blas = &b_blas[0]
    bt.net = work
    bt.out = work + rows * n.n_units
    bt.delta = work + 2 * rows * n.n_units
    bt.e = work + 3 * rows * n.n_units
    bt.x = work + 3 * rows * n.n_units + rows * widest
    bt.t = work + 3 * rows * n.n_units + rows * (widest + sizes[0])
    bt.dgemm = dgemm_ptr
    bt.sgemm = sgemm_ptr
    with nogil:
        if epochs > 0:
            if plain:
                failed = train_loop(&n, &r, &X[0, 0], &T[0, 0], n_samples, epochs)
            else:
                failed = train_plan(&n, &r, &p, &bt, &X[0, 0], &T[0, 0], n_samples, epochs)
            if (failed < 0 and not r.interrupted and not check_params
                    and not params_finite(&n, &params[0])):
                failed = epochs - 1
    counts[0] = first + r.epochs_done
    counts[1] = r.samples_done if r.interrupted else 0
    net_free(&n)
    return failed, r.last_error, interrupt_of(&r)


cdef list unit_arrays(const Net* n, const real* buf):
    """Copy a per-unit workspace buffer into one array per weight layer."""
    cdef Py_ssize_t l
    cdef real[::1] view
    arrays = []
    for l in range(n.n_layers):
        view = <real[:n.sizes[l + 1]]> (<real*> buf + n.u_off[l])
        arrays.append(np.asarray(view).copy())
    return arrays


cdef list layer_matrices(const Net* n, const real* p):
    """The weight matrices of a parameter buffer, one copy per weight layer."""
    cdef Py_ssize_t l
    cdef real[::1] view
    arrays = []
    for l in range(n.n_layers):
        view = <real[:n.sizes[l + 1] * n.sizes[l]]> (<real*> p + n.w_off[l])
        arrays.append(np.asarray(view).reshape(n.sizes[l + 1], n.sizes[l]).copy())
    return arrays


def trace_step(const real[::1] params, const Py_ssize_t[::1] sizes,
               const Py_ssize_t[:, ::1] layout, const int[::1] acts, bint train_bias,
               int loss, const real[::1] x, const real[::1] t, double lr, bint sequential):
    """Every intermediate quantity of one training step on one sample.

    The step runs through the same kernels as ``train``, on a copy of ``params``,
    and the quantities are read from the kernels' workspace.  The gradients
    (delta_j * a_i, a shared bias's sum of deltas) and the contributions
    (delta_k * w_kj) are the products the kernels form inside their fused loops,
    formed again here in the same order.  Returns a dict of per-layer lists of
    arrays (see ``backprop._reference.trace_step``).
    """
    cdef Net n
    cdef Py_ssize_t L = sizes.shape[0] - 1, l, j, i, n_in, n_out
    cdef double sample_error
    cdef real s
    cdef const real* a
    cdef const real* d
    cdef const real* w
    cdef real[:, ::1] gw
    cdef real[:, ::1] contrib
    cdef real[::1] gb
    dtype = np.float32 if real is float else np.float64
    new_params_arr = np.array(params, dtype=dtype)
    cdef real[::1] new_params = new_params_arr
    _raise_memory(net_init(&n, <void*> &new_params[0], sizes, layout, acts, sizeof(real)))
    n.loss = loss
    n.train_bias = train_bias
    with nogil:
        sample_error = train_sample(&n, &x[0], &t[0], lr, sequential)

    record = {
        "net_inputs": unit_arrays(&n, <real*> n.net),
        "outputs": unit_arrays(&n, <real*> n.out),
        "errors": np.asarray(<real[:sizes[L]]> (<real*> n.err)).copy(),
        "total_error": sample_error,
        "d_error_d_output": unit_arrays(&n, <real*> n.dout),
        "d_output_d_net": unit_arrays(&n, <real*> n.dact),
        "deltas": unit_arrays(&n, <real*> n.delta),
        "new_weights": layer_matrices(&n, &new_params[0]),
        "new_biases": [np.asarray(new_params[n.b_off[l]:n.b_off[l] + n.n_bias[l]]).copy()
                       for l in range(L)],
        "weight_gradients": [],
        "bias_gradients": [],
        "contributions": [],
    }
    for l in range(L):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        a = &x[0] if l == 0 else <real*> n.out + n.u_off[l - 1]
        d = <real*> n.delta + n.u_off[l]
        # the weights the error flowed back through
        w = (<const real*> &new_params[0] if sequential else &params[0]) + n.w_off[l]
        gw_arr = np.empty((n_out, n_in), dtype=dtype)
        contrib_arr = np.empty((n_out, n_in), dtype=dtype)
        gb_arr = np.empty(n.n_bias[l], dtype=dtype)
        gw = gw_arr
        contrib = contrib_arr
        gb = gb_arr
        s = 0.0
        for j in range(n_out):
            for i in range(n_in):
                gw[j, i] = d[j] * a[i]
                contrib[j, i] = d[j] * w[j * n_in + i]
            s += d[j]
            if n.n_bias[l] > 1:
                gb[j] = d[j]
        if n.n_bias[l] == 1:
            gb[0] = s
        record["weight_gradients"].append(gw_arr)
        record["bias_gradients"].append(gb_arr)
        record["contributions"].append(contrib_arr)
    net_free(&n)
    return record


# ------------------------------------------------------------ the fast path
cdef Py_ssize_t train_or_restore(Net* n, Run* r, real* backup, const real* X, const real* T,
                                 Py_ssize_t n_samples, Py_ssize_t epochs) noexcept nogil:
    """Train; -1 on success or on an interrupt (``r.interrupted``: the completed
    updates are kept).  If anything became non-finite, find the first bad epoch,
    restore the weights and return that epoch.

    A weight may overflow epochs before the error shows it (a saturated unit),
    so the bad epoch is found by replaying from the backup with the weights
    checked after every epoch (and no look for signals); training is
    deterministic.  Checking only once at the end keeps the common, successful
    call at full speed.
    """
    cdef Py_ssize_t failed
    memcpy(backup, n.params, n.n_params * sizeof(real))
    failed = train_loop(n, r, X, T, n_samples, epochs)
    if r.interrupted or (failed < 0 and params_finite(n, <const real*> n.params)):
        return -1
    memcpy(n.params, backup, n.n_params * sizeof(real))
    run_rewind(r)
    r.check_params = True
    r.watch = False
    failed = train_loop(n, r, X, T, n_samples, epochs)
    memcpy(n.params, backup, n.n_params * sizeof(real))
    return failed if failed >= 0 else epochs - 1


#: Above this, a double rounds to infinity in float32 (half an ulp past FLT_MAX):
#: a learning rate (``_validation.learning_rate`` says the same) or a data value.
cdef double FLOAT32_LIMIT = 3.4028235677973366e38
#: The fast path leaves longer calls (a history of more than 1 GiB) to the
#: checked path, which says how much memory they need.
cdef Py_ssize_t FAST_MAX_EPOCHS = 1 << 27


cdef extern from "numpy/arrayobject.h":
    PyTypeObject PyFloatingArrType_Type    # numpy.floating
    PyTypeObject PyIntegerArrType_Type     # numpy.integer


cdef inline bint as_real(object v, double* out) noexcept:
    """A Python or NumPy real number as a double; False for anything else."""
    if type(v) is float or PyObject_TypeCheck(v, &PyFloatingArrType_Type):
        out[0] = cpython.float.PyFloat_AsDouble(v)
        return True
    if type(v) is int:
        if not (-9007199254740992 <= v <= 9007199254740992):
            return False
        out[0] = <double> <long long> v
        return True
    return False


cdef inline object as_array(object value):
    """``value`` itself if an ndarray, list or tuple (``rows_of`` reads those), else
    NumPy's conversion of it, or ``value`` unchanged if NumPy cannot convert it
    (``rows_of`` then defers to the full checks).  Exceptions that are not errors
    (an interrupt) propagate."""
    if cnp.PyArray_CheckExact(value) or type(value) is list or type(value) is tuple:
        return value
    try:
        return cnp.PyArray_FROM_O(value)
    except Exception:  # ragged, odd objects: the full checks say what is wrong
        return value


cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident() noexcept nogil


cdef class Owner:
    """Which thread, if any, is training a network: one trainer at a time.

    ``take()`` claims the network for the calling thread and returns ``FREE``, or
    leaves it and returns ``SELF`` (this thread already trains it: a callback)
    or ``OTHER``; ``give_back()`` ends the claim; ``holder()`` says who holds it.
    ``claims`` counts the claims ever taken: a read (``forward``, ``copy``,
    ``save`` ... with the GIL released) that finds it changed was overlapped by
    a training and is refused (``_training.reading``), so that no read returns a
    mix of old and new weights, and nothing is held that an interrupt could
    leak.  Under the GIL each step is indivisible (no Python code runs between
    the test and the claim).  ``Trainer`` reads and claims ``thread`` directly:
    the fast path leaves a claimed network to the checked path, which says why
    it refuses.  (The pure-Python twin, ``_reference.Owner``, does the same with
    a lock.)
    """

    cdef readonly unsigned long thread        # 0: no thread is training
    cdef readonly unsigned long long claims   # claims taken so far

    def take(self):
        cdef unsigned long me = PyThread_get_thread_ident()
        if self.thread == 0:
            self.thread = me
            self.claims += 1
            return FREE
        return SELF if self.thread == me else OTHER

    def give_back(self):
        self.thread = 0

    def holder(self):
        if self.thread == 0:
            return FREE
        return SELF if self.thread == PyThread_get_thread_ident() else OTHER


#: ``Owner``'s answers: nobody trains the network, this thread does, another does.
FREE, SELF, OTHER = 0, 1, 2


cdef class Trainer:
    """A network's training loop with its workspace allocated once.

    ``Network`` keeps one per compiled network so that a Python loop of small
    ``train`` calls pays for argument checks in C, not for allocation, memoryview
    set-up and Python-level validation.  ``fast_train`` takes the common cases and
    returns ``None`` for anything else, so the caller falls back to its full checks
    and error messages.  The common cases: data as aligned C-contiguous arrays of
    either float dtype or as lists or tuples of numbers (one sample, or one list
    per sample), ``epochs`` a Python or NumPy integer, ``learning_rate`` a Python
    or NumPy real number, no other option.  Data are not checked for NaN or
    infinity up front: a non-finite value always makes the error or the weights
    non-finite, the weights are then restored and the caller's full checks report
    the cause.
    """

    cdef Net n
    cdef void* backup
    cdef void* xbuf                                        # data converted from lists
    cdef void* tbuf                                        # or from the other dtype
    cdef Py_ssize_t xcap, tcap                             # their capacity, in values
    cdef size_t item
    cdef int type_num                                      # NPY_DOUBLE or NPY_FLOAT
    cdef readonly Py_ssize_t calls                         # fast-path calls that trained
    cdef object params_ref, sizes_ref, layout_ref, acts_ref  # keep the buffers alive
    cdef Owner owner                                       # the network's trainer thread
    cdef object spare                                      # the last history returned

    def __cinit__(self, cnp.ndarray params, const Py_ssize_t[::1] sizes,
                  const Py_ssize_t[:, ::1] layout, const int[::1] acts, bint train_bias,
                  int loss, Owner owner not None):
        self.item = params.itemsize
        self.backup = NULL
        self.xbuf = NULL
        self.tbuf = NULL
        self.xcap = 0
        self.tcap = 0
        self.calls = 0
        self.n.block = NULL
        self.n.w_off = NULL
        self.type_num = cnp.PyArray_TYPE(params)
        if (self.type_num not in (cnp.NPY_DOUBLE, cnp.NPY_FLOAT)
                or not cnp.PyArray_IS_C_CONTIGUOUS(params) or params.ndim != 1):
            raise TypeError("Trainer needs a contiguous float64 or float32 parameter vector")
        _raise_memory(net_init(&self.n, cnp.PyArray_DATA(params), sizes, layout, acts,
                               self.item))
        self.owner = owner
        self.params_ref = params
        self.sizes_ref = sizes.base
        self.layout_ref = layout.base
        self.acts_ref = acts.base
        self.n.loss = loss
        self.n.train_bias = train_bias
        self.backup = malloc(self.n.n_params * self.item)
        if self.backup == NULL:
            raise MemoryError("backprop: could not allocate the training workspace")

    def __dealloc__(self):
        net_free(&self.n)
        free(self.backup)
        free(self.xbuf)
        free(self.tbuf)

    cdef void* buffer(self, bint targets, Py_ssize_t values) noexcept:
        """The conversion buffer for inputs or targets, at least ``values`` long;
        NULL when out of memory (the caller then defers)."""
        cdef void* grown
        if targets:
            if values > self.tcap:
                grown = realloc(self.tbuf, values * self.item)
                if grown == NULL:
                    return NULL
                self.tbuf = grown
                self.tcap = values
            return self.tbuf
        if values > self.xcap:
            grown = realloc(self.xbuf, values * self.item)
            if grown == NULL:
                return NULL
            self.xbuf = grown
            self.xcap = values
        return self.xbuf

    cdef void* rows_of(self, object arr, Py_ssize_t width, bint targets,
                       Py_ssize_t* rows) noexcept:
        """A pointer to ``arr``'s values as rows of ``width`` in the network's dtype
        (its own data, or a converted copy); NULL to defer.  Never raises."""
        cdef cnp.ndarray a
        cdef int nd, kind
        cdef Py_ssize_t r, i, count
        cdef void* out
        cdef double v
        cdef bint flat, plain
        cdef object row, first, dst
        if cnp.PyArray_CheckExact(arr):
            a = <cnp.ndarray> arr
            nd = cnp.PyArray_NDIM(a)
            if nd == 1 and (cnp.PyArray_DIMS(a)[0] == width or width == 1):
                # one sample, or (a one-wide layer) one value per sample
                rows[0] = cnp.PyArray_DIMS(a)[0] // width
            elif nd == 2 and cnp.PyArray_DIMS(a)[1] == width:
                rows[0] = cnp.PyArray_DIMS(a)[0]
            else:
                return NULL
            if rows[0] == 0:
                return NULL
            kind = cnp.PyArray_TYPE(a)
            plain = (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
                     and cnp.PyArray_ISNOTSWAPPED(a))
            if plain and kind == self.type_num:
                return cnp.PyArray_DATA(a)
            count = rows[0] * width
            if not (cnp.PyArray_ISBOOL(a) or cnp.PyArray_ISINTEGER(a)
                    or cnp.PyArray_ISFLOAT(a)):    # numbers only, as the full checks
                return NULL
            out = self.buffer(targets, count)
            if out == NULL:
                return NULL
            if plain and kind in (cnp.NPY_DOUBLE, cnp.NPY_FLOAT):
                with nogil:
                    if kind == cnp.NPY_FLOAT:          # float32 data, float64 network
                        for i in range(count):
                            (<double*> out)[i] = (<float*> cnp.PyArray_DATA(a))[i]
                    else:                              # float64 data, float32 network
                        for i in range(count):
                            (<float*> out)[i] = <float> (<double*> cnp.PyArray_DATA(a))[i]
                return out
            try:  # strided, misaligned, swapped or integer data: NumPy casts and copies
                dst = cnp.PyArray_SimpleNewFromData(nd, cnp.PyArray_DIMS(a), self.type_num, out)
                cnp.PyArray_CopyInto(dst, a)
            except Exception:  # an overflow warning made an error: the full checks say it
                return NULL
            return out
        if type(arr) is not list and type(arr) is not tuple:
            return NULL
        count = len(arr)
        if count == 0:
            return NULL
        first = arr[0]
        flat = type(first) is not list and type(first) is not tuple
        if not flat:
            rows[0] = count                          # one list per sample
        elif count == width or width == 1:
            rows[0] = count // width                 # one sample, or one value per sample
        else:
            return NULL
        out = self.buffer(targets, rows[0] * width)
        if out == NULL:
            return NULL
        for r in range(rows[0]):
            row = arr if flat else arr[r]
            if not flat and ((type(row) is not list and type(row) is not tuple)
                             or len(row) != width):
                return NULL
            for i in range(width):
                if not as_real(row[r * width + i] if flat else row[i], &v):
                    return NULL
                if self.type_num == cnp.NPY_FLOAT:
                    if not (-FLOAT32_LIMIT < v < FLOAT32_LIMIT):
                        return NULL                  # too large for float32: full checks
                    (<float*> out)[r * width + i] = <float> v
                else:
                    (<double*> out)[r * width + i] = v
        return out

    cdef object fast_train(self, X, T, epochs, learning_rate, update):
        """Train in place and return the history; ``None`` to defer to the
        caller's full checks; a tuple ``("diverged", epoch)`` when training
        diverged (the weights restored); or ``("interrupted", history, epochs,
        samples, exception)`` when a signal handler raised (the completed updates
        kept)."""
        cdef Py_ssize_t rows_x = 0, rows_t = 0, n_epochs
        cdef double lr
        cdef bint seq
        cdef void* x_data
        cdef void* t_data
        cdef Net* n = &self.n
        if type(epochs) is not int and not PyObject_TypeCheck(epochs, &PyIntegerArrType_Type):
            return None
        try:
            n_epochs = epochs                 # a C integer (NumPy's through __index__)
        except OverflowError:
            return None
        if not 0 < n_epochs <= FAST_MAX_EPOCHS:
            return None
        if not as_real(learning_rate, &lr):
            return None
        # the rule of ``_validation.learning_rate``: > 0, finite, and in a float32
        # network's precision neither infinite nor zero
        if not (lr > 0.0 and isfinite(lr)):
            return None
        if self.type_num == cnp.NPY_FLOAT and not (lr < FLOAT32_LIMIT
                                                   and <float> lr > 0.0):
            return None
        if update == "simultaneous":
            seq = False
        elif update == "sequential":
            seq = True
        else:
            return None
        if self.owner.thread != 0:
            # being trained (its conversion buffers in use): the checked path says by whom
            return None
        # claimed from here: converting the data may run Python code (an object's
        # __array__), which must not train this network and reuse the buffers
        self.owner.thread = PyThread_get_thread_ident()
        self.owner.claims += 1
        try:
            # any other array-like (a memoryview, array.array, __array__): NumPy
            # converts it here, where an interrupt can propagate, and the local
            # names keep the converted arrays alive while training reads them
            X = as_array(X)
            T = as_array(T)
            x_data = self.rows_of(X, n.sizes[0], False, &rows_x)
            if x_data == NULL:
                return None
            t_data = self.rows_of(T, n.sizes[n.n_layers], True, &rows_t)
            if t_data == NULL or rows_x != rows_t:
                return None
            return self.train_rows(x_data, t_data, rows_x, n_epochs, lr, seq)
        finally:
            self.owner.thread = 0

    def train_plain(self, X, T, epochs, double learning_rate, bint sequential):
        """Plain online SGD with checked arguments (an int ``epochs`` >= 1, a valid
        rate) on data in any form ``fast_train`` takes: ``fast_train``'s results,
        for the checked path once it has checked the other arguments.  ``None``
        for data it does not take (the caller checks them, which says what is
        wrong) and for a run too long for the fast path.  The caller must have
        claimed the network (``Owner.take``)."""
        if self.owner.thread != PyThread_get_thread_ident():
            raise RuntimeError("train_plain needs the network claimed by this thread")
        if epochs < 1:
            raise ValueError("train_plain needs epochs >= 1")
        if epochs > FAST_MAX_EPOCHS:
            return None
        cdef Py_ssize_t rows_x = 0, rows_t = 0
        X = as_array(X)                       # (kept alive by these names; see fast_train)
        T = as_array(T)
        cdef void* x_data = self.rows_of(X, self.n.sizes[0], False, &rows_x)
        if x_data == NULL:
            return None
        cdef void* t_data = self.rows_of(T, self.n.sizes[self.n.n_layers], True, &rows_t)
        if t_data == NULL or rows_x != rows_t:
            return None
        return self.train_rows(x_data, t_data, rows_x, epochs, learning_rate, sequential)

    cdef object history_of(self, Py_ssize_t n_epochs):
        """A new history array of ``n_epochs`` values, or the last one returned when
        nothing else holds it (the caller dropped it, as a loop of small calls does:
        allocating an array costs as much as a small step).  Reused only if it is
        still a plain 1-D float64 array of that length owning its data."""
        cdef cnp.npy_intp dim = n_epochs
        cdef cnp.ndarray spare = self.spare
        if (spare is not None and Py_REFCNT(spare) == 2      # ``self.spare`` and ``spare``
                and cnp.PyArray_NDIM(spare) == 1 and cnp.PyArray_DIMS(spare)[0] == dim
                and cnp.PyArray_TYPE(spare) == cnp.NPY_DOUBLE
                and cnp.PyArray_CHKFLAGS(spare, cnp.NPY_ARRAY_OWNDATA)
                and cnp.PyArray_IS_C_CONTIGUOUS(spare)):
            return spare
        history = cnp.PyArray_EMPTY(1, &dim, cnp.NPY_DOUBLE, 0)
        self.spare = history
        return history

    cdef object train_rows(self, void* x_data, void* t_data, Py_ssize_t rows_x,
                           Py_ssize_t n_epochs, double lr, bint seq):
        """Run plain online SGD on rows in the network's dtype (see ``fast_train``)."""
        cdef Py_ssize_t failed
        cdef Run r
        cdef Net* n = &self.n
        history = self.history_of(n_epochs)
        run_init(&r, lr, seq, False, 0, n_epochs, 1, <double*> cnp.PyArray_DATA(history),
                 WATCH_SIGNALS)
        # releasing the GIL costs about as much as one small step: only for real work
        if n_epochs * rows_x * n.n_params > 4096:
            with nogil:
                failed = self.run(&r, x_data, t_data, rows_x, n_epochs)
        else:
            failed = self.run(&r, x_data, t_data, rows_x, n_epochs)
        if r.interrupted:
            exc = pending_exception()
            if not isinstance(exc, KeyboardInterrupt):
                # only Ctrl-C keeps the completed updates; any other exception a
                # signal handler raises is an error: the weights go back
                memcpy(n.params, self.backup, n.n_params * self.item)
                raise exc
            self.calls += 1                  # updates kept: a call that trained
            return ("interrupted", history[:r.epochs_done], r.epochs_done, r.samples_done,
                    exc)
        if failed >= 0:                      # the weights restored: as if never called
            return ("diverged", failed)
        self.calls += 1                      # (a kept optimizer state is now stale)
        return history

    cdef Py_ssize_t run(self, Run* r, void* X, void* T, Py_ssize_t rows,
                        Py_ssize_t epochs) noexcept nogil:
        """``train_or_restore`` in the network's precision."""
        if self.type_num == cnp.NPY_FLOAT:
            return train_or_restore(&self.n, r, <float*> self.backup, <const float*> X,
                                    <const float*> T, rows, epochs)
        return train_or_restore(&self.n, r, <double*> self.backup, <const double*> X,
                                <const double*> T, rows, epochs)


def train_method(checked, diverged, interrupted, str trainer_attribute, epochs,
                 learning_rate, update):
    """Build a ``train`` method entered in C, for a class whose instances own a
    ``Trainer``; the engine itself knows nothing of that class.

    ``checked(self, X, T, epochs, learning_rate, update, **options)`` is the fully
    checked training call; ``diverged(self, X, T, epochs, learning_rate, update,
    epoch)`` is called (and raises) when the fast path diverged in ``epoch``, the
    weights restored; ``interrupted(self, history, epochs, samples, exception)``
    (which raises) when a signal handler raised during the fast path.  The
    instance's attribute ``trainer_attribute`` holds its ``Trainer`` or None.
    ``epochs``, ``learning_rate`` and ``update`` are the defaults.

    The method takes the compiled fast path when the instance has a trainer and
    the arguments are plain, else calls ``checked``.  It saves a Python frame and
    a bound-method call on each of a Python loop's small calls.
    """
    def train(self, X, T, epochs=epochs, learning_rate=learning_rate, update=update,
              **options):
        trainer = getattr(self, trainer_attribute)
        if trainer is not None and not options:
            result = (<Trainer> trainer).fast_train(X, T, epochs, learning_rate, update)
            if result is not None:
                if type(result) is not tuple:
                    return result
                if result[0] == "diverged":
                    return diverged(self, X, T, epochs, learning_rate, update, result[1])
                return interrupted(self, *result[1:])
        return checked(self, X, T, epochs, learning_rate, update, **options)
    return train


# ------------------------------------------------------------------ ensembles
# Many networks of one shape trained together, side by side: every parameter,
# unit value and error of ``m`` members lies in ``m`` consecutive ``real``s (the
# "lanes"), so each step of the one-network kernels above becomes a loop over
# the lanes that the compiler turns into vector instructions.  Each lane does
# exactly the arithmetic of ``train_sample`` (the same operations in the same
# order, the dot products summed as ``dot`` sums them), so a member trained here
# has the bits it would have trained alone.

#: Members per block: a block's parameters and workspace stay in the L1/L2 cache.
cdef Py_ssize_t ENSEMBLE_LANES = 64


cdef inline Py_ssize_t lanes_epochs(Net* n, real* W, Py_ssize_t m, const real* X,
                                    const real* T, Py_ssize_t x_stride, Py_ssize_t t_stride,
                                    Py_ssize_t n_samples, Py_ssize_t epochs, const real* lr,
                                    double* history, Py_ssize_t history_stride, real* work,
                                    double* dwork) noexcept nogil:
    """The ensemble kernel of the SIMD level in use (``_kernels.lanes_epochs``)."""
    if real is double:
        return K.lanes_epochs_d(n, W, m, X, T, x_stride, t_stride, n_samples, epochs, lr,
                                history, history_stride, work, dwork)
    else:
        return K.lanes_epochs_f(n, W, m, X, T, x_stride, t_stride, n_samples, epochs, lr,
                                history, history_stride, work, dwork)


def ensemble_train(real[:, ::1] W, const Py_ssize_t[::1] sizes,
                   const Py_ssize_t[:, ::1] layout, const int[::1] acts, bint train_bias,
                   int loss, const real[:, :, ::1] X, const real[:, :, ::1] T,
                   Py_ssize_t epochs, const real[::1] lr, double[:, ::1] history,
                   Py_ssize_t first, Py_ssize_t start, Py_ssize_t stop):
    """Online SGD (samples in order, simultaneous updates) of members ``start`` to
    ``stop - 1`` of an ensemble, in place, with the GIL released.

    ``W`` (parameters x members) holds member k's parameters in column k (the
    layout of ``_spec.layout``); ``X``, ``T`` (1 or members x samples x values)
    are shared by all members or given per member; ``lr`` one rate per member;
    member k's error of epoch e goes to ``history[k, first + e]``.  Each member
    is trained with exactly the arithmetic of ``train`` on it alone.  Returns the
    first epoch in which a member's error was not finite, else -1; the weights
    are then unspecified (the caller keeps a copy)."""
    cdef Net n
    cdef Py_ssize_t P = W.shape[0], n_samples = X.shape[1], b0, m, k, p
    cdef Py_ssize_t lanes = ENSEMBLE_LANES, failed = -1, f
    cdef Py_ssize_t x_stride = 0 if X.shape[0] == 1 else X.shape[1] * X.shape[2]
    cdef Py_ssize_t t_stride = 0 if T.shape[0] == 1 else T.shape[1] * T.shape[2]
    cdef real* Wb
    cdef real* work
    cdef double* dwork
    cdef Py_ssize_t n_work
    if epochs <= 0 or stop <= start or n_samples == 0:
        return -1
    _raise_memory(net_init(&n, NULL, sizes, layout, acts, sizeof(real)))
    n.loss = loss
    n.train_bias = train_bias
    n_work = (5 * n.n_units + 12 + sizes[0] + sizes[sizes.shape[0] - 1]) * lanes
    Wb = <real*> malloc((P * lanes + n_work) * sizeof(real))
    dwork = <double*> malloc(2 * lanes * sizeof(double))
    if Wb == NULL or dwork == NULL:
        free(Wb)
        free(dwork)
        net_free(&n)
        raise MemoryError("backprop: could not allocate the ensemble's workspace")
    work = Wb + P * lanes
    with nogil:
        b0 = start
        while b0 < stop:
            m = min(lanes, stop - b0)
            for p in range(P):
                for k in range(m):
                    Wb[p * m + k] = W[p, b0 + k]
            f = lanes_epochs(&n, Wb, m, &X[0, 0, 0] + (b0 * x_stride if x_stride else 0),
                             &T[0, 0, 0] + (b0 * t_stride if t_stride else 0),
                             x_stride, t_stride, n_samples, epochs, &lr[b0],
                             &history[b0, first], history.shape[1], work, dwork)
            for p in range(P):
                for k in range(m):
                    W[p, b0 + k] = Wb[p * m + k]
            if f >= 0 and (failed < 0 or f < failed):
                failed = f
            b0 += m
    free(Wb)
    free(dwork)
    net_free(&n)
    return failed
