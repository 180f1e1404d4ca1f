"""The README's tour runs as written, against the installed package, and its
pictures are the package's own."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_tour_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    if bp.default_engine() != "cython":
        pytest.skip("the tour trains on the digits data: minutes on the pure-Python twin")
    if not README.is_file():
        pytest.skip("README.md is not beside the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README has no python block"
    monkeypatch.chdir(tmp_path)  # the tour saves files
    namespace: dict = {}
    for block in blocks:  # in order, in one namespace, as a reader runs them
        exec(compile(block, str(README), "exec"), namespace)
    assert "0.593269992" in capsys.readouterr().out  # print(tr)
    assert namespace["same"].layers == (64, 32, 10)
    assert 0.8 < namespace["clf"].accuracy(namespace["X_val"], namespace["labels_val"]) <= 1.0
    assert len(namespace["history"]) == 10
    np.testing.assert_array_equal(namespace["resumed"].params, namespace["net"].params)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_readme_names_the_seed_and_shows_the_pictures_the_package_draws(tmp_path, capsys):
    """The README links the document it reproduces and shows the pictures under
    docs/; the commands it gives redraw them (here, into a temporary folder), at
    the same size."""
    if not README.is_file():
        pytest.skip("README.md is not beside the tests")
    text = README.read_text(encoding="utf-8")
    assert "Matt Mazur" in text and "A Step by Step Backpropagation Example" in text
    assert "https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/" in text
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert pictures == ["docs/tutorial-network.png", "docs/tutorial-loss.png"]
    pytest.importorskip("matplotlib")
    for picture in pictures:
        (command,) = [
            line.split()
            for line in text.splitlines()
            if line.startswith("backprop ") and picture in line.split()
        ]
        argv = [str(tmp_path / "out.png") if word == picture else word for word in command[1:]]
        assert cli.main(argv) == 0
        drawn = (tmp_path / "out.png").read_bytes()
        assert _png_size(drawn) == _png_size((README.parent / picture).read_bytes())
    capsys.readouterr()
