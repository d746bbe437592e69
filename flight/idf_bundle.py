"""Load and verify an IDF model bundle (written by ``python -m models.export``).

A bundle is a folder: ``manifest.json``, one int8 ``.tflite`` per network, ``tables.npz`` (integer CDF tables)
and ``bundle.sha256``.  Its identity is :func:`bundle_digest`: SHA-256 over every file of the folder except
``bundle.sha256``, taken in byte order of the file name, each contributing ``name LF size LF contents``.  Frames
carry that digest; the ground refuses a frame whose digest differs from the bundle it holds.

Loading recomputes the digest and compares it with ``bundle.sha256``, checks that the manifest's integer spec
equals ``flight.idf_spec`` (a bundle made for another transform is refused), parses every network with
``flight.int8net`` (a truncated or corrupt file is refused) and checks the tables' invariants.  Every failure is
an :class:`IdfBundleError` (an ``InputError``: the command-line tools print it on one line and exit 2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flight import idf_spec as S
from flight.errors import InputError

MANIFEST = "manifest.json"
TABLES = "tables.npz"
HASH_FILE = "bundle.sha256"
PROB_BITS = 16
DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "bundles" / "default"


class IdfBundleError(InputError):
    """A missing, corrupt, mismatched or incompatible model bundle."""


def bundle_digest(folder: str | Path) -> bytes:
    """SHA-256 identity of a bundle folder (see the module docstring for exactly what is hashed)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted((p for p in folder.iterdir() if p.is_file() and p.name != HASH_FILE),
                    key=lambda p: p.name.encode()):
        data = p.read_bytes()
        h.update(p.name.encode() + b"\n" + str(len(data)).encode() + b"\n")
        h.update(data)
    return h.digest()


@dataclass
class Tables:
    """Integer CDF tables: row t covers symbols lo[t] .. lo[t]+n[t]-1, then ESCAPE (index n[t])."""

    cdf: np.ndarray  # uint32 [T, W+2]
    lo: np.ndarray  # int32 [T]
    n: np.ndarray  # int32 [T]


@dataclass
class Bundle:
    folder: Path
    digest: bytes
    manifest: dict
    nets: dict  # name -> network with .run(int8 NHWC) -> int8
    tables: Tables
    net_bytes: dict  # name -> raw .tflite bytes (for the LiteRT oracle)


def _check_tables(z: dict) -> Tables:
    try:
        cdf, lo, n = np.asarray(z["cdf"]), np.asarray(z["lo"]), np.asarray(z["n"])
    except KeyError as exc:
        raise IdfBundleError(f"tables.npz lacks {exc}") from exc
    expect = (S.KMAX + 1) * S.N_PHASE
    if (cdf.dtype != np.uint32 or cdf.ndim != 2 or cdf.shape[0] != expect or lo.shape != (expect,)
            or n.shape != (expect,)):
        raise IdfBundleError("tables.npz has the wrong layout for this codec")
    total = 1 << PROB_BITS
    if np.any(n < 1) or np.any(n + 2 > cdf.shape[1]) or np.any(cdf[:, 0] != 0):
        raise IdfBundleError("tables.npz: corrupt table sizes")
    for t in range(expect):
        row = cdf[t, : n[t] + 2].astype(np.int64)
        if row[-1] != total or np.any(np.diff(row) < 1):
            raise IdfBundleError(f"tables.npz: table {t} is not a valid CDF with every frequency >= 1")
    return Tables(cdf.astype(np.uint32), lo.astype(np.int32), n.astype(np.int32))


