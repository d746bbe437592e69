"""IDF codec: bit-exact round trips with the shipped bundle, escapes, code length, bundle verification.

No TensorFlow here: the shipped bundle runs through flight.int8net (and LiteRT's reference kernels as oracle).
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from flight.codecs.base import OpCounts, TileResult
from flight.errors import FormatError, ModelError
from flight.idf import spec as S
from flight.idf import transform as T
from flight.idf.bundle import DEFAULT_BUNDLE, HASH_FILE, IdfBundleError, bundle_digest, load_bundle
from flight.idf.codec import IdfCodec
from flight.idf.payload import HEADER_BYTES, KIND_BAYER, KIND_IDF, KIND_RICE, pack_rice
from flight.rans import rans_cost_bits

CROPS = Path(__file__).resolve().parents[1] / "data" / "idf" / "crops.npz"
pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / HASH_FILE).exists(), reason="default IDF bundle not built")


@pytest.fixture(scope="module")
def codec() -> IdfCodec:
    return IdfCodec()


@pytest.fixture(scope="module")
def crops() -> dict[str, np.ndarray]:
    with np.load(CROPS) as z:
        return {k: z[k] for k in z.files}


def encode_idf_only(codec: IdfCodec, tile: np.ndarray) -> bytes:
    """The kind-2 payload of a tile, whatever the alternatives would cost."""
    return codec.encode_idf([np.asarray(tile)])[0]


def ideal_bits(codec: IdfCodec, tile: np.ndarray) -> tuple[float, int]:
    """(ideal -log2 p of the IDF (kind 2) payload's symbols under the integer tables, header bits)."""
    s, m, top, phases = T.forward_batch(np.asarray(tile, dtype=np.int64)[None], codec.bundle.nets)
    alphas, betas = codec.choose_side_info(phases, s)
    bits = 0.0
    for ph in phases:
        t, sym, nb, _ = codec.symbols(ph, s[0], alphas[0, ph.netset - 1], betas[0, ph.netset - 1], 0)
        bits += rans_cost_bits(sym, t, codec.tables) + float(nb.sum())
    return bits, 8 * HEADER_BYTES


def roundtrip(codec: IdfCodec, tile: np.ndarray, bitpix: int = 16) -> bytes:
    payload = codec.encode_tile(tile)
    back = codec.decode_tile(payload, tile.shape, bitpix)
    assert back.dtype == tile.dtype
    assert np.array_equal(back, tile)
    return payload


def test_interface(codec: IdfCodec) -> None:
    assert (codec.codec_id, codec.name) == (2, "idf")
    assert codec.supports(16) and codec.supports(8) and not codec.supports(32)
    assert len(codec.model_hash()) == 32 and codec.model_hash() == bundle_digest(DEFAULT_BUNDLE)
    ops = codec.ops_per_pixel()
    assert isinstance(ops, OpCounts) and ops.macs > 100 and ops.lookups > 0
    assert codec.default_tile_shape(1000, 30) == (64, 30)


def test_real_crops_roundtrip_and_compress(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    for name, tile in crops.items():
        payload = roundtrip(codec, tile)
        assert len(payload) < tile.nbytes, name
        assert len(payload) <= len(pack_rice(tile)), name  # never worse than RICE on the same tile
        idf = encode_idf_only(codec, tile)
        assert idf[0] >> 4 == KIND_IDF and np.array_equal(codec.decode_tile(idf, tile.shape, 16), tile)


def test_batch_api_matches_single(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    tiles = [crops["g09_ctio"], crops["x03_xrt"][:37, :53], crops["g04_saao"], crops["s01_stis"][:1, :40]]
    payloads = codec.encode_tiles(tiles)
    assert payloads == [codec.encode_tile(t) for t in tiles]
    back = codec.decode_tiles(payloads + [b"\x2f"], [t.shape for t in tiles] + [(8, 8)], 16)
    for t, b in zip(tiles, back[:-1], strict=True):
        assert isinstance(b, TileResult) and b.ok and np.array_equal(t, b.pixels)
    assert isinstance(back[-1].error, FormatError) and back[-1].pixels is None  # a bad tile costs only itself


def test_mosaic_and_rice_kinds(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    bayer = crops["g12_dslr_bayer"]
    payload = roundtrip(codec, bayer)
    assert payload[0] >> 4 == KIND_BAYER  # the colour-filter mosaic is coded as four sub-lattices
    assert len(payload) < len(encode_idf_only(codec, bayer))
    for name in ("s05_rosat", "g07_lick_bias"):
        rice = pack_rice(crops[name])
        assert rice[0] >> 4 == KIND_RICE
        assert np.array_equal(codec.decode_tile(rice, (64, 64), 16), crops[name])


@pytest.mark.parametrize("shape", [(37, 53), (1, 40), (40, 1), (1, 1), (2, 3), (3, 2), (5, 64), (64, 7)])
def test_odd_shapes_roundtrip(codec: IdfCodec, crops: dict[str, np.ndarray], shape: tuple[int, int]) -> None:
    for name in ("g09_ctio", "x03_xrt"):
        roundtrip(codec, np.ascontiguousarray(crops[name][: shape[0], : shape[1]]))


def test_8bit_and_extremes(codec: IdfCodec, rng: np.random.Generator) -> None:
    roundtrip(codec, rng.integers(0, 256, (24, 31)).astype(np.uint8), bitpix=8)
    roundtrip(codec, np.full((16, 16), 7, np.uint8), bitpix=8)
    extreme = np.where(rng.random((32, 32)) < 0.5, -32768, 32767).astype(np.int16)
    roundtrip(codec, extreme)
    roundtrip(codec, np.full((32, 32), -32768, np.int16))


def test_translation_off_by_one_is_caught(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    """A +-1 in one coupling translation on the ground changes decoded pixels, so the tile CRC fails."""
    tile = crops["g09_ctio"]
    payload = encode_idf_only(codec, tile)

    class OffByOne:
        def __init__(self, net, delta: int) -> None:
            self.net, self.delta = net, delta

        def run(self, x: np.ndarray) -> np.ndarray:
            y = self.net.run(x).astype(np.int16)
            y.flat[y.size // 2] += self.delta if y.flat[y.size // 2] + self.delta <= 127 else -self.delta
            return y.astype(np.int8)

    for name in (S.net_name(1, "T1"), S.net_name(2, "T1")):
        original = codec.bundle.nets[name]
        try:
            codec.bundle.nets[name] = OffByOne(original, 1)
            try:
                bad = codec.decode_tile(payload, tile.shape, 16)
            except FormatError:
                continue  # detected even earlier: the stream no longer parses
            assert not np.array_equal(bad, tile)
            assert zlib.crc32(bad.astype(">i2").tobytes()) != zlib.crc32(tile.astype(">i2").tobytes())
        finally:
            codec.bundle.nets[name] = original


def test_random_tile_takes_raw_escape(codec: IdfCodec, rng: np.random.Generator) -> None:
    from flight.encoder import encode_frame
    from flight.frame import Frame

    tile = rng.integers(-32768, 32768, (64, 64)).astype(np.int16)
    payload = roundtrip(codec, tile)
    assert len(payload) >= tile.nbytes  # incompressible: the container must keep the raw tile
    frame = Frame(name="noise", pixels=tile, bitpix=16)
    enc = encode_frame(frame, codec, tile_shape=(64, 64))
    assert enc.escaped_tiles == 1
    assert len(enc.tiles[0]) - tile.nbytes == 5  # tile codec id + CRC-32: the raw tile's header only


def test_coded_bits_match_ideal(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    for name in ("g04_saao", "x03_xrt", "g12_dslr_bayer"):
        tile = crops[name]
        ideal, header = ideal_bits(codec, tile)
        coded = 8 * len(encode_idf_only(codec, tile))
        assert ideal + header <= coded <= 1.01 * (ideal + header), name


def test_litert_kernels_give_identical_payload(crops: dict[str, np.ndarray]) -> None:
    """LiteRT's reference kernels (the second kernel set, an independent implementation) produce the same bytes
    as the numba kernels of flight.int8net."""
    fast = IdfCodec()
    oracle = IdfCodec(kernels="litert")
    for name in ("g09_ctio", "s05_rosat"):
        assert oracle.encode_tile(crops[name]) == fast.encode_tile(crops[name])


def test_corrupt_payload_raises_format_error(codec: IdfCodec, crops: dict[str, np.ndarray]) -> None:
    payload = encode_idf_only(codec, crops["x03_xrt"])
    for bad in (payload[:3], payload[:-2], payload[:HEADER_BYTES] + payload[HEADER_BYTES + 2:],
                bytes([0x2F]) + payload[1:]):
        with pytest.raises(FormatError):
            codec.decode_tile(bad, (64, 64), 16)
    with pytest.raises(FormatError):
        codec.decode_tile(payload, (64, 64), 32)
    with pytest.raises(FormatError):
        codec.decode_tile(bytes([KIND_BAYER << 4, 0, 9]) + payload, (64, 64), 16)


def _copy_bundle(tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, dst)
    return dst


def test_bundle_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(IdfBundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    b = _copy_bundle(tmp_path)
    blob = (b / "L1_T1.tflite").read_bytes()
    (b / "L1_T1.tflite").write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(IdfBundleError, match="corrupt or modified"):
        load_bundle(b)
    # A truncated network whose hash was (maliciously or carelessly) updated still fails, naming the file.
    (b / "L1_T1.tflite").write_bytes(blob[: len(blob) // 2])
    (b / HASH_FILE).write_text(bundle_digest(b).hex() + "\n")
    with pytest.raises(IdfBundleError, match="L1_T1"):
        load_bundle(b)
    (b / "L1_T1.tflite").write_bytes(blob)
    (b / HASH_FILE).unlink()
    with pytest.raises(IdfBundleError, match=HASH_FILE):
        load_bundle(b)
    assert issubclass(IdfBundleError, ModelError)  # CLIs print it on one line and exit 2


def test_bundle_for_another_spec_is_refused(tmp_path: Path) -> None:
    import json

    b = _copy_bundle(tmp_path)
    man = json.loads((b / "manifest.json").read_text())
    man["spec"]["KMAX"] = S.KMAX + 8  # a bundle made for another transform
    (b / "manifest.json").write_text(json.dumps(man))
    (b / HASH_FILE).write_text(bundle_digest(b).hex() + "\n")
    with pytest.raises(IdfBundleError, match="KMAX"):
        load_bundle(b)


def test_spec_helpers() -> None:
    x = np.arange(-5000, 5001)
    for s in (0, 3, 12):
        c = S.compand(x, s).astype(int)
        assert c.min() >= -127 and c.max() <= 127
        assert np.all(np.diff(c) >= 0)  # monotone
        assert np.array_equal(c, -S.compand(-x, s).astype(int))  # odd
    m4 = np.arange(-40, 40)
    for k in (0, 40, S.KMAX, S.KMAX + 1, S.KMAX + 60):
        kk = np.full(m4.shape, k)
        v = np.arange(-40, 40) * 37
        t, sym, nb, low = S.split_symbols(v, m4, kk)
        assert np.array_equal(S.join_symbols(sym, m4, kk, low), v)
        assert np.all(t < (S.KMAX + 1) * S.N_PHASE)
    assert S.level_shapes(1, 1) == [] and S.level_shapes(1, 5) == [(1, 5), (1, 3), (1, 2)]
    assert S.noise_shift(np.zeros((1, 1))) == 0
