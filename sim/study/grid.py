"""A trade study's definition and its grid: what to sweep, validated up front, expanded into seeded cells.

Why validate everything before anything runs: a study is minutes to hours of compute, and a typo in a sweep key
(``radio.rate_bsp``) or an impossible value found in cell 37 would waste them and leave a half-written folder.
So every combination of swept values is resolved through :func:`sim.scenario.load_scenario` (the simulator's
own strict schema) before the output folder is created; any problem is one :class:`StudyError` line.

Why seeds come from hashes: a cell's random draws (link losses, missed passes) must not depend on which worker
ran it or in what order, or a Dask run and a local run would disagree. Each cell's seed is a hash of the
scenario, the fixed overrides, the swept values and the seed index. The codec is deliberately left out of the
seed: the codecs of one configuration see the same channel and the same missed passes (common random numbers),
so "rice brings home 2.1x raw" compares codecs, not luck.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from flight.codecs.registry import CODEC_CHOICES
from flight.errors import InputError
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_duration, parse_value

FIDELITIES = ("statistical", "exact")

#: Keys whose smaller value is the cheaper spacecraft or ground segment, in the order a mission designer would
#: give up money first; "cheapest configuration" compares swept keys in this order, then any other swept key
#: in the order the study lists them. Strings (e.g. ``cpu.profile``) are cheaper the earlier they are listed.
DEFAULT_COST_ORDER = (
    "radio.rate_bps",
    "storage.capacity_bytes",
    "storage.raw_capacity_bytes",
    "cpu.cores",
    "cpu.clock_hz",
    "cpu.profile",
    "cpu.duty_cycle",
    "cpu.eclipse_duty_cycle",
)


class StudyError(InputError):
    """A study that cannot be run as given; the message is one line naming the option or key."""


@dataclass(frozen=True)
class Sweep:
    """One swept scenario key and its values, in the order given (which is also the plot order)."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class StudySpec:
    """Everything that decides a study's results (and, for the report, how they are summarised)."""

    scenario: str
    codecs: tuple[str, ...]
    sweeps: tuple[Sweep, ...]
    fixed: tuple[tuple[str, Any], ...] = ()
    duration_s: float = 7 * 86400.0
    seeds: int = 1
    fidelity: str = "statistical"
    target_frames_per_day: float | None = None
    cost_order: tuple[str, ...] = ()
    heatmap_axes: tuple[str, str] | None = None
    title: str = ""
    runner: str = "sim.study.cell:run_engine"

    @property
    def swept_keys(self) -> list[str]:
        return [s.key for s in self.sweeps]

    def to_dict(self) -> dict:
        """JSON-friendly form, written to DIR/study.json and stated in the report."""
        return {
            "scenario": self.scenario,
            "codecs": list(self.codecs),
            "sweep": {s.key: list(s.values) for s in self.sweeps},
            "set": dict(self.fixed),
            "duration_s": self.duration_s,
            "seeds": self.seeds,
            "fidelity": self.fidelity,
            "target_frames_per_day": self.target_frames_per_day,
            "cost_order": list(self.effective_cost_order()),
            "heatmap_axes": list(self.heatmap_axes) if self.heatmap_axes else None,
            "title": self.title,
        }

    def effective_cost_order(self) -> list[str]:
        """The swept keys in the order that decides "cheapest" (see :data:`DEFAULT_COST_ORDER`)."""
        order = [k for k in self.cost_order if k in self.swept_keys]
        order += [k for k in DEFAULT_COST_ORDER if k in self.swept_keys and k not in order]
        order += [k for k in self.swept_keys if k not in order]
        return order


@dataclass(frozen=True)
class Cell:
    """One simulation: a configuration (swept values), a codec and a seed index."""

    cell_id: str
    config_id: str
    codec: str
    params: dict[str, Any] = field(hash=False)
    seed_index: int = 0
    seed: int = 0

    def label(self) -> str:
        """Human-readable identity for progress lines and failure reports."""
        params = " ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"codec={self.codec} {params} seed#{self.seed_index}".replace("  ", " ")


