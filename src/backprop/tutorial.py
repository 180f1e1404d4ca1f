"""The seed's worked example: its network, its training sample and its figures.

The seed is the step-by-step backpropagation example this project comes from: a
2-2-2 logistic network with inputs 0.05 and 0.10, targets 0.01 and 0.99, and the
weights below.  ``FIGURES`` lists every number it works out by hand, as printed,
for ``backprop demo`` to print beside the engine's own.  (The test suite types the
figures in again on its own, as the seed prints them.)
"""

from __future__ import annotations

#: Layer sizes: two inputs, two hidden units, two outputs.
SIZES = (2, 2, 2)
#: ``weights[l][j][i]``: from unit i of layer l to unit j of layer l + 1.
WEIGHTS = (
    ((0.15, 0.20), (0.25, 0.30)),  # w1 w2 / w3 w4: inputs -> h1 / h2
    ((0.40, 0.45), (0.50, 0.55)),  # w5 w6 / w7 w8: h1, h2 -> o1 / o2
)
#: One bias shared by each layer (b1 for the hidden layer, b2 for the output layer).
BIASES = (0.35, 0.60)
INPUTS = (0.05, 0.10)
TARGETS = (0.01, 0.99)
LEARNING_RATE = 0.5

#: Weight names in the seed, as (layer, j, i).
WEIGHT_NAMES = {
    "w1": (0, 0, 0),
    "w2": (0, 0, 1),
    "w3": (0, 1, 0),
    "w4": (0, 1, 1),
    "w5": (1, 0, 0),
    "w6": (1, 0, 1),
    "w7": (1, 1, 0),
    "w8": (1, 1, 1),
}

#: Figures the seed rounds off by one unit in the last digit, with the correctly
#: rounded value.  The seed gives dE_o2/dout_h1 = -0.019049119: it rounded
#: delta_o2 to -0.038098237 before multiplying by w7 = 0.50 (-0.0190491185, which
#: rounds up).  Exactly, delta_o2 * w7 = -0.019049118258.  Its next figure,
#: dE/dout_h1 = 0.036350306, holds either way.
SLIPS = {"dE_o2/dout_h1": "-0.019049118"}

#: The figures the seed prints, by name, as printed.
FIGURES = {
    "net_h1": "0.3775",
    "out_h1": "0.593269992",
    "out_h2": "0.596884378",
    "net_o1": "1.105905967",
    "out_o1": "0.75136507",
    "out_o2": "0.772928465",
    "E_o1": "0.274811083",
    "E_o2": "0.023560026",
    "E_total": "0.298371109",
    "dE/dout_o1": "0.74136507",
    "dout_o1/dnet_o1": "0.186815602",
    "dE/dw5": "0.082167041",
    "w5+": "0.35891648",
    "w6+": "0.408666186",
    "w7+": "0.511301270",
    "w8+": "0.561370121",
    "dE_o1/dnet_o1": "0.138498562",
    "dE_o1/dout_h1": "0.055399425",
    "dE_o2/dout_h1": "-0.019049119",
    "dE/dout_h1": "0.036350306",
    "dout_h1/dnet_h1": "0.241300709",
    "dE/dw1": "0.000438568",
    "w1+": "0.149780716",
    "w2+": "0.19956143",
    "w3+": "0.24975114",
    "w4+": "0.29950229",
    # after training (see README: the seed's script updated layer by layer)
    "E after 1 round (sequential)": "0.291027924",
    "E after 10,000 rounds (history[9999])": "0.0000351085",
    "out_o1 after 10,000 (sequential)": "0.015912196",
    "out_o2 after 10,000 (sequential)": "0.984065734",
}
