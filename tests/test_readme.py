"""The README's tour runs as written, against the installed package."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import backprop as bp

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
