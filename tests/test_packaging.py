"""The installed distribution as a user receives it: its name, licence, entry point
and metadata, and the README's install instructions.

The distribution name (what ``pip install`` takes) is written in pyproject.toml and
repeated in ``backprop._version.DISTRIBUTION`` for messages; the import name and the
command are ``backprop``.  The checks read the installed package's metadata, and
the project files beside the tests where they are (a checkout or the sdist).
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata, resources
from pathlib import Path

import pytest

import backprop as bp
from backprop._version import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]


def project_file(name: str) -> Path:
    path = ROOT / name
    if not path.is_file():
        pytest.skip(f"{name} is not beside the tests")
    return path


@pytest.fixture(scope="module")
def meta():
    return metadata.metadata(DISTRIBUTION)


def test_the_import_name_backprop_comes_from_the_distribution():
    assert metadata.packages_distributions()["backprop"] == [DISTRIBUTION]
    assert DISTRIBUTION != "backprop"  # an unrelated project on the package index


def test_the_name_and_version(meta):
    assert meta["Name"] == DISTRIBUTION
    assert meta["Version"] == bp.__version__


def test_the_licence_is_an_spdx_expression_and_ships(meta):
    assert meta["License-Expression"] == "MIT"
    assert "License" not in meta  # the deprecated free-text field
    assert not [c for c in meta.get_all("Classifier") if c.startswith("License ::")]
    assert meta.get_all("License-File") == ["LICENSE"]
    shipped = [f for f in metadata.files(DISTRIBUTION) if f.name == "LICENSE"]
    assert len(shipped) == 1
    assert shipped[0].read_text(encoding="utf-8").startswith("MIT License\n")


def test_this_python_is_one_the_metadata_declares(meta):
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Programming Language :: Python :: {running}" in meta.get_all("Classifier")
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", meta["Requires-Python"])
    assert minimum, meta["Requires-Python"]
    assert sys.version_info[:2] >= tuple(map(int, minimum.groups()))
    # the classifiers name every minor version from the minimum on, and only those
    versions = [
        tuple(map(int, c.rsplit(" ", 1)[1].split(".")))
        for c in meta.get_all("Classifier")
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    first = tuple(map(int, minimum.groups()))
    assert versions == [(3, m) for m in range(first[1], first[1] + len(versions))]


def test_the_project_urls_are_declared(meta):
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) == {"Repository", "Documentation"}


def test_the_backprop_command(meta):
    (script,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "backprop"]
    assert script.value == "backprop.cli:main"
    assert script.dist.name == DISTRIBUTION


def test_the_compiled_engine_source_ships_without_generated_files():
    names = {f.name for f in resources.files("backprop").iterdir()}
    assert {"_core.pyx", "_core.pyi", "py.typed"} <= names
    assert not [n for n in names if n.endswith((".c", ".html"))]


def test_pyproject_agrees_with_the_metadata(meta):
    with project_file("pyproject.toml").open("rb") as fh:
        pyproject = tomllib.load(fh)
    assert pyproject["project"]["name"] == DISTRIBUTION
    # cibuildwheel builds (and tests) a wheel for each classified version, no other
    versions = [
        c.rsplit(" ", 1)[1]
        for c in meta.get_all("Classifier")
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    selected = pyproject["tool"]["cibuildwheel"]["build"].split()
    assert selected == [f"cp{v.replace('.', '')}-*" for v in versions]


#: ``pip install`` followed by options and a requirement: a local path or a name
PIP_INSTALL = re.compile(r"pip install((?:\s+--?[\w-]+)*)\s+[\"']?([\w./-]+)")


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_pip_install_names_a_path_or_the_distribution(name):
    text = project_file(name).read_text(encoding="utf-8")
    found = [req for _, req in PIP_INSTALL.findall(text)]
    assert found
    wrong = [req for req in found if req != DISTRIBUTION and not req.startswith(".")]
    assert not wrong, f"{name}: pip install of {wrong}, not of {DISTRIBUTION!r} or a path"


def test_every_pip_install_in_the_package_names_the_distribution():
    for source in resources.files("backprop").iterdir():
        if source.name.endswith(".py"):
            for _, req in PIP_INSTALL.findall(source.read_text(encoding="utf-8")):
                assert req == DISTRIBUTION or req.startswith("."), (source.name, req)


def test_the_readme_install_section():
    text = project_file("README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Install\n(.*?)^## ", text, re.S | re.M)
    assert section, "README.md has no '## Install' section"
    body = " ".join(section.group(1).split())  # as read, whatever the line breaks
    assert f"pip install {DISTRIBUTION}" in body
    assert "import backprop" in body
