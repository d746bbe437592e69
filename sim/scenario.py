"""Mission scenarios: a TOML file per mission, strictly validated, every number overridable.

Why strict: a data-budget answer built on a silently ignored typo (``rate_bsp``) is worse than no answer, so an
unknown key, a value of the wrong type or out of range is a one-line :class:`ScenarioError` naming the key (the
command line turns it into exit code 2). Every key, its unit, default and source is listed in
``docs/simulator.md``; the schema below is the single place that defines them.

A scenario file may start from another with ``extends = "leo"`` (tables merge key by key; arrays such as
``stations`` are replaced whole). Overrides use dotted paths, list items by index: ``radio.rate_bps``,
``stations.0.min_elevation_deg``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flight.errors import InputError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
FRAME_SUFFIXES = (".fits", ".fit", ".fts")


class ScenarioError(InputError):
    """A scenario that cannot be simulated: the message names the key or path and says why, on one line."""


def _f(default: Any, unit: str = "", lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
       hi_open: bool = False, choices: tuple[str, ...] | None = None, doc: str = "",
       parse: Callable[[str, Any], Any] | None = None) -> Any:
    """A schema field: default, unit, bounds (closed unless *_open), allowed strings and a one-line meaning.

    ``parse(key, value)`` validates a field whose shape the generic rules do not cover (a list of tables).
    """
    meta = {"unit": unit, "lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "choices": choices, "doc": doc,
            "parse": parse}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OrbitConfig:
    """Where the spacecraft is: orbital elements, a TLE, or (deep space) a fixed contact schedule."""

    kind: str = _f("elements", choices=("elements", "tle", "schedule"), doc="how contacts are found")
    epoch: str = _f("2025-03-20T00:00:00Z", doc="simulation start (UTC, ISO 8601); also the elements' epoch")
    altitude_km: float = _f(525.0, "km", 100.0, 40000.0, doc="mean altitude above the equatorial radius")
    inclination_deg: float = _f(97.5, "deg", 0.0, 180.0)
    eccentricity: float = _f(0.0, "", 0.0, 0.1, hi_open=True)
    raan_deg: float | None = _f(None, "deg", 0.0, 360.0, doc="right ascension of the node; default from ltan_h")
    ltan_h: float = _f(12.0, "h", 0.0, 24.0, hi_open=True, doc="local time of the ascending node (SSO)")
    arg_perigee_deg: float = _f(0.0, "deg", 0.0, 360.0)
    mean_anomaly_deg: float = _f(0.0, "deg", 0.0, 360.0)
    bstar: float = _f(0.0, "1/earth radii", 0.0, 0.01, doc="SGP4 drag term (0: no decay)")
    tle_line1: str = _f("", doc="TLE line 1 (kind = 'tle')")
    tle_line2: str = _f("", doc="TLE line 2 (kind = 'tle')")
    schedule_period_s: float = _f(86400.0, "s", 0.0, lo_open=True, doc="repeat period of the contact schedule")
    schedule_windows_s: list = _f([], "s", doc="[[start, end], ...] within each period (kind = 'schedule')")
    schedule_station: str = _f("DSN", doc="name reported for scheduled contacts")


@dataclass(frozen=True)
class StationConfig:
    """A ground station and its elevation mask."""

    name: str = _f("station")
    lat_deg: float = _f(0.0, "deg", -90.0, 90.0)
    lon_deg: float = _f(0.0, "deg", -180.0, 360.0)
    alt_m: float = _f(0.0, "m", -500.0, 9000.0)
    min_elevation_deg: float = _f(10.0, "deg", 0.0, 90.0, hi_open=True, doc="elevation mask")


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic sky: bias with column structure, sky, stars, cosmic rays, Poisson and read noise."""

    pool: int = _f(4, "frames", 1, 64, doc="distinct frames generated (cycled like a folder)")
    bias_adu: float = _f(1000.0, "ADU", 0.0, 60000.0)
    read_noise_e: float = _f(5.0, "e-", 0.0, 1000.0)
    gain_e_per_adu: float = _f(1.5, "e-/ADU", 0.0, 100.0, lo_open=True)
    sky_e: float = _f(40.0, "e-/pixel", 0.0, 1e6)
    stars: int = _f(400, "per frame", 0, 1_000_000)
    star_peak_e_max: float = _f(200000.0, "e-", 0.0, 1e9, doc="brightest star's peak (power-law fluxes)")
    fwhm_px: float = _f(2.5, "pixels", 0.0, 100.0, lo_open=True)
    cosmic_rays: int = _f(20, "per frame", 0, 1_000_000)


