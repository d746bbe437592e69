"""Training data: integer 8/16-bit planes from a folder of FITS files, grouped by instrument.

The validation split is by *instrument*, never by crop: the model is judged on detectors it never saw.
The instrument of ``g05_lick-shane-kast-blue_arc_b1.fits`` is its second ``_``-separated token
(``lick-shane-kast-blue``), the naming used by ``../shared/data/fits``; other names are their own instrument.
Float and 32-bit frames are skipped (the IDF codes 8/16-bit stored integers only).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flight.errors import InputError
from flight.idf import spec as S

DEFAULT_HOLDOUT = ("saao1m-ste3", "ctio4m-mosaic2", "hst-stis-ccd", "hinode-xrt")


class DataError(InputError):
    """No usable data (missing folder, no integer 8/16-bit frames, nothing left to train on): a user mistake."""


@dataclass
class Plane:
    name: str
    instrument: str
    pixels: np.ndarray  # int32 stored integers


@dataclass
class Dataset:
    train: list[Plane] = field(default_factory=list)
    valid: list[Plane] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "files": self.files,
            "train_instruments": sorted({p.instrument for p in self.train}),
            "valid_instruments": sorted({p.instrument for p in self.valid}),
            "train_pixels": int(sum(p.pixels.size for p in self.train)),
            "valid_pixels": int(sum(p.pixels.size for p in self.valid)),
        }


def instrument_of(stem: str) -> str:
    parts = stem.split("_")
    return parts[1] if len(parts) >= 2 and len(parts[0]) <= 4 else stem


def load_dataset(folder: str | Path, holdout: tuple[str, ...] = DEFAULT_HOLDOUT, min_size: int = 32) -> Dataset:
    """Read every integer 8/16-bit image plane under ``folder`` (stored integers, no scaling)."""
    from astropy.io import fits

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".fits", ".fit", ".fts"))
    ds = Dataset()
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with fits.open(f, do_not_scale_image_data=True, memmap=False) as hdul:
                    arrays = [np.asarray(h.data) for h in hdul
                              if h.data is not None and h.header.get("BITPIX") in (8, 16) and h.data.ndim >= 2]
        except (OSError, ValueError):
            continue
        inst = instrument_of(f.stem)
        n_planes = 0
        for arr in arrays:
            for plane in arr.reshape(-1, arr.shape[-2], arr.shape[-1]):
                if min(plane.shape) < min_size:
                    continue
                p = Plane(f"{f.stem}_{n_planes}", inst, plane.astype(np.int32))
                (ds.valid if inst in holdout else ds.train).append(p)
                n_planes += 1
        if n_planes:
            ds.files.append({"file": f.name, "instrument": inst, "planes": n_planes,
                             "split": "valid" if inst in holdout else "train",
                             "sha256": hashlib.sha256(f.read_bytes()).hexdigest()})
    if not ds.train:
        raise DataError(f"no usable integer 8/16-bit frames for training in {folder}")
    return ds


class CropSampler:
    """Random crops: instrument uniformly, then a plane weighted by area, then a position."""

    def __init__(self, planes: list[Plane], size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.planes = [p for p in planes if min(p.pixels.shape) >= size]
        if not self.planes:
            raise DataError(f"no training plane is at least {size}x{size}")
        by_inst: dict[str, list[int]] = {}
        for i, p in enumerate(self.planes):
            by_inst.setdefault(p.instrument, []).append(i)
        self.groups = list(by_inst.values())
        self.weights = [np.array([self.planes[i].pixels.size for i in g], float) for g in self.groups]
        self.weights = [w / w.sum() for w in self.weights]

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(crops shifted so pixel (0, 0) is 0, noise shifts, tile offsets), float32."""
        out = np.empty((n, self.size, self.size), np.float32)
        shifts = np.empty(n, np.float32)
        offsets = np.empty(n, np.float32)
        for k in range(n):
            g = self.rng.integers(len(self.groups))
            p = self.planes[self.groups[g][self.rng.choice(len(self.groups[g]), p=self.weights[g])]].pixels
            y = self.rng.integers(p.shape[0] - self.size + 1)
            x = self.rng.integers(p.shape[1] - self.size + 1)
            crop = p[y:y + self.size, x:x + self.size]
            crop = crop - np.int64(crop[0, 0])  # the transform is offset-equivariant; keep floats small
            out[k] = crop
            shifts[k] = S.noise_shift(crop)
            offsets[k] = S.tile_offset(crop)
        return out, shifts, offsets


def validation_tiles(planes: list[Plane], size: int, per_instrument: int = 96) -> dict[str, tuple[np.ndarray, ...]]:
    """Deterministic non-overlapping tiles of the held-out planes, at most ``per_instrument`` per instrument."""
    out: dict[str, list[np.ndarray]] = {}
    for p in planes:
        h, w = p.pixels.shape
        for y in range(0, h - size + 1, size):
            for x in range(0, w - size + 1, size):
                out.setdefault(p.instrument, []).append(p.pixels[y:y + size, x:x + size])
    res = {}
    for inst, tiles in out.items():
        idx = np.linspace(0, len(tiles) - 1, min(per_instrument, len(tiles))).round().astype(int)
        sel = [tiles[i] for i in np.unique(idx)]
        x = np.stack([t - np.int64(t[0, 0]) for t in sel])
        s = np.array([S.noise_shift(t) for t in x], np.float32)
        m = np.array([S.tile_offset(t) for t in x], np.float32)
        res[inst] = (x.astype(np.float32), s, m)
    return res
