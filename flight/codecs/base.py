"""The tile codec contract: what every codec offers the container (``flight.encoder``), the ground
(``ground.reassembly``) and the simulator.

A tile codec turns 2-D tiles of stored integers into payload bytes and back. It knows nothing about frames,
packets or checksums: the container adds those, and falls back to ``raw`` per tile when a codec's payload would
be larger than the raw tile.

Batch calls are the primary methods (:meth:`TileCodec.encode_tiles`, :meth:`TileCodec.decode_tiles`): a codec
that gains from batching (IDF shares network calls across tiles) overrides them; the default implementations
loop over :meth:`TileCodec.encode_tile` / :meth:`TileCodec.decode_tile`. A tile that cannot be decoded is a
:class:`TileResult` with ``error`` set, never an exception in a list of arrays: a bad tile costs only itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flight.errors import FormatError
from flight.frame import BITPIX_DTYPES

NO_MODEL = bytes(32)  # the model hash of a codec without a model


@dataclass(frozen=True)
class OpCounts:
    """Operations per coded pixel, by kind: the simulator's CPU cost model (``sim.cpu``) charges each kind at its
    profile's cycles per operation.

    ``int_ops``: integer ALU operations; ``mem_ops``: loads and stores; ``macs``: int8 multiply-accumulates of
    networks; ``lookups``: table reads (rANS CDFs). All per pixel, averaged over a frame (floats).
    """

    int_ops: float = 0.0
    mem_ops: float = 0.0
    macs: float = 0.0
    lookups: float = 0.0

    @property
    def total(self) -> float:
        """All operations per pixel, every kind counted once."""
        return self.int_ops + self.mem_ops + self.macs + self.lookups


@dataclass(frozen=True)
class TileResult:
    """One decoded tile: ``pixels`` (``[rows, cols]`` of the BITPIX dtype) or ``error`` (why it failed)."""

    pixels: np.ndarray | None = None
    error: FormatError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> np.ndarray:
        """The pixels; raises the tile's :class:`FormatError` if it failed."""
        if self.error is not None:
            raise self.error
        assert self.pixels is not None
        return self.pixels


class TileCodec(ABC):
    """Base class of every tile codec.

    Class attributes: ``codec_id`` (the wire id in the frame header and tile items, docs/formats.md) and
    ``name`` (the command-line name). Subclasses implement :meth:`encode_tile`, :meth:`decode_tile` and
    :meth:`ops_per_pixel`, and may override :meth:`create` and :meth:`from_header` (codecs with a model or
    parameters), the batch methods, :meth:`default_tile_shape`, :meth:`params`, :meth:`model_hash`,
    and :meth:`supports`.
    """

    codec_id: int
    name: str

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def create(cls, model: str | None = None, kernels: str = "numba") -> TileCodec:
        """The codec with its default settings, for the encoder. ``model`` is a model bundle folder and
        ``kernels`` the kernel set its networks run on (``flight.litert_kernels.KERNEL_SETS``), for codecs that
        have networks (None: the shipped default bundle); others ignore both. Raises ModelError for an unusable
        bundle, InputError for an unavailable kernel set."""
        return cls()

    @classmethod
    def from_header(cls, params: bytes, model: str | None = None, kernels: str = "numba") -> TileCodec:
        """The decoder a received frame header describes through its codec parameter bytes (docs/formats.md);
        ``model`` and ``kernels`` as in :meth:`create`. Raises FormatError for malformed parameters."""
        return cls.create(model, kernels)

    # ----------------------------------------------------------------------------- per tile
    @abstractmethod
    def encode_tile(self, tile: np.ndarray) -> bytes:
        """Payload of one 2-D integer tile ``[rows, cols]`` (the BITPIX dtype). Never fails on valid pixels."""

    @abstractmethod
    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        """Pixels ``[shape]`` (BITPIX dtype) of one payload; raises :class:`FormatError` on corrupt bytes."""

    # ----------------------------------------------------------------------------- batches (primary)
    def encode_tiles(self, tiles: Sequence[np.ndarray]) -> list[bytes]:
        """Payloads of many tiles; entry i equals ``encode_tile(tiles[i])``."""
        return [self.encode_tile(t) for t in tiles]

    def decode_tiles(self, payloads: Sequence[bytes], shapes: Sequence[tuple[int, int]],
                     bitpix: int) -> list[TileResult]:
        """One :class:`TileResult` per payload (a corrupt payload fails alone, as a result, not an exception)."""
        out = []
        for payload, shape in zip(payloads, shapes, strict=True):
            try:
                out.append(TileResult(pixels=self.decode_tile(payload, shape, bitpix)))
            except FormatError as exc:
                out.append(TileResult(error=exc))
        return out

    # ----------------------------------------------------------------------------- description
    def default_tile_shape(self, rows: int, cols: int) -> tuple[int, int]:
        """Tile shape for a ``rows x cols`` plane when the user gives none: one row per tile (like fpack)."""
        return 1, cols

    def params(self) -> bytes:
        """Codec parameter bytes of the frame header (docs/formats.md)."""
        return b""

    def model_hash(self) -> bytes:
        """32-byte identity of the codec's model (all zero without a model)."""
        return NO_MODEL

    def supports(self, bitpix: int) -> bool:
        """Whether the codec codes this BITPIX (the encoder falls back to RICE when not)."""
        return bitpix in BITPIX_DTYPES

    @abstractmethod
    def ops_per_pixel(self) -> OpCounts:
        """Cost model of the encoder per pixel (for the simulator's flight CPU)."""