@dataclass(frozen=True)
class CameraConfig:
    """The detector and its cadence, and where frame content comes from."""

    rows: int = _f(2048, "pixels", 1, 65536)
    cols: int = _f(2048, "pixels", 1, 65536)
    cadence_s: float = _f(60.0, "s", 0.0, lo_open=True)
    source: str = _f("../frames", doc="folder of FITS frames (cycled), or 'synthetic'")
    capture: str = _f("always", choices=("always", "eclipse", "sunlit"), doc="when the camera takes frames")
    priority_every: int = _f(0, "frames", 0, doc="every Nth frame is high priority (0: none)")
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class CodecConfig:
    """Container and packet parameters shared by every codec."""

    tile_rows: int = _f(0, "pixels", 0, 65536, doc="0 and 0: the codec's default (one row; IDF 128 x 128)")
    tile_cols: int = _f(0, "pixels", 0, 65536, doc="0 with tile_rows set: the whole width")
    packet_size: int = _f(2048, "octets", 64, 65542, doc="maximum CCSDS packet size")
    idf_model: str = _f("", doc="IDF model bundle folder ('' = default bundle)")


@dataclass(frozen=True)
class CpuConfig:
    """The flight computer's compression budget."""

    profile: str = _f("cortex-a72", choices=("cortex-a72", "cortex-a9"), doc="cycles-per-op profile")
    cores: int | None = _f(None, "cores", 1, 64, doc="default: the profile's")
    clock_hz: float | None = _f(None, "Hz", 0.0, 1e11, lo_open=True, doc="default: the profile's")
    duty_cycle: float = _f(1.0, "", 0.0, 1.0, lo_open=True, doc="share of core time for compression in sunlight")
    eclipse_duty_cycle: float = _f(0.5, "", 0.0, 1.0, doc="same, in eclipse (power-limited)")


@dataclass(frozen=True)
class StorageConfig:
    """Onboard storage: a raw-frame buffer before the CPU and the packet store before the radio."""

    capacity_bytes: float = _f(32e9, "bytes", 0.0, lo_open=True, doc="packet store (compressed, until ACK)")
    raw_capacity_bytes: float = _f(2e9, "bytes", 0.0, lo_open=True, doc="raw frames waiting for the CPU")
    policy: str = _f("drop_newest", choices=("drop_newest", "drop_oldest", "stop_capture"),
                     doc="what happens when a store is full")
    keep_raw_until_ack: bool = _f(False, doc="keep each raw frame (in the raw buffer) until the ground's ACK, so a "
                                             "corrupted stored packet can be regenerated")


@dataclass(frozen=True)
class RadioConfig:
    """The downlink: information rate, framing overhead, queue order, and the uplink for ACK/NAK."""

    rate_bps: float = _f(2e6, "bit/s", 0.0, lo_open=True, doc="information rate while in contact")
    framing_overhead: float = _f(0.10, "", 0.0, 10.0, doc="extra link bits per packet bit (frames, ASM, fill)")
    queue: str = _f("fifo", choices=("fifo", "lifo", "priority"), doc="order of new frames on the downlink")
    retransmit_first: bool = _f(True, doc="serve NAKed packets before new frames")
    uplink_rate_bps: float = _f(64e3, "bit/s", 0.0, lo_open=True, doc="telecommand rate for ACK/NAK lists")


@dataclass(frozen=True)
class LinkConfig:
    """What the channel does to packets and passes (drawn from the run's seeded generator)."""

    ber: float = _f(1e-7, "", 0.0, 0.5, doc="bit error rate after decoding; PER = 1-(1-BER)^bits")
    packet_loss: float = _f(0.0, "", 0.0, 1.0, hi_open=True, doc="packet erasure probability (on top of BER)")
    missed_pass_probability: float = _f(0.0, "", 0.0, 1.0, doc="chance that a whole contact is lost")
    max_transmissions: int = _f(0, "", 0, doc="per packet; 0: unlimited (CFDP class 2)")


@dataclass(frozen=True)
class GroundConfig:
    """The ground segment's acknowledgement rhythm."""

    ack_interval_s: float = _f(0.0, "s", 0.0, doc="ACK/NAK also every N s during a contact (0: at AOS only)")


def _outages(key: str, value: Any) -> list[dict[str, float]]:
    """``[{start = "2d", duration = "3d"}, ...]`` (numbers are seconds) -> ``[{"start": s, "duration": s}, ...]``."""
    bad = f"{key} must be a list of {{start = ..., duration = ...}} tables (seconds or e.g. \"2d\")"
    if not isinstance(value, list):
        raise ScenarioError(bad)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"start", "duration"}:
            raise ScenarioError(f"{bad}; item {i} is {item!r}")
        start = _seconds(f"{key}.{i}.start", item["start"], allow_zero=True)
        duration = _seconds(f"{key}.{i}.duration", item["duration"], allow_zero=False)
        out.append({"start": start, "duration": duration})
    return out


