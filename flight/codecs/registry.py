"""The codec registry: one table keyed by wire codec id (docs/formats.md), everything else derived from it."""

from __future__ import annotations

from flight.codecs.base import NO_MODEL, TileCodec
from flight.codecs.raw import RawCodec
from flight.codecs.rice import RiceCodec
from flight.errors import FormatError, InputError, ModelError
from flight.idf.codec import IdfCodec

#: Wire codec id -> codec class. Ids are part of the stream format: never renumber.
CODECS: dict[int, type[TileCodec]] = {cls.codec_id: cls for cls in (RawCodec, RiceCodec, IdfCodec)}
#: Wire codec id -> command-line name.
CODEC_NAMES: dict[int, str] = {cid: cls.name for cid, cls in CODECS.items()}
#: Command-line name -> wire codec id.
CODEC_IDS: dict[str, int] = {name: cid for cid, name in CODEC_NAMES.items()}
#: Command-line names, in wire id order.
CODEC_CHOICES: tuple[str, ...] = tuple(CODEC_NAMES[cid] for cid in sorted(CODEC_NAMES))


def get_codec(name: str, model: str | None = None, kernels: str = "numba") -> TileCodec:
    """The codec called ``name`` (one of :data:`CODEC_CHOICES`); ``model`` is the IDF bundle folder (default
    bundle if None) and ``kernels`` the kernel set of its networks ("numba" or "litert"); codecs without a model
    ignore both.

    Raises InputError for an unknown name or an unavailable kernel set, ModelError for an unusable bundle.
    """
    if name not in CODEC_IDS:
        raise InputError(f"unknown codec {name!r} (choose from {', '.join(CODEC_CHOICES)})")
    return CODECS[CODEC_IDS[name]].create(model, kernels)


def codec_for_header(codec_id: int, params: bytes, model_hash: bytes, idf_model: str | None = None,
                     kernels: str = "numba") -> TileCodec:
    """The decoder for a frame header's codec.

    Raises FormatError for an unknown id or malformed parameters, ModelError when the codec has a model (IDF)
    whose hash differs from the frame's (the ground refuses to decode with another model).
    """
    if codec_id not in CODECS:
        raise FormatError(f"unknown codec id {codec_id}")
    codec = CODECS[codec_id].from_header(params, idf_model, kernels)
    held = codec.model_hash()
    if held != NO_MODEL and held != model_hash:
        raise ModelError(
            f"frame was coded with model bundle {model_hash.hex()[:16]}..., "
            f"but the ground holds bundle {held.hex()[:16]}...; refusing to decode with another model"
        )
    return codec
