"""Print the table of ``2^(j/128)`` that the vector ``exp`` of ``_simd.pxd`` uses.

For j = 0..127, two 64-bit words: the bits of ``tail`` and ``bits(hi) - (j << 45)``,
where ``hi`` is ``2^(j/128)`` rounded to the nearest double and ``tail`` the
relative error of that rounding, ``(2^(j/128) - hi) / hi``, rounded (the layout of
glibc's ``__exp_data.tab``, computed here with mpmath at 200 bits).  Adding
``j << 45`` back gives ``hi``'s bits; the ``tail`` enters the polynomial, so that
``hi * (1 + tail)`` stands for ``2^(j/128)`` to about 2^-106.

``tests/test_vmath.py`` recomputes the table and compares it with the one in
``_simd.pxd``.  Run ``python tools/exp_table.py`` to print it as C.
"""

from __future__ import annotations

import struct

N = 128


def table() -> list[int]:
    """The 2 N words, in order."""
    import mpmath as mp

    mp.mp.prec = 200
    words = []
    for j in range(N):
        exact = mp.power(2, mp.mpf(j) / N)
        hi = float(exact)  # nearest double
        tail = float((exact - mp.mpf(hi)) / mp.mpf(hi))
        words.append(struct.unpack("<Q", struct.pack("<d", tail))[0])
        words.append((struct.unpack("<Q", struct.pack("<d", hi))[0] - (j << 45)) % 2**64)
    return words


def as_c(words: list[int]) -> str:
    rows = [
        f"        {{0x{words[i]:016x}ULL}}, {{0x{words[i + 1]:016x}ULL}},"
        for i in range(0, len(words), 2)
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(as_c(table()))