def _seconds(key: str, value: Any, allow_zero: bool) -> float:
    """A time given as seconds (a number) or as a duration string (``"36h"``, ``"2d"``)."""
    bad = ScenarioError(f"{key}: expected seconds or a duration like 6h, 2d (got {value!r})")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise bad
        value = float(match.group(1)) * _UNIT_S[match.group(2)]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad
    if value < 0 or (value == 0 and not allow_zero):
        raise ScenarioError(f"{key} must be {'>=' if allow_zero else '>'} 0 (got {value:g})")
    return float(value)


@dataclass(frozen=True)
class FaultsConfig:
    """Faults injected on purpose (all off by default), drawn from the run's seed; see ``sim/faults.py``."""

    reset_rate_per_day: float = _f(0.0, "1/day", 0.0, 1e4, doc="flight-computer resets (Poisson); a frame being "
                                                                 "compressed goes back to the raw buffer")
    reboot_s: float = _f(60.0, "s", 0.0, 86400.0, doc="time from a reset until the CPU compresses again")
    storage_upsets_per_bit_day: float = _f(0.0, "1/(bit day)", 0.0, 1.0, doc="bit flips in stored packets "
                                                                              "(Poisson over the bytes held)")
    outages: list = _f([], "s", doc="link outages: [{start = \"2d\", duration = \"3d\"}, ...]; contact time "
                                    "inside them is lost", parse=_outages)