def load_bundle(folder: str | Path | None = None, oracle: bool = False) -> Bundle:
    """Load and verify a bundle (the shipped default when ``folder`` is None).

    ``oracle=True`` runs the networks with LiteRT's reference kernels instead of ``flight.int8net``.
    """
    folder = Path(folder) if folder is not None else DEFAULT_BUNDLE
    if not folder.is_dir():
        raise IdfBundleError(f"IDF model bundle {folder} not found")
    hash_path = folder / HASH_FILE
    if not hash_path.is_file():
        raise IdfBundleError(f"IDF model bundle {folder} has no {HASH_FILE}")
    try:
        recorded = bytes.fromhex(hash_path.read_text().strip())
    except ValueError as exc:
        raise IdfBundleError(f"{hash_path} is not a hex SHA-256") from exc
    digest = bundle_digest(folder)
    if recorded != digest:
        raise IdfBundleError(f"IDF model bundle {folder} is corrupt or modified: content hash {digest.hex()[:16]}... "
                             f"differs from the recorded {recorded.hex()[:16]}...")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IdfBundleError(f"IDF model bundle {folder}: unreadable {MANIFEST} ({exc})") from exc
    if manifest.get("format") != "astroflight-idf-bundle" or manifest.get("version") != 1:
        raise IdfBundleError(f"{folder} is not a version-1 astroflight IDF bundle")
    spec = manifest.get("spec", {})
    for key, val in spec.items():
        cur = getattr(S, key, None)
        if (list(cur) if isinstance(cur, tuple) else cur) != val:
            raise IdfBundleError(f"bundle {folder} was made for {key}={val}, this codec has {cur}")
    if set(manifest.get("networks", {})) != {S.net_name(n, k) for n in range(1, S.N_NETSETS + 1) for k in S.NET_KINDS}:
        raise IdfBundleError(f"bundle {folder} does not hold this codec's networks ({', '.join(S.NET_KINDS)})")
    nets, raw = {}, {}
    for lv in range(1, S.N_NETSETS + 1):
        for kind in S.NET_KINDS:
            name = S.net_name(lv, kind)
            info = manifest.get("networks", {}).get(name)
            if info is None:
                raise IdfBundleError(f"bundle {folder}: manifest lists no network {name}")
            path = folder / info["file"]
            try:
                blob = path.read_bytes()
            except OSError as exc:
                raise IdfBundleError(f"bundle {folder}: cannot read {info['file']}") from exc
            raw[name] = blob
            nets[name] = _load_net(blob, name, oracle)
    try:
        with np.load(folder / TABLES) as z:
            tables = _check_tables({k: z[k] for k in z.files})
    except (OSError, ValueError) as exc:
        raise IdfBundleError(f"bundle {folder}: unreadable {TABLES} ({exc})") from exc
    return Bundle(folder, digest, manifest, nets, tables, raw)


def _load_net(blob: bytes, name: str, oracle: bool):
    from flight.int8net import Int8Network, Int8NetworkError

    try:
        net = Int8Network.from_tflite(blob)
    except Int8NetworkError as exc:
        raise IdfBundleError(f"network {name}.tflite: {exc}") from exc
    cin, cout = S.NET_IN_CHANNELS[name[3:]], S.NET_OUT_CHANNELS[name[3:]]
    if (net.input_shape[-1], net.output_shape[-1]) != (cin, cout):
        raise IdfBundleError(f"network {name}.tflite has {net.input_shape[-1]} -> {net.output_shape[-1]} channels, "
                             f"expected {cin} -> {cout}")
    if (net.input_scale, net.input_zero_point, net.output_scale, net.output_zero_point) != (
            1.0, 0, 2.0 ** -S.OUT_FRAC_BITS, 0):
        raise IdfBundleError(f"network {name}.tflite has unexpected input/output quantization")
    return LiteRtNet(blob) if oracle else net


class LiteRtNet:
    """The LiteRT interpreter with reference kernels behind the ``.run`` signature (the independent oracle)."""

    def __init__(self, blob: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self._make = lambda: Interpreter(model_content=blob,
                                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self._by_shape: dict[tuple, object] = {}

    def run(self, x: np.ndarray) -> np.ndarray:
        it = self._by_shape.get(x.shape)
        if it is None:
            it = self._make()
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape))
            it.allocate_tensors()
            self._by_shape[x.shape] = it
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"]).copy()
