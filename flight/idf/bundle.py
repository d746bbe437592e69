"""The IDF model bundle: its manifest (one definition, written by ``python -m models.export``), its identity
hash, loading and verification.

A bundle is a folder: ``manifest.json``, one int8 ``.tflite`` per network, ``tables.npz`` (integer CDF tables)
and ``bundle.sha256``.  Its identity is :func:`bundle_digest`: SHA-256 over every file of the folder except
``bundle.sha256``, taken in byte order of the file name, each contributing ``name LF size LF contents``.  Frames
carry that digest; the ground refuses a frame whose digest differs from the bundle it holds.

A bundle folder holds exactly those files: every entry is a regular file (no symlink, FIFO, device or folder)
with a plain name, and every network file the manifest names is a plain name of a file in the folder, so the
digest covers exactly the files the codec uses. Every read is capped (``MAX_FILE_BYTES``, ``MAX_MANIFEST_BYTES``).

Loading recomputes the digest and compares it with ``bundle.sha256``, checks that the manifest's integer spec
equals ``flight.idf.spec`` (a bundle made for another transform is refused), parses every network with
``flight.int8net`` (a truncated or corrupt file is refused) and checks the tables' invariants.  Every failure is
an :class:`IdfBundleError` (a ``ModelError``: the command-line tools print it on one line and exit 2).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flight.errors import ModelError
from flight.idf import spec as S
from flight.int8net import Int8Network, Int8NetworkError
from flight.rans import PROB_BITS

MANIFEST = "manifest.json"
TABLES = "tables.npz"
HASH_FILE = "bundle.sha256"
FORMAT = "astroflight-idf-bundle"
VERSION = 1
DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "bundles" / "default"
#: The integer spec constants a bundle records and a loader checks against :mod:`flight.idf.spec`.
SPEC_KEYS = ("S_MAX", "COMP_LIN", "COMP_MAX", "OUT_FRAC_BITS", "K0", "KSTEP", "KMAX", "N_PHASE", "N_NETSETS",
             "BETA_BITS", "BETA_ZERO", "BETA_STEP", "ALPHA_BITS", "ALPHA_WEIGHTS", "ALPHA_CONST", "NET_KINDS")
#: Largest file a bundle may hold: 64 MiB (the shipped networks are 4-7 KB, its tables 103 KB).
MAX_FILE_BYTES = 64 << 20
#: Largest manifest.json (the shipped one is 12 KB).
MAX_MANIFEST_BYTES = 1 << 20
HASH_RULE = {"file": HASH_FILE, "algorithm": "sha256",
             "covers": "every file of the bundle folder except bundle.sha256, in byte order of name: "
                       "name, LF, decimal size, LF, contents"}


class IdfBundleError(ModelError):
    """A missing, corrupt, mismatched or incompatible model bundle."""


def current_spec() -> dict[str, Any]:
    """This codec's integer spec as a manifest records it (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k in SPEC_KEYS for v in [getattr(S, k)]}


