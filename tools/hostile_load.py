#!/usr/bin/env python3
"""Measure how backprop.load() copes with hostile / huge network files.

Usage (any python3 can drive; the interpreter under test builds the files and
runs every load, each in its own subprocess with an address-space limit):

    python3 tools/hostile_load.py --python /path/to/venv/bin/python   # that interpreter
    /path/to/venv/bin/python tools/hostile_load.py                    # the running one

Options: --timeout S (per load, default 60), --as-gib G (RLIMIT_AS per load,
default 6), --files DIR (default /tmp/hostile/files), --only a,b2,... (subset),
--json OUT (also write the results as JSON).

Each load runs as ``PY -c CHILD path`` with RLIMIT_AS set in preexec_fn, in a new
session; the parent reaps it with os.wait4 so ru_maxrss is that child's own peak
RSS.  A load still running after --timeout is SIGKILLed and reported as hung.
The FIFO case (which is expected to block in open()) is started first and runs
alongside the others, so it does not add its timeout to the total run time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- the child
CHILD = r"""
import sys, time, json, resource
import numpy, backprop
path = sys.argv[1]
out = {"result": None}
if path != "-":
    t0 = time.perf_counter()
    try:
        net = backprop.load(path)
        out["result"] = "loaded"
        out["layers"] = list(net.layers)
    except BaseException as exc:
        chain, e = [], exc
        while e is not None and len(chain) < 5:
            chain.append(type(e).__module__ + "." + type(e).__qualname__)
            e = e.__cause__ or e.__context__
        out["result"] = "raised"
        out["exc"] = type(exc).__name__
        out["msg"] = str(exc)
        out["chain"] = chain
        causes = (exc, exc.__cause__, exc.__context__)
        out["memory_error"] = any(isinstance(x, MemoryError) for x in causes)
    out["load_s"] = time.perf_counter() - t0
