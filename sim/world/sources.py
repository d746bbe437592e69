"""What the camera sees: a folder of real FITS frames cycled, or a synthetic sky; fitted to the sensor size.

Why fit: the sensor size sets the data volume (2048 x 2048 x 16 bit = 67.1 Mbit), so every captured frame has
the camera's shape. A smaller real frame is mirror-tiled up to it (and a larger one cropped): reflection keeps
rows and columns continuous at the seams, and none of our codecs matches content at a distance (RICE codes
pixel differences along a row tile; the IDF works on local neighbourhoods), so the coded statistics are the real
frame's. Frame ``k`` of a mission shows source ``k mod n``; the source is a list of *distinct* frames.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from flight.errors import InputError
from flight.frame import Frame
from sim.scenario import FRAME_SUFFIXES, Scenario, ScenarioError, SyntheticConfig
from tools.fits_input import read_fits_frames

SYNTHETIC_SEED = 20250320  # the synthetic sky is the same in every run: it is the scene, not the channel


def fit_to_shape(pixels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``pixels`` mirror-tiled (numpy 'symmetric' padding) or cropped to exactly (rows, cols)."""
    r, c = pixels.shape
    padded = np.pad(pixels, ((0, max(0, rows - r)), (0, max(0, cols - c))), mode="symmetric")
    return np.ascontiguousarray(padded[:rows, :cols])