@dataclass(frozen=True)
class Scenario:
    """A whole mission: every number the simulator uses, resolved and validated."""

    name: str = _f("scenario")
    description: str = _f("")
    orbit: OrbitConfig = field(default_factory=OrbitConfig)
    stations: tuple[StationConfig, ...] = ()
    camera: CameraConfig = field(default_factory=CameraConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    cpu: CpuConfig = field(default_factory=CpuConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    radio: RadioConfig = field(default_factory=RadioConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    ground: GroundConfig = field(default_factory=GroundConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    source_path: str = field(default="", compare=False, metadata={"internal": True})

    @property
    def start(self) -> datetime:
        """Simulation time zero as an aware UTC datetime."""
        return parse_epoch(self.orbit.epoch)

    def to_dict(self) -> dict:
        """Plain dict of every resolved value (for metrics.json and cache keys)."""
        out = dataclasses.asdict(self)
        out.pop("source_path", None)
        out["stations"] = [dataclasses.asdict(s) for s in self.stations]
        return out

    def frame_folder(self) -> Path | None:
        """The frame folder, or None for a synthetic sky."""
        return None if self.camera.source == "synthetic" else Path(self.camera.source)


# -- loading ---------------------------------------------------------------------------------------------------


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in sim/scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a shipped scenario by name (``leo``) or a TOML file by path, apply ``{dotted.key: value}`` overrides.

    Override values may be Python values or strings written as on the command line (``"4e6"``, ``"fifo"``).
    Relative frame folders resolve against the scenario file (or, from an override, the working directory).
    """
    path = _scenario_path(name_or_path)
    raw = _read_with_extends(path, set())
    source = raw.get("camera", {}).get("source")
    if isinstance(source, str) and source != "synthetic":
        raw["camera"]["source"] = str((path.parent / source).resolve())
    raw.setdefault("name", path.stem)
    # Validate the file alone first, so an error names where the mistake is: the file, or a --set.
    _validated(raw, f"{path.name}: ")
    if not overrides:
        return _validated(raw, f"{path.name}: ", path)
    raw = copy.deepcopy(raw)
    try:
        for key, value in overrides.items():
            value = parse_value(value) if isinstance(value, str) else value
            if key == "camera.source" and isinstance(value, str) and value != "synthetic":
                value = str(Path(value).resolve())
            _set_path(raw, key, value)
    except ScenarioError as exc:
        raise ScenarioError(f"--set {exc}") from None
    return _validated(raw, "--set: ", path)


def _validated(raw: dict, origin: str, path: Path | None = None) -> Scenario:
    """Build and cross-check a scenario; errors get ``origin`` in front (file name or --set)."""
    try:
        scenario = _build(Scenario, raw, "")
        _check(scenario)
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}{exc}") from None
    return dataclasses.replace(scenario, source_path=str(path or ""))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["radio.rate_bps=4e6", ...]`` -> ``{"radio.rate_bps": 4e6}`` (values parsed as TOML, else strings)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. radio.rate_bps=4e6")
        out[key.strip()] = parse_value(value.strip())
    return out


def parse_value(text: str) -> Any:
    """A command-line value: a TOML literal (``4e6``, ``true``, ``[[0, 60]]``, ``"x"``), else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|sec|m|min|h|hr|d|day|days|w)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0,
           "day": 86400.0, "days": 86400.0, "w": 604800.0}


def parse_duration(text: str | float) -> float:
    """``"6h"``, ``"30d"``, ``"90min"``, ``"3600"`` -> seconds (> 0); ScenarioError otherwise."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ScenarioError(f"duration {text!r}: expected a number with unit s, min, h or d (e.g. 6h, 30d)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not seconds > 0 or math.isinf(seconds):
        raise ScenarioError(f"duration {text!r}: must be > 0")
    return seconds


def parse_epoch(text: str) -> datetime:
    """ISO 8601 UTC time (``2025-03-20T00:00:00Z``) -> aware datetime; ScenarioError naming orbit.epoch."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"orbit.epoch {text!r}: expected ISO 8601 UTC, e.g. 2025-03-20T00:00:00Z") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _scenario_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text in shipped_scenarios():
        return SCENARIO_DIR / f"{text}.toml"
    path = Path(text)
    if path.suffix == ".toml" or "/" in text or path.exists():
        if path.is_dir():
            raise ScenarioError(f"scenario file {text}: is a folder, not a TOML file")
        if not path.is_file():
            raise ScenarioError(f"scenario file {text}: not found")
        return path.resolve()
    raise ScenarioError(f"unknown scenario {text!r} (shipped: {', '.join(shipped_scenarios())}; or a .toml path)")


def _read_with_extends(path: Path, seen: set[Path]) -> dict:
    if path in seen:
        raise ScenarioError(f"scenario {path}: 'extends' loops back to itself")
    seen.add(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario {path}: not valid TOML (not UTF-8 text)") from None
    except OSError as exc:
        raise ScenarioError(f"scenario {path}: cannot read ({exc.strerror})") from None
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ScenarioError(f"scenario {path}: 'extends' must be a scenario name or path")
    base_path = _scenario_path(base_name) if base_name in shipped_scenarios() else (path.parent / base_name)
    if not base_path.is_file():
        raise ScenarioError(f"scenario {path}: extends {base_name!r}, which is not found")
    base = _read_with_extends(base_path.resolve(), seen)
    # The base's relative frame folder is relative to the base file, so resolve it before merging.
    src = base.get("camera", {}).get("source")
    if isinstance(src, str) and src != "synthetic":
        base["camera"]["source"] = str((base_path.parent / src).resolve())
    return _merge(base, raw)


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = _list_item(node, part, where)
        else:
            if part not in node:
                node[part] = [] if part == "stations" else {}
            node = node[part]
        if not isinstance(node, dict | list):
            raise ScenarioError(f"--set {dotted}: {where} is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        index = _list_index(node, last, dotted)
        node[index] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError(f"{where}: no item {part!r} (the list has {len(node)} items, indexed from 0)")
    return int(part)


def _list_item(node: list, part: str, where: str) -> Any:
    return node[_list_index(node, part, where)]


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _build(cls: type, raw: Any, prefix: str) -> Any:
    """Validate ``raw`` against dataclass ``cls`` (keys, types, bounds) and construct it."""
    where = prefix.rstrip(".") or "scenario"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a table of keys, got {type(raw).__name__}")
    known = _fields(cls)
    for key in raw:
        if key not in known:
            guess = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {prefix}{guess[0]}?)" if guess else ""
            raise ScenarioError(f"unknown key {prefix}{key}{hint}")
    values: dict[str, Any] = {}
    for name, fld in known.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        value = raw[name]
        sub = _dataclass_type(cls, name)
        if name == "stations":
            if not isinstance(value, list):
                raise ScenarioError("stations: expected an array of tables ([[stations]])")
            values[name] = tuple(_build(StationConfig, s, f"stations.{i}.") for i, s in enumerate(value))
        elif sub is not None:
            values[name] = _build(sub, value, f"{key}.")
        else:
            values[name] = _coerce(key, value, fld)
    return cls(**values)


def _dataclass_type(cls: type, name: str) -> type | None:
    sub = {"orbit": OrbitConfig, "camera": CameraConfig, "codec": CodecConfig, "cpu": CpuConfig,
           "storage": StorageConfig, "radio": RadioConfig, "link": LinkConfig, "ground": GroundConfig,
           "synthetic": SyntheticConfig, "faults": FaultsConfig}
    return sub.get(name) if cls in (Scenario, CameraConfig) else None


def _coerce(key: str, value: Any, fld: dataclasses.Field) -> Any:
    meta = fld.metadata
    if meta.get("parse"):
        return meta["parse"](key, value)
    kind = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()
    hint = str(fld.type)
    if isinstance(kind, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"{key} must be true or false (got {value!r})")
        return value
    if isinstance(kind, list):
        return _windows(key, value)
    if isinstance(kind, str):
        if not isinstance(value, str):
            raise ScenarioError(f"{key} must be a string (got {value!r})")
        if meta["choices"] and value not in meta["choices"]:
            raise ScenarioError(f"{key} must be one of {', '.join(meta['choices'])} (got {value!r})")
        return value
    want_int = hint.startswith("int")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{key} must be a number{' (integer)' if want_int else ''} (got {value!r})")
    if want_int:
        if float(value) != int(value):
            raise ScenarioError(f"{key} must be an integer (got {value!r})")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ScenarioError(f"{key} must be a finite number (got {value!r})")
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and (value < lo or (meta["lo_open"] and value == lo)):
        raise ScenarioError(f"{key} must be {'>' if meta['lo_open'] else '>='} {lo:g} (got {value:g})")
    if hi is not None and (value > hi or (meta["hi_open"] and value == hi)):
        raise ScenarioError(f"{key} must be {'<' if meta['hi_open'] else '<='} {hi:g} (got {value:g})")
    return value


def _windows(key: str, value: Any) -> list[list[float]]:
    bad = ScenarioError(f"{key} must be a list of [start, end] pairs in seconds with 0 <= start < end")
    if not isinstance(value, list):
        raise bad
    out = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair)):
            raise bad
        start, end = float(pair[0]), float(pair[1])
        if not 0 <= start < end:
            raise bad
        out.append([start, end])
    return out


def _check(s: Scenario) -> None:
    """Rules that involve several keys, or the file system."""
    o = s.orbit
    parse_epoch(o.epoch)
    if o.kind == "schedule":
        if not o.schedule_windows_s:
            raise ScenarioError("orbit.schedule_windows_s: a schedule orbit needs at least one [start, end] window")
        ends = sorted(o.schedule_windows_s)
        for (a0, a1), (b0, _b1) in zip(ends, ends[1:], strict=False):
            if b0 < a1:
                raise ScenarioError(f"orbit.schedule_windows_s: windows [{a0:g}, {a1:g}] and [{b0:g}, ...] overlap")
        if ends[-1][1] > o.schedule_period_s:
            raise ScenarioError("orbit.schedule_windows_s: a window ends after orbit.schedule_period_s")
    else:
        if not s.stations:
            raise ScenarioError("stations: an orbiting scenario needs at least one [[stations]] entry")
        if o.kind == "tle" and not (o.tle_line1.startswith("1 ") and o.tle_line2.startswith("2 ")):
            raise ScenarioError("orbit.tle_line1/tle_line2: kind = 'tle' needs both TLE lines")
    folder = s.frame_folder()
    if folder is not None:
        if not folder.is_dir():
            raise ScenarioError(f"camera.source: frame folder not found: {folder}")
        try:
            names = list(folder.iterdir())
        except OSError as exc:
            raise ScenarioError(f"camera.source: cannot read {folder} ({exc.strerror or exc})") from None
        if not any(p.suffix.lower() in FRAME_SUFFIXES for p in names):
            raise ScenarioError(f"camera.source: no FITS files (*.fits, *.fit, *.fts) in {folder}")
    if s.cpu.eclipse_duty_cycle == 0 and s.camera.capture == "eclipse":
        raise ScenarioError("cpu.eclipse_duty_cycle = 0 with camera.capture = 'eclipse': nothing could be coded")


def schema_keys() -> list[tuple[str, Any, str, str]]:
    """(dotted key, default, unit, meaning) for every scenario key: what docs/simulator.md documents."""
    out: list[tuple[str, Any, str, str]] = []

    def walk(cls: type, prefix: str) -> None:
        for name, fld in _fields(cls).items():
            sub = _dataclass_type(cls, name)
            if sub is not None:
                walk(sub, f"{prefix}{name}.")
            elif name == "stations":
                walk(StationConfig, "stations.N.")
            else:
                default = fld.default if fld.default is not dataclasses.MISSING else fld.default_factory()
                out.append((f"{prefix}{name}", default, fld.metadata.get("unit", ""), fld.metadata.get("doc", "")))

    walk(Scenario, "")
    return out
