"""The compiled engine's source stays clean: no performance hints, white kernels.

Cythonizes the installed ``_core.pyx`` (shipped as package data) exactly as a
reader would, ``cython -a`` with no options (the release directives are in its
header), and reads Cython's annotation: every line of every ``noexcept nogil``
kernel must have score 0 (touch no Python object).
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from importlib import resources

import pytest

pytest.importorskip(
    "Cython",
    reason="Cython is not installed (the test extra brings it; .ci/run's wheel environment "
    "has no build tools, and its source-install stage runs these checks)",
)

LINE = re.compile(r'<pre class="cython line score-(\d+)"[^>]*>(.*?)</pre>', re.S)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """(compiler output, [(score, source line), ...]) of the installed _core.pyx."""
    source = resources.files("backprop").joinpath("_core.pyx")
    if not source.is_file():
        pytest.skip("backprop/_core.pyx is not installed with the package")
    out = tmp_path_factory.mktemp("cython")
    pyx = out / "_core.pyx"
    pyx.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    cmd = [sys.executable, "-m", "cython", "-3", "-a", str(pyx), "-o", str(out / "_core.c")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    page = (out / "_core.html").read_text(encoding="utf-8")
    # each line reads "+NNN: source"; keep the source with its own indentation
    lines = [
        (int(score), html.unescape(re.sub(r"<[^>]+>", "", body)).split(": ", 1)[1])
        for score, body in LINE.findall(page)
    ]
    return result.stdout + result.stderr, lines


def kernels(lines):
    """Lines of every ``noexcept nogil`` function, by function name."""
    found: dict[str, list[tuple[int, str]]] = {}
    name = None
    for score, text in lines:
        if text and not text[0].isspace() and text.strip():
            name = None  # a new top-level statement
            signature = re.match(r"cdef\s+(?:inline\s+)?[\w\s\*]*?(\w+)\(", text)
            if signature:
                name = signature.group(1)
                found[name] = []
        if name is not None:
            found[name].append((score, text))
    # keep the functions whose signature (possibly over several lines) says nogil
    return {
        n: body for n, body in found.items() if "noexcept nogil" in "".join(t for _, t in body[:4])
    }


def test_no_performance_hints_or_warnings(annotated):
    output, _ = annotated
    assert "performance hint" not in output.lower(), output
    assert "warning" not in output.lower(), output


def test_the_kernels_are_found(annotated):
    names = set(kernels(annotated[1]))
    assert {
        "dot",
        "forward_layers",
        "output_deltas",
        "backward_update",
        "train_loop",
        "batch_gradient",
        "gemm_rows",
        "gemm_grad",
        "gemm_back",
        "optimizer_step",
        "train_plan",
    } <= names


def test_every_kernel_line_is_white(annotated):
    yellow = [
        f"{name}: {text.strip()} (score {score})"
        for name, body in kernels(annotated[1]).items()
        for score, text in body
        if score > 0
    ]
    assert not yellow, "lines that touch Python inside nogil kernels:\n" + "\n".join(yellow)
