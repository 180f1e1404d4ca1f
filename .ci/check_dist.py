"""CI: check the sdist and the wheel as a user receives them (run by .ci/run).

    python .ci/check_dist.py SDIST WHEEL

The wheel: under 1 MB; only the package, its .pyx/.pyi/py.typed and one compiled
module, and the dist-info with the licence (no C file, annotated HTML or grafted
libraries); the module without debug information and needing no shared library
beyond the C and maths libraries.  The sdist: what building and testing need
(the licence, the .pyx, the tests, the README they read) and no generated file.

Needs pyelftools (a dependency of auditwheel, which .ci/run installs with it).
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile
from pathlib import PurePosixPath

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

MAX_WHEEL_BYTES = 1_000_000
ALLOWED_LIBRARIES = {"libc.so.6", "libm.so.6"}
GENERATED = (".c", ".html", ".so", ".pyd", ".o")


def check_wheel(path: str) -> list[str]:
    problems = []
    size = os.path.getsize(path)
    print(f"wheel: {PurePosixPath(path).name}, {size:,} bytes")
    if size >= MAX_WHEEL_BYTES:
        problems.append(f"the wheel is {size:,} bytes, not under {MAX_WHEEL_BYTES:,}")
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        modules = [
            n
            for n in names
            if n.startswith(("backprop/_core.", "backprop/_kernels_")) and n.endswith(".so")
        ]
        core = [n for n in modules if n.startswith("backprop/_core.")]
        baseline = [n for n in modules if n.startswith("backprop/_kernels_baseline.")]
        if len(core) != 1 or len(baseline) != 1:
            problems.append(
                f"the engine (_core) and at least its baseline kernels (_kernels_baseline) "
                f"expected in backprop/, found {modules}"
            )
        for name in names:
            top = name.split("/", 1)[0]
            if not (top == "backprop" or top.endswith(".dist-info")):
                problems.append(f"{name}: outside the package and its dist-info")
            elif name.endswith(GENERATED) and name not in modules:
                problems.append(f"{name}: a generated file")
        for needed in ("backprop/_core.pyx", "backprop/_kernels.pyx", "backprop/_simd.pxd",
                       "backprop/_core.pyi", "backprop/py.typed"):  # fmt: skip
            if needed not in names:
                problems.append(f"{needed} is missing")
        if not [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]:
            problems.append("the licence is missing from the dist-info")
        for module in modules:
            elf = ELFFile(io.BytesIO(wheel.read(module)))
            debug = [s.name for s in elf.iter_sections() if s.name.startswith(".debug")]
            libraries = {
                tag.needed
                for section in elf.iter_sections()
                if isinstance(section, DynamicSection)
                for tag in section.iter_tags()
                if tag.entry.d_tag == "DT_NEEDED"
            }
            size = wheel.getinfo(module).file_size
            print(f"  {module}: {size:,} bytes, needs {sorted(libraries)}")
            if debug:
                problems.append(f"{module} carries debug information: {debug}")
            if not libraries <= ALLOWED_LIBRARIES:
                problems.append(f"{module} needs {sorted(libraries - ALLOWED_LIBRARIES)}")
    return problems


def check_sdist(path: str) -> list[str]:
    problems = []
    with tarfile.open(path) as sdist:  # names under the top folder, name-version/
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    size = os.path.getsize(path)
    print(f"sdist: {PurePosixPath(path).name}, {size:,} bytes, {len(names)} files and folders")
    for needed in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "setup.py",
        "src/backprop/_core.pyx",
        "src/backprop/_kernels.pyx",
        "src/backprop/_simd.pxd",
        "src/backprop/py.typed",
        "tests/conftest.py",
    ):
        if needed not in names:
            problems.append(f"the sdist has no {needed}")
    problems += [f"the sdist has {n}: a generated file" for n in names if n.endswith(GENERATED)]
    return problems


def main(sdist: str, wheel: str) -> int:
    problems = check_sdist(sdist) + check_wheel(wheel)
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
