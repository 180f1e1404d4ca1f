"""backprop: small fully-connected networks trained by backpropagation.

A typed Cython engine does the training; a pure-Python twin states the same maths
readably and serves as the oracle in the tests.  Start with::

    import backprop as bp
    net = bp.Network.tutorial()          # the seed's 2-2-2 network
    print(net.trace([0.05, 0.10], [0.01, 0.99]))
"""

from ._build import build_info
from ._spec import ACTIVATIONS, BIAS_MODES, ENGINES, LOSSES, UPDATES
from ._training import History, NonFiniteError, TrainingError, TrainingInterrupted
from ._version import __version__
from .columns import Columns
from .ensemble import Ensemble
from .io import load
from .network import Network, default_engine
from .plot import plot_history
from .schedule import Schedule
from .sweep import SweepResult, sweep
from .trace import Trace

__all__ = [
    "ACTIVATIONS",
    "BIAS_MODES",
    "ENGINES",
    "LOSSES",
    "UPDATES",
    "Network",
    "Ensemble",
    "sweep",
    "SweepResult",
    "Trace",
    "Schedule",
    "TrainingError",
    "NonFiniteError",
    "TrainingInterrupted",
    "History",
    "default_engine",
    "build_info",
    "load",
    "plot_history",
    "Columns",
    "__version__",
]