out["self_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["backprop"] = backprop.__file__
out["version"] = getattr(backprop, "__version__", "?")
sys.stdout.write("\n@@RESULT@@" + json.dumps(out) + "\n")
"""


class Child:
    """One load in a subprocess: RLIMIT_AS, own session, reaped with wait4."""

    def __init__(self, python: str, path: str, as_bytes: int):
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))

        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [python, "-c", CHILD, path],
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=self.err,
            preexec_fn=limit,
            start_new_session=True,
        )
        self.status = self.rusage = None
        self.wall = None
        self.timed_out = False

    def poll(self) -> bool:
        if self.status is not None:
            return True
        pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self._done(status, rusage)
        return True

    def _done(self, status, rusage):
        self.wall = time.perf_counter() - self.t0
        self.status, self.rusage = status, rusage
        self.proc.returncode = os.waitstatus_to_exitcode(status)

    def wait(self, timeout: float) -> None:
        deadline = self.t0 + timeout
        while not self.poll():
            if time.perf_counter() >= deadline:
                self.timed_out = True
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, rusage = os.wait4(self.proc.pid, 0)
                self._done(status, rusage)
                self.wall = timeout  # report the limit, not the kill latency
                return
            time.sleep(0.02)

    def result(self) -> dict:
        self.out.seek(0)
        self.err.seek(0)
        stdout = self.out.read().decode("utf-8", "replace")
        stderr = self.err.read().decode("utf-8", "replace")
        info = {}
        if "@@RESULT@@" in stdout:
            info = json.loads(stdout.split("@@RESULT@@", 1)[1].strip().splitlines()[0])
        info["wall_s"] = self.wall
        info["maxrss_kib"] = self.rusage.ru_maxrss  # Linux: KiB
        info["exitcode"] = self.proc.returncode
        info["timed_out"] = self.timed_out
        info["stderr_tail"] = stderr[-600:]
        return info


# ---------------------------------------------------------------- building files
def npy_header(descr: str, shape: tuple, fortran: bool = False) -> bytes:
    """A .npy v1.0 header (magic + length + dict), padded to 64 bytes."""
    if len(shape) == 1:
        shape_s = f"({shape[0]},)"
    else:
        shape_s = "(" + ", ".join(str(int(n)) for n in shape) + ")"
    d = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_s}, }}"
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")


def _gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's crc32_combine: CRC of A+B from crc(A), crc(B), len(B)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


class ZeroBomb:
    """A raw deflate stream of `chunks * chunk` zero bytes, built from one
    self-contained, byte-aligned, non-final chunk repeated (no 4 GiB ever held)."""

    def __init__(self, chunk: int, chunks: int):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        zeros = bytes(chunk)
        piece = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        self.piece, self.chunks, self.chunk = piece, chunks, chunk
        self.size = chunk * chunks
        crc_chunk = zlib.crc32(zeros)
        crc = 0
        for _ in range(chunks):
            crc = crc32_combine(crc, crc_chunk, chunk)
        self.crc = crc

    def stream(self, prefix: bytes) -> tuple[bytes, int, int]:
        """(raw deflate bytes, crc32, inflated size) of prefix + the zeros."""
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
        final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # empty final block
        data = head + self.piece * self.chunks + final
        crc = crc32_combine(zlib.crc32(prefix), self.crc, self.size)
        return data, crc, len(prefix) + self.size


def write_zip(path: str, entries: list) -> None:
    """Write a ZIP by hand. entries: dicts with name, method (0/8), data (the bytes
    as stored), crc, usize (the uncompressed size to declare), zip64 (bool)."""
    dostime, dosdate = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e["name"].encode()
        csize, usize, z64 = len(e["data"]), e["usize"], e.get("zip64", False)
        extra = b""
        ver = 20
        if z64:
            extra = struct.pack("<HHQQ", 1, 16, usize, csize)
            ver = 45
        offset = len(out)
        out += struct.pack(
            "<4s2B4HL2L2H",
            b"PK\x03\x04",
            ver,
            0,
            0,
            e["method"],
            dostime,
            dosdate,
            e["crc"],
            0xFFFFFFFF if z64 else csize,
            0xFFFFFFFF if z64 else usize,
            len(name),
            len(extra),
        )
        out += name + extra
        out += e["data"]
        central += struct.pack(
            "<4s4B4HL2L5H2L",
            b"PK\x01\x02",
            ver,
            3,
            ver,
            0,
            0,
            e["method"],
            dostime,
            dosdate,
            e["crc"],
            0xFFFFFFFF if z64 else csize,
            0xFFFFFFFF if z64 else usize,
            len(name),
            len(extra),
            0,
            0,
            0,
            0o644 << 16,
            offset,
        )
        central += name + extra
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd_offset, 0
    )
    with open(path, "wb") as fh:
        fh.write(out)


def stored(name: str, data: bytes) -> dict:
    return {"name": name, "method": 0, "data": data, "crc": zlib.crc32(data), "usize": len(data)}


def npy_bytes(array) -> bytes:
    import io

    import numpy as np

    b = io.BytesIO()
    np.lib.format.write_array(b, array, allow_pickle=False)
    return b.getvalue()


def header_npy(header: dict) -> bytes:
    import numpy as np

    return npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))


def build(files: str) -> dict:
    """Build every case's file under `files`; returns the manifest."""
    import zipfile

    import numpy as np

    import backprop

    os.makedirs(files, exist_ok=True)
    for f in os.listdir(files):
        p = os.path.join(files, f)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)  # does not follow the symlink inside c/
        else:
            os.unlink(p)
    man = {"cases": {}}
    t0 = time.perf_counter()
    # 255 x 16 MiB = 4080 MiB (3.98 GiB): just under 4 GiB, so no ZIP64 needed
    bomb = ZeroBomb(16 << 20, 255)

    def add(key, path, desc, **extra):
        man["cases"][key] = {"path": path, "desc": desc, **extra}

    # valid small network, its members
    small = os.path.join(files, "small_valid.npz")
    backprop.Network([2, 2, 2], seed=0).save(small)
    with zipfile.ZipFile(small) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]

    # a: header.npy -> shape (-1,) uint8, deflated, inflates to ~4 GiB
    data, crc, usize = bomb.stream(npy_header("|u1", (-1,)))
    ents = [{"name": "header.npy", "method": 8, "data": data, "crc": crc, "usize": usize}]
    ents += [stored(n, d) for n, d in members if n != "header.npy"]
    p = os.path.join(files, "a_header_neg_shape_bomb.npz")
    write_zip(p, ents)
    add("a", p, "header.npy shape (-1,) u1, deflated ->3.98 GiB zeros")

    big_hdr = {
        "format": "backprop-network",
        "version": 2,
        "layers": [100000, 100000],
        "bias": "per-neuron",
        "train_bias": True,
        "activations": ["logistic"],
        "loss": "half_sse",
        "dtype": "float64",
    }
    # b1: header layers [1e5,1e5], weights declares (1e5,1e5) f8 but holds 64 bytes
    p = os.path.join(files, "b1_big_layers_tiny_members.npz")
    write_zip(
        p,
        [
            stored("header.npy", header_npy(big_hdr)),
            stored("weights_0.npy", npy_header("<f8", (100000, 100000)) + bytes(64)),
            stored("biases_0.npy", npy_header("<f8", (100000,)) + bytes(64)),
        ],
    )
    add("b1", p, "layers [1e5,1e5], weights_0 (1e5,1e5) f8 header, 64 data bytes")

    # b2: same, but weights_0 deflated ~3.98 GiB zeros and the ZIP64 directory
    # declares the full 80 GB uncompressed size (CRC matches the real data)
    data, crc, usize = bomb.stream(npy_header("<f8", (100000, 100000)))
    declared = len(npy_header("<f8", (100000, 100000))) + 100000 * 100000 * 8
    p = os.path.join(files, "b2_big_layers_lying_zip64_size.npz")
    write_zip(
        p,
        [
            stored("header.npy", header_npy(big_hdr)),
            {
                "name": "weights_0.npy",
                "method": 8,
                "data": data,
                "crc": crc,
                "usize": declared,
                "zip64": True,
            },
            stored("biases_0.npy", npy_header("<f8", (100000,)) + bytes(800000)),
        ],
    )
    add("b2", p, "layers [1e5,1e5]; weights_0 ZIP64 size says 80 GB, inflates 3.98 GiB")

    # b3: layers [2**32, 2**31]: weights_0 shape (2**31, 2**32); np.prod(int64)
    # wraps to -2**63, so n_bytes < 0 and the size check passes; deflated bomb
    hdr3 = dict(big_hdr, layers=[2**32, 2**31])
    shape3 = (2**31, 2**32)
    data, crc, usize = bomb.stream(npy_header("<f8", shape3))
    p = os.path.join(files, "b3_int64_overflow_shape_bomb.npz")
    write_zip(
        p,
        [
            stored("header.npy", header_npy(hdr3)),
            {"name": "weights_0.npy", "method": 8, "data": data, "crc": crc, "usize": usize},
            stored("biases_0.npy", npy_header("<f8", (2**31,))),
        ],
    )
    add("b3", p, "layers [2^32,2^31]: weights (2^31,2^32) prod wraps int64<0; 3.98 GiB bomb")

    # b4: a genuinely consistent 2 GiB network (layers [16384,16384], zero weights)
    # in a ~2 MiB deflated file
    n4 = 16384
    hdr4 = dict(big_hdr, layers=[n4, n4])
    bomb4 = ZeroBomb(16 << 20, n4 * n4 * 8 // (16 << 20))
    data, crc, usize = bomb4.stream(npy_header("<f8", (n4, n4)))
    p = os.path.join(files, "b4_consistent_2GiB_zeros.npz")
    write_zip(
        p,
        [
            stored("header.npy", header_npy(hdr4)),
            {"name": "weights_0.npy", "method": 8, "data": data, "crc": crc, "usize": usize},
            stored("biases_0.npy", npy_bytes(np.zeros(n4))),
        ],
    )
    add(
        "b4",
        p,
        "valid layers [16384,16384] zero weights (2 GiB) deflated",
        param_bytes=(n4 * n4 + n4) * 8,
    )

    # c: symlink to /dev/zero
    p = os.path.join(files, "c", "net.npz")
    os.makedirs(os.path.dirname(p))
    os.symlink("/dev/zero", p)
    add("c", p, "symlink -> /dev/zero")
    # d: FIFO nobody writes to
    p = os.path.join(files, "d", "net.npz")
    os.makedirs(os.path.dirname(p))
    os.mkfifo(p)
    add("d", p, "FIFO, no writer")
    # e: directory
    p = os.path.join(files, "e", "net.npz")
    os.makedirs(p)
    add("e", p, "directory")

    # f: ~128 MiB of float64 parameters, stored (as saved) and deflated
    net = backprop.Network([4096, 4096, 4], seed=0)
    pbytes = sum(w.nbytes for w in net.weights) + sum(b.nbytes for b in net.biases)
    fs = os.path.join(files, "f_stored_128MiB.npz")
    net.save(fs)
    del net
    fd = os.path.join(files, "f_deflated_128MiB.npz")
    with (
        zipfile.ZipFile(fs) as zin,
        zipfile.ZipFile(fd, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info), compress_type=zipfile.ZIP_DEFLATED)
    add("f_deflated", fd, "valid [4096,4096,4] f8, re-zipped ZIP_DEFLATED", param_bytes=pbytes)
    add("f_stored", fs, "valid [4096,4096,4] f8, as saved (stored)", param_bytes=pbytes)

    # g (extra): 20000 empty entries -> the duplicate-name check names.count() is O(n^2)
    p = os.path.join(files, "g_20000_entries.npz")
    write_zip(p, [stored(f"x{i}.npy", b"") for i in range(20000)])
    add("g", p, "20000 empty entries (duplicate check is O(n^2))")
    p = os.path.join(files, "g2_5000_entries.npz")
    write_zip(p, [stored(f"x{i}.npy", b"") for i in range(5000)])
    add("g2", p, "5000 empty entries (for the O(n^2) scaling)")

    man["build_s"] = time.perf_counter() - t0
    man["valid_small"] = small
    return man


# ---------------------------------------------------------------- the driver
ORDER = [
    "baseline",
    "a",
    "b1",
    "b2",
    "b3",
    "b4",
    "c",
    "d",
    "e",
    "f_stored",
    "f_deflated",
    "g2",
    "g",
]


def fmt_size(path):
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    import stat as _s

    if _s.S_ISREG(st.st_mode):
        n = st.st_size
        return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"
    if _s.S_ISDIR(st.st_mode):
        return "dir"
    if _s.S_ISFIFO(st.st_mode):
        return "fifo"
    if _s.S_ISCHR(st.st_mode):
        return "chardev"
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--as-gib", type=float, default=6.0)
    ap.add_argument("--files", default=os.path.join(HERE, "files"))
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.build:  # run by the interpreter under test
        print("@@MANIFEST@@" + json.dumps(build(args.files)))
        return

    t_start = time.perf_counter()
    r = subprocess.run(
        [args.python, os.path.abspath(__file__), "--build", "--files", args.files],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 or "@@MANIFEST@@" not in r.stdout:
        sys.exit("building the files failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
    man = json.loads(r.stdout.split("@@MANIFEST@@", 1)[1])
    cases = man["cases"]
    cases["baseline"] = {"path": "-", "desc": "import numpy, backprop only"}
    wanted = [k for k in ORDER if not args.only or k in args.only.split(",") or k == "baseline"]
    as_bytes = int(args.as_gib * 2**30)

    print(f"python under test: {args.python}")
    print(
        f"files built in {man['build_s']:.1f} s under {args.files}; "
        f"RLIMIT_AS {args.as_gib:g} GiB; timeout {args.timeout:g} s"
    )

    results = {}
    parallel = {}
    if "d" in wanted:  # the FIFO blocks in open(): run it alongside the rest
        parallel["d"] = Child(args.python, cases["d"]["path"], as_bytes)
    for k in wanted:
        if k in parallel:
            continue
        ch = Child(args.python, cases[k]["path"], as_bytes)
        ch.wait(args.timeout)
        results[k] = ch.result()
        print(f"  done {k:10s} wall {results[k]['wall_s']:.1f} s", flush=True)
    for k, ch in parallel.items():
        ch.wait(args.timeout)
        results[k] = ch.result()
        print(f"  done {k:10s} wall {results[k]['wall_s']:.1f} s", flush=True)

    base_kib = results["baseline"]["maxrss_kib"]
    ver = results["baseline"].get("backprop", "?")
    print(f"backprop {results['baseline'].get('version')} from {ver}")
    print(f"baseline (import numpy, backprop): peak RSS {base_kib / 1024:.1f} MiB\n")

    hdr = (
        f"{'case':10s} {'file':>10s} {'wall s':>7s} {'load s':>7s} {'peakRSS':>9s} "
        f"{'-base':>9s} {'xparams':>7s}  outcome"
    )
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for k in wanted:
        if k == "baseline":
            continue
        c, res = cases[k], results[k]
        peak = res["maxrss_kib"] / 1024
        delta = (res["maxrss_kib"] - base_kib) / 1024
        mult = ""
        if c.get("param_bytes"):
            mult = f"{(res['maxrss_kib'] - base_kib) * 1024 / c['param_bytes']:.2f}"
        if res["timed_out"]:
            outcome = f"HUNG >{args.timeout:g} s (killed)"
        elif res.get("result") == "loaded":
            outcome = f"loaded {res.get('layers')}"
        elif res.get("result") == "raised":
            outcome = f"{res['exc']}: {res['msg'][:150]}"
        else:
            outcome = f"child died (exit {res['exitcode']}): {res['stderr_tail'][-150:]!r}"
        notes = []
        limit_hit = bool(res.get("memory_error")) or any(
            s in (res.get("msg") or "") + res["stderr_tail"]
            for s in ("MemoryError", "insufficient memory", "Cannot allocate", "Unable to allocate")
        )
        if limit_hit:
            notes.append(f"STOPPED BY RLIMIT_AS {args.as_gib:g} GiB")
        if res.get("chain") and len(res["chain"]) > 1:
            notes.append("cause: " + " <- ".join(x.split(".")[-1] for x in res["chain"][1:]))
        load_s = f"{res['load_s']:.2f}" if res.get("load_s") is not None else "-"
        line = (
            f"{k:10s} {fmt_size(c['path']):>10s} {res['wall_s']:7.2f} {load_s:>7s} "
            f"{peak:8.0f}M {delta:8.0f}M {mult:>7s}  {outcome}"
        )
        print(line)
        for n in notes:
            print(f"{'':10s} {'':>10s} {'':>7s} {'':>7s} {'':>9s} {'':>9s} {'':>7s}  [{n}]")
        rows.append(
            {
                "case": k,
                "desc": c["desc"],
                "file": fmt_size(c["path"]),
                **res,
                "delta_mib": delta,
                "x_params": mult,
                "limit_hit": limit_hit,
            }
        )
    print("\ncases:")
    for k in wanted:
        print(f"  {k:10s} {cases[k]['desc']}  [{cases[k]['path']}]")
    print(f"\ntotal {time.perf_counter() - t_start:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"python": args.python, "baseline_kib": base_kib, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
