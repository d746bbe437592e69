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

#: FITS 4.0, section 4.4.1.1: NAXIS is at most 999.
MAX_NAXIS = 999


def bitpix_of(dtype: np.dtype) -> int:
    """BITPIX of a stored-integer dtype; raises ValueError for anything FITS cannot store losslessly here."""
    for bitpix, dt in BITPIX_DTYPES.items():
        if np.dtype(dtype).newbyteorder("=") == dt:
            return bitpix
    raise ValueError(f"unsupported pixel dtype {np.dtype(dtype)} (need uint8, int16 or int32)")


def plane_shape(axes: tuple[int, ...]) -> tuple[int, int]:
    """(rows, cols) of one frame of an image with FITS axes NAXIS1..NAXISn: (1, NAXIS1) for a 1-D image."""
    return (1, axes[0]) if len(axes) == 1 else (axes[1], axes[0])


def planes_of(axes: tuple[int, ...]) -> int:
    """How many 2-D planes (frames) an image with these axes has: the product of NAXIS3..NAXISn (1 for 1-D/2-D)."""
    n = 1
    for a in axes[2:]:
        n *= a
    return n


@dataclass
class Frame:
    """One 2-D plane of stored integers exactly as FITS holds them, plus scaling, header cards and axes.

    ``pixels`` keeps the stored values (not BZERO/BSCALE-scaled physical values) in native byte order,
    so lossless means: the same array and the same ``bzero``/``bscale``/``blank`` on the ground.
    ``cards`` are the source HDU's card images (80 characters each, in order, CONTINUE cards included) without
    the structural keywords. ``axes`` are the source HDU's NAXIS1..NAXISn (None: the plane itself, (cols, rows));
    a 1-D image is the plane (1, NAXIS1); a cube gives one frame per plane and ``plane`` is its index in C order
    over NAXIS3..NAXISn.
    """

    name: str
    pixels: np.ndarray
    bitpix: int
    bzero: float | None = None
    bscale: float | None = None
    blank: int | None = None
    cards: str = ""
    axes: tuple[int, ...] | None = None
    plane: int = 0

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"frame {self.name!r}: pixels must be 2-D, got shape {self.pixels.shape}")
        if len(self.cards) % 80:
            raise ValueError(f"frame {self.name!r}: cards must be whole 80-character card images")
        rows, cols = self.pixels.shape
        if self.axes is None:
            self.axes = (cols, rows)
        self.axes = tuple(int(a) for a in self.axes)
        if not 1 <= len(self.axes) <= MAX_NAXIS:
            raise ValueError(f"frame {self.name!r}: NAXIS must be 1..{MAX_NAXIS}, got {len(self.axes)}")
        if plane_shape(self.axes) != (rows, cols) or not 0 <= self.plane < planes_of(self.axes):
            raise ValueError(f"frame {self.name!r}: plane {self.plane} of a {rows}x{cols} plane does not fit "
                             f"axes {self.axes}")
        want = BITPIX_DTYPES[self.bitpix]
        if self.pixels.dtype != want:
            self.pixels = np.ascontiguousarray(self.pixels, dtype=want)

    @property
    def raw_bytes(self) -> int:
        """Size of the stored pixels in bytes (the uncompressed baseline)."""
        return int(self.pixels.size * self.pixels.dtype.itemsize)