# -- parsing --------------------------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """Split ``0.5e6,1e6,[1,2]`` on top-level commas (brackets and quotes keep theirs)."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_sweep_arg(text: str) -> Sweep:
    """``radio.rate_bps=0.5e6,1e6`` -> Sweep; an empty value list or a missing ``=`` is a StudyError."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise StudyError(f"--sweep {text!r}: expected KEY=V1,V2,... e.g. radio.rate_bps=0.5e6,1e6,2e6")
    items = [v for v in split_values(values) if v != ""]
    if not items:
        raise StudyError(f"--sweep {key}: empty sweep (give at least one value, e.g. {key}=1,2)")
    return Sweep(key, tuple(parse_value(v) for v in items))


def parse_codecs(text: str | Iterable[str]) -> tuple[str, ...]:
    """``raw,rice,idf`` -> ("raw", "rice", "idf"); an unknown or repeated codec is a StudyError."""
    names = [c.strip() for c in (text.split(",") if isinstance(text, str) else text)]
    names = [c for c in names if c]
    if not names:
        raise StudyError("--codecs: no codec given (choose from " + ", ".join(CODEC_CHOICES) + ")")
    for name in names:
        if name not in CODEC_CHOICES:
            raise StudyError(f"--codecs: unknown codec {name!r} (choose from {', '.join(CODEC_CHOICES)})")
    if len(set(names)) != len(names):
        raise StudyError(f"--codecs: codec listed twice in {','.join(names)}")
    return tuple(names)


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """TOML ``[sweep] radio.rate_bps = [...]`` nests; quoted ``"radio.rate_bps"`` does not. Accept both."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class StudyFile(BaseModel):
    """The keys a study file may hold: the command-line options of the same names (values are checked with the
    command line's, by :func:`build_spec`), ``orbit`` as another name for ``scenario``, and the ``[sweep]`` and
    ``[set]`` tables of scenario keys."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scenario: Any = None
    orbit: Any = None
    codecs: Any = None
    duration: Any = None
    seeds: Any = None
    fidelity: Any = None
    target_frames_per_day: Any = None
    sweep: dict[str, Any] | None = None
    fixed: dict[str, Any] | None = Field(None, alias="set")
    cost_order: Any = None
    heatmap_axes: Any = None
    title: Any = None
    workers: Any = None


STUDY_FILE_KEYS = frozenset(info.alias or name for name, info in StudyFile.model_fields.items())


def read_study_file(path: str | Path) -> dict[str, Any]:
    """A TOML study file as the same option dict the command line builds (keys as in STUDY_FILE_KEYS)."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"--study {path}: file not found") from None
    except OSError as exc:
        raise StudyError(f"--study {path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"--study {path}: not valid TOML ({exc})") from None
    if "scheduler" in raw:  # connecting to a cluster runs its code in this process: the user's choice only
        raise StudyError(f"--study {path}: 'scheduler' is taken from the command line only (--scheduler ADDRESS); "
                         "a study file cannot choose a Dask cluster (docs/trade_study.md, Trust)")
    try:
        StudyFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key = str(err["loc"][0])
        if err["type"] == "extra_forbidden":
            guess = difflib.get_close_matches(key, sorted(STUDY_FILE_KEYS), n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            raise StudyError(f"--study {path}: unknown key {key!r} ({hint}known: {', '.join(sorted(STUDY_FILE_KEYS))})"
                             ) from None
        raise StudyError(f"--study {path}: [{key}] must be a table of KEY = value(s)") from None
    opts: dict[str, Any] = dict(raw)
    if "orbit" in opts:
        opts.setdefault("scenario", opts.pop("orbit"))
    scen = opts.get("scenario")
    if isinstance(scen, str) and (scen.endswith(".toml") or "/" in scen) and not Path(scen).is_absolute():
        opts["scenario"] = str((p.parent / scen).resolve())
    for table in ("sweep", "set"):
        if table in opts:
            opts[table] = _flatten(opts[table])
    for key, values in opts.get("sweep", {}).items():
        if not isinstance(values, list):
            raise StudyError(f"--study {path}: sweep {key} must be a list of values")
        if not values:
            raise StudyError(f"--sweep {key}: empty sweep (give at least one value)")
    return opts


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


class RunOptions(BaseModel):
    """How many runs of what kind each configuration gets (from the command line or the study file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seeds: Annotated[int, BeforeValidator(_count)] = Field(1, ge=1)
    fidelity: Literal[FIDELITIES] = "statistical"
    target_frames_per_day: Annotated[float, BeforeValidator(_positive)] | None = Field(None, gt=0)


_RUN_OPTION_ERRORS = {
    "seeds": "--seeds must be an integer >= 1 (got {!r})",
    "fidelity": f"--fidelity must be one of {', '.join(FIDELITIES)} (got {{!r}})",
    "target_frames_per_day": "--target-frames-per-day must be a number > 0 (got {!r})",
}


def _run_options(opts: dict[str, Any]) -> RunOptions:
    """The seeds, fidelity and target of ``opts`` validated; the first bad one is a one-line StudyError."""
    given = {"seeds": opts.get("seeds", 1), "fidelity": opts.get("fidelity") or "statistical",
             "target_frames_per_day": opts.get("target_frames_per_day")}
    try:
        return RunOptions.model_validate(given)
    except ValidationError as exc:
        name = str(exc.errors(include_url=False)[0]["loc"][0])
        raise StudyError(_RUN_OPTION_ERRORS[name].format(given[name])) from None


# -- building and validating ----------------------------------------------------------------------------------


def build_spec(opts: dict[str, Any]) -> StudySpec:
    """Validate an option dict (from the command line and/or a study file) into a StudySpec.

    Every combination of swept values is loaded through the simulator's scenario schema, so an unknown key, a
    value out of range or a combination the scenario rules refuse fails here, before any output exists.
    """
    scenario = opts.get("scenario")
    if not scenario:
        raise StudyError("no scenario: give --orbit NAME, --scenario FILE or scenario = ... in the study file")
    codecs = parse_codecs(opts.get("codecs") or "raw,rice")
    sweeps = _sweeps(opts.get("sweep") or {})
    fixed = tuple((str(k), parse_value(v) if isinstance(v, str) else v) for k, v in (opts.get("set") or {}).items())
    for key, _ in fixed:
        if key in {s.key for s in sweeps}:
            raise StudyError(f"--set {key}: the key is also swept; give it in one place only")
    try:
        duration_s = parse_duration(opts.get("duration", "7d"))
    except ScenarioError as exc:
        raise StudyError(f"--duration: {exc}") from None
    runs = _run_options(opts)
    spec = StudySpec(
        scenario=str(scenario), codecs=codecs, sweeps=sweeps, fixed=fixed, duration_s=duration_s, seeds=runs.seeds,
        fidelity=runs.fidelity, target_frames_per_day=runs.target_frames_per_day,
        cost_order=tuple(opts.get("cost_order") or ()), title=str(opts.get("title") or ""),
        heatmap_axes=_heatmap_axes(opts.get("heatmap_axes"), [s.key for s in sweeps]),
        runner=str(opts.get("runner") or StudySpec.runner),
    )
    for key in spec.cost_order:
        if key not in spec.swept_keys:
            raise StudyError(f"cost_order: {key} is not a swept key ({', '.join(spec.swept_keys) or 'none'})")
    return normalise(spec)


def _sweeps(table: dict[str, Any]) -> tuple[Sweep, ...]:
    out = []
    for key, values in table.items():
        sweep = values if isinstance(values, Sweep) else Sweep(key, tuple(values))
        if not sweep.values:
            raise StudyError(f"--sweep {key}: empty sweep (give at least one value)")
        out.append(sweep)
    keys = [s.key for s in out]
    for key in keys:
        if keys.count(key) > 1:
            raise StudyError(f"--sweep {key}: swept twice; give all its values in one --sweep")
    return tuple(out)


def _heatmap_axes(value: Any, swept: list[str]) -> tuple[str, str] | None:
    if value is None:
        return None
    axes = split_values(value) if isinstance(value, str) else list(value)
    if len(axes) != 2 or len(set(axes)) != 2:
        raise StudyError(f"--heatmap must name two different swept keys (got {value!r})")
    for key in axes:
        if key not in swept:
            raise StudyError(f"--heatmap: {key} is not a swept key ({', '.join(swept) or 'none'})")
    return axes[0], axes[1]


def check_frame_sources(spec: StudySpec) -> None:
    """Every frame folder the study's configurations name holds frames the camera can deliver.

    The scenario schema checks only that a folder exists and holds ``*.fits`` names; whether those files are
    FITS, complete, and integer is known only by reading them. Reading each distinct folder once here turns a
    float or truncated frame into one StudyError before the output folder exists, not a failure in every cell.
    """
    from sim.world.sources import make_source

    seen: set[str] = set()
    for params in configurations(spec):
        scenario = load_cell_scenario(spec, params)
        if scenario.camera.source in seen:
            continue
        seen.add(scenario.camera.source)
        try:
            make_source(scenario)
        except ScenarioError as exc:
            where = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items() if k == "camera.source")
            raise StudyError(f"--sweep {where}: {exc}" if where else str(exc)) from None


def load_cell_scenario(spec: StudySpec, params: dict[str, Any]) -> Scenario:
    """The scenario one configuration runs: the study's scenario, its fixed overrides, then the swept values."""
    overrides = dict(spec.fixed)
    overrides.update(params)
    return load_scenario(spec.scenario, overrides)


def normalise(spec: StudySpec) -> StudySpec:
    """Check every key and combination against the scenario schema; store swept values as the schema coerced them.

    Normalising matters for reproducibility: ``2000000`` and ``2e6`` are the same radio, so they must give the
    same cell id and the same seed.
    """
    try:
        load_scenario(spec.scenario, dict(spec.fixed))
    except ScenarioError as exc:
        raise StudyError(_scenario_message(exc, spec, None)) from None
    sweeps = []
    for sweep in spec.sweeps:
        coerced = []
        for value in sweep.values:
            try:
                scen = load_scenario(spec.scenario, {**dict(spec.fixed), sweep.key: value})
            except ScenarioError as exc:
                raise StudyError(_scenario_message(exc, spec, sweep.key)) from None
            coerced.append(resolved_value(scen, sweep.key))
        if len(set(map(_canon, coerced))) != len(coerced):
            raise StudyError(f"--sweep {sweep.key}: a value is listed twice ({', '.join(map(_fmt, coerced))})")
        sweeps.append(Sweep(sweep.key, tuple(coerced)))
    spec = replace(spec, sweeps=tuple(sweeps), scenario=_scenario_identity(spec.scenario))
    for params in configurations(spec):
        try:
            load_cell_scenario(spec, params)
        except ScenarioError as exc:
            combo = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
            raise StudyError(f"sweep combination {combo}: {_strip_set(str(exc))}") from None
    return spec


def _scenario_identity(text: str) -> str:
    """A shipped name stays a name; a file becomes an absolute path (workers may run in another directory)."""
    from sim.scenario import shipped_scenarios

    return text if text in shipped_scenarios() else str(Path(text).resolve())


def _strip_set(msg: str) -> str:
    """The loader prefixes override errors with ``--set``; a swept value did not come from --set."""
    return re.sub(r"^--set:?\s*", "", msg)


def _scenario_message(exc: ScenarioError, spec: StudySpec, key: str | None) -> str:
    """The scenario loader's message, re-attributed: a swept key's error names ``--sweep KEY``, not ``--set``."""
    msg = str(exc)
    if key is None:
        return msg
    msg = _strip_set(msg)
    return msg if msg.startswith(f"--sweep {key}") else f"--sweep {key}: {msg}"


def resolved_value(scenario: Scenario, key: str) -> Any:
    """The value a dotted key has in a resolved scenario (``stations.0.min_elevation_deg`` indexes lists)."""
    node: Any = scenario.to_dict()
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def scenario_inputs(scenario: Scenario) -> dict[str, Any]:
    """Every resolved scenario value as flat ``dotted.key -> scalar`` (lists of numbers as JSON text)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
            for i, v in enumerate(node):
                walk(v, f"{prefix}{i}.")
        elif isinstance(node, list):
            out[prefix[:-1]] = json.dumps(node)
        else:
            out[prefix[:-1]] = node

    walk(scenario.to_dict(), "")
    return out


# -- grid -------------------------------------------------------------------------------------------------------


def configurations(spec: StudySpec) -> list[dict[str, Any]]:
    """Every combination of swept values (the first sweep varies slowest), as ordered dicts."""
    keys = spec.swept_keys
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(s.values for s in spec.sweeps))]


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(obj: Any) -> str:
    return hashlib.sha256(_canon(obj).encode()).hexdigest()


def config_id(spec: StudySpec, params: dict[str, Any]) -> str:
    """Stable id of a configuration (scenario + fixed overrides + swept values), independent of codec and seed."""
    return _digest({"scenario": spec.scenario, "fixed": dict(spec.fixed), "params": params})[:12]


def cell_seed(spec: StudySpec, params: dict[str, Any], seed_index: int) -> int:
    """The seed of (configuration, seed index): a 31-bit integer from a hash, the same on every machine."""
    digest = _digest({"scenario": spec.scenario, "fixed": dict(spec.fixed), "params": params, "seed": seed_index})
    return int(digest[:8], 16) & 0x7FFFFFFF


# Cell ids hash the runner by name; the engine runner keeps the name it had when ids were first published
# (results.csv, cells/<cell_id>.json), so moving its module does not change any study's ids or its resume.
_RUNNER_IDS = {StudySpec.runner: "sim.study_cell:run_engine"}


def expand(spec: StudySpec) -> list[Cell]:
    """All cells of the study in a fixed order: configuration, then codec, then seed index."""
    cells = []
    for params in configurations(spec):
        cid = config_id(spec, params)
        for codec in spec.codecs:
            for i in range(spec.seeds):
                seed = cell_seed(spec, params, i)
                ident = _digest({"config": cid, "codec": codec, "seed": seed, "duration_s": spec.duration_s,
                                 "fidelity": spec.fidelity, "runner": _RUNNER_IDS.get(spec.runner, spec.runner)})[:16]
                cells.append(Cell(ident, cid, codec, dict(params), i, seed))
    return cells


def _fmt(value: Any) -> str:
    """Short human form of a swept value: ``500000.0`` -> ``5e5``, ``3.2e10`` -> ``3.2e10``, ``0.01`` -> ``0.01``."""
    if isinstance(value, float):
        if value and (abs(value) >= 1e5 or abs(value) < 1e-3):
            mantissa, _, exp = f"{value:.6e}".partition("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
        return f"{value:g}"
    return str(value)


fmt_value = _fmt