class FrameSource:
    """Distinct frames the camera cycles through, already at the sensor's shape."""

    kind = "frames"
    rows = cols = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def name(self, index: int) -> str:
        raise NotImplementedError

    def frame(self, index: int) -> Frame:
        raise NotImplementedError

    def raw_bytes(self, index: int) -> int:
        """Bytes of stored pixels of frame ``index`` at the sensor's shape (without building it)."""
        return self.rows * self.cols * self.bytes_per_pixel(index)

    def bytes_per_pixel(self, index: int) -> int:
        return 2

    def fingerprint(self) -> str:
        """Changes whenever any frame's content would (the calibration cache key)."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": self.kind, "frames": [self.name(i) for i in range(len(self))]}


class FolderSource(FrameSource):
    """Every integer plane of every FITS file in a folder (name order), fitted to the sensor."""

    kind = "folder"

    def __init__(self, folder: Path, rows: int, cols: int) -> None:
        self.folder, self.rows, self.cols = Path(folder), rows, cols
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        self._planes: list[Frame] = []
        for path in self.files:
            self._planes += read_fits_frames(path)  # InputError names a bad file

    def __len__(self) -> int:
        return len(self._planes)

    def name(self, index: int) -> str:
        return self._planes[index].name

    def bytes_per_pixel(self, index: int) -> int:
        return self._planes[index].pixels.dtype.itemsize

    def frame(self, index: int) -> Frame:
        src = self._planes[index]
        return Frame(name=src.name, pixels=fit_to_shape(src.pixels, self.rows, self.cols), bitpix=src.bitpix,
                     bzero=src.bzero, bscale=src.bscale, blank=src.blank, cards=src.cards)

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"folder {self.rows}x{self.cols}".encode())
        for path in self.files:
            h.update(path.name.encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
        return h.hexdigest()[:24]

    def describe(self) -> dict:
        shapes = [list(p.pixels.shape) for p in self._planes]
        return {"kind": self.kind, "folder": str(self.folder), "frames": [p.name for p in self._planes],
                "source_shapes": shapes, "fitted_to": [self.rows, self.cols]}


class SyntheticSky(FrameSource):
    """A raw CCD-like frame: bias with column structure, sky, stars, cosmic rays, Poisson and read noise.

    Stored as uint16 (int16 with BZERO = 32768), the way cameras deliver raw frames. The pool is generated from a
    fixed seed, so runs differ only through the channel, never through the scene.
    """

    kind = "synthetic"

    def __init__(self, cfg: SyntheticConfig, rows: int, cols: int) -> None:
        self.cfg, self.rows, self.cols = cfg, rows, cols

    def __len__(self) -> int:
        return self.cfg.pool

    def name(self, index: int) -> str:
        return f"synthetic_{index:02d}"

    def frame(self, index: int) -> Frame:
        c = self.cfg
        rng = np.random.default_rng([SYNTHETIC_SEED, index])
        rows, cols = self.rows, self.cols
        electrons = np.full((rows, cols), c.sky_e, dtype=np.float64)
        _add_stars(electrons, rng, c.stars, c.star_peak_e_max, c.fwhm_px)
        counts = rng.poisson(electrons).astype(np.float64)
        column_bias = rng.normal(0.0, 1.5, cols)  # fixed-pattern column offsets (ADU)
        row_drift = np.linspace(0.0, 2.0, rows)[:, None]  # slow bias drift during readout (ADU)
        adu = c.bias_adu + column_bias[None, :] + row_drift + counts / c.gain_e_per_adu
        adu += rng.normal(0.0, c.read_noise_e / c.gain_e_per_adu, (rows, cols))
        for _ in range(c.cosmic_rays):
            r, q = rng.integers(0, rows), rng.integers(0, cols - 1)
            adu[r, q : q + int(rng.integers(1, 3))] += rng.uniform(500, 20000)
        physical = np.clip(np.rint(adu), 0, 65535).astype(np.int64)
        cards = "".join(f"{card:<80}" for card in (
            f"INSTRUME= 'SYNTHETIC'          / astroflight synthetic sky, frame {index}",
            f"GAIN    = {c.gain_e_per_adu:20.4f} / e-/ADU",
            f"RDNOISE = {c.read_noise_e:20.4f} / e-"))
        return Frame(name=self.name(index), pixels=(physical - 32768).astype(np.int16), bitpix=16, bzero=32768.0,
                     bscale=1.0, cards=cards)

    def fingerprint(self) -> str:
        text = f"synthetic {self.rows}x{self.cols} {SYNTHETIC_SEED} {self.cfg!r}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def _add_stars(img: np.ndarray, rng: np.random.Generator, n: int, peak_max: float, fwhm: float) -> None:
    """Gaussian stars, peak flux ``peak_max * U**2.5`` (many faint, few bright), added in place."""
    sigma = fwhm / 2.3548
    half = max(2, int(np.ceil(4 * sigma)))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    rows, cols = img.shape
    peaks = peak_max * rng.uniform(0.0, 1.0, n) ** 2.5  # many faint stars, few bright ones
    for peak, r, c, dy, dx in zip(peaks, rng.integers(0, rows, n), rng.integers(0, cols, n), rng.uniform(-0.5, 0.5, n),
                                  rng.uniform(-0.5, 0.5, n), strict=True):
        stamp = peak * np.exp(-((yy - dy) ** 2 + (xx - dx) ** 2) / (2 * sigma**2))
        r0, r1, c0, c1 = r - half, r + half + 1, c - half, c + half + 1
        sr0, sc0 = max(0, -r0), max(0, -c0)
        sr1, sc1 = stamp.shape[0] - max(0, r1 - rows), stamp.shape[1] - max(0, c1 - cols)
        img[max(0, r0) : min(rows, r1), max(0, c0) : min(cols, c1)] += stamp[sr0:sr1, sc0:sc1]


def make_source(scenario: Scenario) -> FrameSource:
    """The frame source a scenario names; a folder whose files cannot be frames is a ScenarioError naming the
    file (not FITS, truncated, float pixels): the camera must deliver integers, as the codecs are lossless."""
    cam = scenario.camera
    folder = scenario.frame_folder()
    if folder is None:
        return SyntheticSky(cam.synthetic, cam.rows, cam.cols)
    try:
        return FolderSource(folder, cam.rows, cam.cols)
    except InputError as exc:
        raise ScenarioError(f"camera.source: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"camera.source: {folder}: cannot read ({exc.strerror or exc})") from None