@dataclass
class Manifest:
    """``manifest.json`` of a bundle: what it holds, for which spec, and how it was made.

    ``networks`` maps each network name (``L1_PB``) to its entry (``file``, channels, quantization, MACs);
    ``tables`` describes ``tables.npz``; ``macs_per_pixel``/``lookups_per_pixel`` are the simulator's cost
    model; ``architecture``, ``training`` and ``validation_bpd`` are documentation.
    """

    spec: dict[str, Any]
    networks: dict[str, dict[str, Any]]
    tables: dict[str, Any]
    macs_per_pixel: float
    lookups_per_pixel: float = 2.0
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    validation_bpd: Any = None
    hash: dict[str, Any] = field(default_factory=lambda: dict(HASH_RULE))
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> str:
        """The file's text (sorted keys, one-space indent, final newline)."""
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; IdfBundleError unless it is a version-1 astroflight IDF bundle manifest."""
        try:
            d = json.loads(text)
        except ValueError as exc:
            raise IdfBundleError(f"unreadable {MANIFEST} ({exc})") from exc
        except RecursionError:
            raise IdfBundleError(f"unreadable {MANIFEST} (nested too deeply)") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
            raise IdfBundleError(f"not a version-{VERSION} astroflight IDF bundle")
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as exc:
            raise IdfBundleError(f"{MANIFEST} lacks a field ({exc})") from exc


def read_bundle_file(folder: str | Path, name: str, cap: int | None = None) -> bytes:
    """The bytes of the bundle file ``name``; IdfBundleError unless ``name`` is a plain file name in ``folder``
    (no path, not hidden) of a regular file (not a symlink, FIFO or device) of at most ``cap`` bytes
    (default ``MAX_FILE_BYTES``)."""
    cap = MAX_FILE_BYTES if cap is None else cap
    if not isinstance(name, str) or not name or name != Path(name).name or name.startswith(".") or "\\" in name:
        raise IdfBundleError(f"bundle {folder}: file name {name!r} is not a plain name inside the bundle folder")
    path = Path(folder) / name
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise IdfBundleError(f"bundle {folder}: cannot read {name} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise IdfBundleError(f"bundle {folder}: {name} is not a regular file (symlink, FIFO, device or folder)")
    if info.st_size > cap:
        raise IdfBundleError(f"bundle {folder}: {name} is {info.st_size} bytes, more than the {cap} allowed")
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NOFOLLOW", 0))) as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise IdfBundleError(f"bundle {folder}: cannot read {name} ({exc.strerror or exc})") from None
    if len(data) > cap:
        raise IdfBundleError(f"bundle {folder}: {name} grew past the {cap} bytes allowed while read")
    return data


def bundle_digest(folder: str | Path) -> bytes:
    """SHA-256 identity of a bundle folder (see the module docstring for exactly what is hashed).

    IdfBundleError when an entry is not a regular file with a plain name, or exceeds ``MAX_FILE_BYTES``.
    """
    folder = Path(folder)
    h = hashlib.sha256()
    try:
        names = sorted((p.name for p in folder.iterdir() if p.name != HASH_FILE), key=lambda n: n.encode())
    except OSError as exc:
        raise IdfBundleError(f"bundle {folder}: cannot list ({exc.strerror or exc})") from None
    for name in names:
        data = read_bundle_file(folder, name)
        h.update(name.encode() + b"\n" + str(len(data)).encode() + b"\n")
        h.update(data)
    return h.digest()


def names_in(folder: str | Path) -> list[str]:
    """Names of the entries of a bundle folder other than ``bundle.sha256``."""
    return [p.name for p in Path(folder).iterdir() if p.name != HASH_FILE]


@dataclass
class Tables:
    """Integer CDF tables: row t covers symbols lo[t] .. lo[t]+n[t]-1, then ESCAPE (index n[t])."""

    cdf: np.ndarray  # uint32 [T, W+2]
    lo: np.ndarray  # int32 [T]
    n: np.ndarray  # int32 [T]


@dataclass
class Bundle:
    """A loaded, verified bundle."""

    folder: Path
    digest: bytes
    manifest: Manifest
    nets: dict  # name -> network with .run(int8 NHWC) -> int8
    tables: Tables
    net_bytes: dict  # name -> raw .tflite bytes (for an independent oracle)


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


def load_bundle(folder: str | Path | None = None) -> Bundle:
    """Load and verify a bundle (the shipped default when ``folder`` is None); IdfBundleError on any problem."""
    folder = Path(folder) if folder is not None else DEFAULT_BUNDLE
    if not folder.is_dir():
        raise IdfBundleError(f"IDF model bundle {folder} not found")
    hash_path = folder / HASH_FILE
    if not hash_path.is_file():
        raise IdfBundleError(f"IDF model bundle {folder} has no {HASH_FILE}")
    try:
        recorded = bytes.fromhex(read_bundle_file(folder, HASH_FILE, 1024).decode("ascii").strip())
    except ValueError as exc:
        raise IdfBundleError(f"{hash_path} is not a hex SHA-256") from exc
    digest = bundle_digest(folder)
    if recorded != digest:
        raise IdfBundleError(f"IDF model bundle {folder} is corrupt or modified: content hash {digest.hex()[:16]}... "
                             f"differs from the recorded {recorded.hex()[:16]}...")
    try:
        text = read_bundle_file(folder, MANIFEST, MAX_MANIFEST_BYTES).decode("utf-8")
    except ValueError as exc:
        raise IdfBundleError(f"IDF model bundle {folder}: unreadable {MANIFEST} ({exc})") from exc
    try:
        manifest = Manifest.from_json(text)
    except IdfBundleError as exc:
        raise IdfBundleError(f"IDF model bundle {folder}: {exc}") from exc
    if not all(isinstance(x, dict) for x in (manifest.spec, manifest.networks)) or not all(
            isinstance(info, dict) for info in manifest.networks.values()):
        raise IdfBundleError(f"bundle {folder}: {MANIFEST} spec and networks must be objects")
    used = {MANIFEST, TABLES} | {info.get("file") for info in manifest.networks.values()}
    extra = sorted(str(n) for n in set(names_in(folder)) - used)
    if extra:
        raise IdfBundleError(f"bundle {folder} holds files its manifest does not use: {', '.join(extra[:5])}")
    for key, val in manifest.spec.items():
        cur = getattr(S, key, None)
        if (list(cur) if isinstance(cur, tuple) else cur) != val:
            raise IdfBundleError(f"bundle {folder} was made for {key}={val}, this codec has {cur}")
    if set(manifest.networks) != {S.net_name(n, k) for n in range(1, S.N_NETSETS + 1) for k in S.NET_KINDS}:
        raise IdfBundleError(f"bundle {folder} does not hold this codec's networks ({', '.join(S.NET_KINDS)})")
    nets, raw = {}, {}
    for lv in range(1, S.N_NETSETS + 1):
        for kind in S.NET_KINDS:
            name = S.net_name(lv, kind)
            info = manifest.networks.get(name)
            if info is None:
                raise IdfBundleError(f"bundle {folder}: manifest lists no network {name}")
            blob = read_bundle_file(folder, info.get("file"))
            raw[name] = blob
            nets[name] = _load_net(blob, name)
    try:
        with np.load(io.BytesIO(read_bundle_file(folder, TABLES)), allow_pickle=False) as z:
            tables = _check_tables({k: z[k] for k in z.files})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise IdfBundleError(f"bundle {folder}: unreadable {TABLES} ({exc})") from exc
    return Bundle(folder, digest, manifest, nets, tables, raw)


def _load_net(blob: bytes, name: str) -> Int8Network:
    """Parse one network with ``flight.int8net`` and check its channels and I/O quantization."""
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
    return net
