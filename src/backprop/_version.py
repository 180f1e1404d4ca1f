"""The version of backprop: the one place it is written (pyproject.toml reads it).

Also the distribution name, the name ``pip install`` takes (the import name is
``backprop``), for messages that tell what to install.  ``pyproject.toml`` must
state it literally (``name`` cannot be read from a file); tests/test_packaging.py
checks that the two, the installed metadata and the README agree.
"""

__version__ = "0.1.0"

#: The name on the package index (``backprop`` there is an unrelated project).
DISTRIBUTION = "backprop-nn"
