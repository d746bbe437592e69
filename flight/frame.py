"""The unit that flies: one 2-D plane of stored FITS integers plus what the ground needs to rebuild it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: FITS BITPIX -> dtype of the stored integers (FITS: 8 is unsigned, 16 and 32 are signed).
BITPIX_DTYPES: dict[int, np.dtype] = {
    8: np.dtype(np.uint8),
    16: np.dtype(np.int16),
    32: np.dtype(np.int32),
}


def bitpix_of(dtype: np.dtype) -> int:
    """BITPIX of a stored-integer dtype; raises ValueError for anything FITS cannot store losslessly here."""
    for bitpix, dt in BITPIX_DTYPES.items():
        if np.dtype(dtype).newbyteorder("=") == dt:
            return bitpix
    raise ValueError(f"unsupported pixel dtype {np.dtype(dtype)} (need uint8, int16 or int32)")


@dataclass
class Frame:
    """One 2-D plane of stored integers exactly as FITS holds them, plus scaling and header cards.

    ``pixels`` keeps the stored values (not BZERO/BSCALE-scaled physical values) in native byte order,
    so lossless means: the same array and the same ``bzero``/``bscale``/``blank`` on the ground.
    """

    name: str
    pixels: np.ndarray
    bitpix: int
    bzero: float | None = None
    bscale: float | None = None
    blank: int | None = None
    cards: str = ""

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"frame {self.name!r}: pixels must be 2-D, got shape {self.pixels.shape}")
        want = BITPIX_DTYPES[self.bitpix]
        if self.pixels.dtype != want:
            self.pixels = np.ascontiguousarray(self.pixels, dtype=want)

    @property
    def raw_bytes(self) -> int:
        """Size of the stored pixels in bytes (the uncompressed baseline)."""
        return int(self.pixels.size * self.pixels.dtype.itemsize)
