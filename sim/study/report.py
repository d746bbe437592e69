"""The study report: one document model rendered twice, as report.md and a self-contained report.html.

Why one model for both: the Markdown (for a repository or a review ticket) and the HTML (mailed, opened offline)
must say the same numbers, so both render the same list of blocks. The HTML embeds every figure as base64 PNG
and has no external URL, so it opens on a laptop with no network; a tiny inline script marks
``<body data-images-loaded="k/n">`` once the page has loaded, which the browser test reads.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.study.grid import StudySpec, fmt_value
from sim.study.plots import Figure
from sim.study.results import Stat, Summary, describe_params, unit_label
from tools.files import write_atomic

# -- document model ---------------------------------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    ident: str = ""


@dataclass
class Image:
    figure: Figure


@dataclass
class Code:
    text: str


Block = Heading | Para | Bullets | Table | Image | Code


@dataclass
class ReportContext:
    """What the report states besides the numbers: its inputs, its software, how it was run."""

    spec: StudySpec
    summary: Summary
    figures: list[Figure]
    skipped_figures: list[str]
    scenario_name: str = ""
    scenario_description: str = ""
    software: str = ""
    model_hash: str = ""
    calibration: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # DIR/runs.json: every invocation on this folder
    cell_compute_s: float = 0.0
    command: str = ""
    generated: str = ""


CALIBRATION_COLUMNS = ("codec", "cpu_profile", "frame", "coded_as", "raw_bytes", "coded_bytes", "ratio", "packets",
                       "escaped_tiles", "cycles_per_pixel", "cpu_s_per_frame")

# -- numbers as text --------------------------------------------------------------------------------------------


def fmt_frames(st: Stat | None) -> str:
    """``41.3 (40.9-41.8)``: mean verified frames/day and the seed range (range omitted for one seed)."""
    if st is None:
        return "n/a"
    if st.n == 1 or st.lo == st.hi:
        return f"{st.mean:.1f}"
    return f"{st.mean:.1f} ({st.lo:.1f}-{st.hi:.1f})"


def fmt_gain(st: Stat | None) -> str:
    return "n/a" if st is None else f"{st.mean:.2f}x"


def headline_sentences(summary: Summary) -> list[str]:
    """How much more science per day each codec brings home than raw, at each value of the primary axis."""
    entries = summary.headline()
    key = summary.primary
    codecs = [c for c in summary.codecs() if c != "raw"]
    where = (lambda e: f"at {unit_label(key, e['x'])}") if key else (lambda e: "")
    if "raw" not in summary.codecs():
        out = []
        for codec in summary.codecs():
            parts = [(fmt_frames(e["codecs"][codec]["verified_per_day"]), where(e)) for e in entries]
            first = f"{parts[0][0]} verified frames per day {parts[0][1]}".strip()
            rest = [f"{n} {w}".strip() for n, w in parts[1:]]
            out.append(f"{codec} brings home {_and([first, *rest])} (raw was not studied, so there is no gain "
                       "over raw to give).")
        return out
    out = []
    for codec in codecs:
        parts, failed = [], ""
        for e in entries:
            c, raw = e["codecs"][codec], e["codecs"]["raw"]
            if c["verified_per_day"] is None or raw["verified_per_day"] is None or c["gain"] is None:
                failed = failed or c["error"] or raw["error"] or "no successful cell"
                continue
            extra = c["verified_per_day"].mean - raw["verified_per_day"].mean
            parts.append(f"{c['gain'].mean:.2f}x {where(e)} ({extra:+.1f}/day)".replace("  ", " "))
        if parts:
            out.append(f"{codec} brings home " + ", ".join(parts) + " as many verified frames per day as raw.")
        else:
            out.append(f"{codec}: no result ({failed}).")
    if not codecs:
        out.append("Only raw was studied: no codec to compare.")
    return out


def _and(items: list[str]) -> str:
    """``["a"]`` -> ``a``; ``["a", "b", "c"]`` -> ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def plural(n: float, word: str) -> str:
    """``1 seed``, ``2 seeds``, ``0.5 days``: the number (%g) and the word, with an s unless the number is 1."""
    return f"{n:g} {word}" if n == 1 else f"{n:g} {word}s"


# -- document ---------------------------------------------------------------------------------------------------


def build_document(ctx: ReportContext) -> list[Block]:
    """The report's blocks, in reading order: headline, inputs, cheapest configuration, figures, all results."""
    s, spec = ctx.summary, ctx.spec
    title = spec.title or f"Bandwidth trade study: {ctx.scenario_name or spec.scenario}"
    days = spec.duration_s / 86400.0
    doc: list[Block] = [Heading(1, title)]
    configs = len(s.groups) // max(1, len(spec.codecs))
    doc.append(Para(f"{plural(len(s.rows), 'cell')} ({plural(configs, 'configuration')} x "
                    f"{plural(len(spec.codecs), 'codec')} x {plural(spec.seeds, 'seed')}), "
                    f"{plural(days, 'simulated day')} each, {spec.fidelity} fidelity. Generated {ctx.generated}."))
    doc.append(Heading(2, "Headline"))
    doc.extend(Para(t) for t in headline_sentences(s))
    ref = s.slice([s.primary] if s.primary else [])
    if ref:
        doc.append(Para(f"Other swept keys held at the reference slice: {describe_params(ref)} (the scenario's own "
                        "value where it is swept, else the first value listed)."))
    doc.append(_headline_table(s))
    doc.extend(_cheapest(s))
    doc.append(Heading(2, "Figures"))
    for fig in ctx.figures:
        doc.append(Heading(3, fig.title))
        doc.append(Image(fig))
        doc.append(Para(fig.caption))
    if ctx.skipped_figures:
        doc.append(Para("Not drawn: " + "; ".join(ctx.skipped_figures) + "."))
    doc.extend(_inputs(ctx))
    doc.append(Heading(2, "All configurations"))
    doc.append(Para("Mean over seeds (range in brackets); every seed's numbers and every input are in results.csv."))
    doc.append(_all_table(s))
    doc.extend(_failures(s))
    doc.extend(_execution(ctx))
    return doc


def _headline_table(s: Summary) -> Table:
    key = s.primary
    codecs = s.codecs()
    headers = [key or "configuration"] + [f"{c} verified/day" for c in codecs]
    headers += [f"{c} vs raw" for c in codecs if c != "raw" and "raw" in codecs]
    rows = []
    for e in s.headline():
        row = [unit_label(key, e["x"]) if key else "as given"]
        row += [fmt_frames(e["codecs"][c]["verified_per_day"]) if not e["codecs"][c]["error"] else "failed"
                for c in codecs]
        row += [fmt_gain(e["codecs"][c]["gain"]) for c in codecs if c != "raw" and "raw" in codecs]
        rows.append(row)
    return Table(headers, rows, "headline-table")


def _cheapest(s: Summary) -> list[Block]:
    target = s.spec.target_frames_per_day
    out: list[Block] = [Heading(2, "Cheapest configuration per codec")]
    order = s.spec.effective_cost_order()
    if target is None:
        out.append(Para("No target given (--target-frames-per-day N): no cheapest-configuration table."))
        return out
    rule = ", then ".join(f"lowest {k}" if _numeric(s, k) else f"earliest listed {k}" for k in order)
    out.append(Para(f"Target: >= {target:g} verified frames per day in every seed. \"Cheapest\" means: {rule or 'n/a'}"
                    " (compared in that order; the first difference decides)."))
    rows = []
    for codec, best in s.cheapest(target).items():
        if best is None:
            g_errors = sorted({r["error"] for r in s.rows if r["codec"] == codec and r["status"] != "ok"})
            why = f"failed: {g_errors[0]}" if g_errors and all(
                r["status"] != "ok" for r in s.rows if r["codec"] == codec) else "no swept configuration reaches it"
            rows.append([codec] + ["-"] * len(order) + [why])
        else:
            rows.append([codec] + [unit_label(k, best["params"][k]) for k in order]
                        + [fmt_frames(best["verified_per_day"])])
    out.append(Table(["codec"] + order + ["verified/day"], rows, "cheapest-table"))
    return out


def _numeric(s: Summary, key: str) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in s.values(key))


def _inputs(ctx: ReportContext) -> list[Block]:
    spec = ctx.spec
    items = [
        f"Scenario: {ctx.scenario_name}" + (f" ({spec.scenario})" if spec.scenario != ctx.scenario_name else "")
        + (f": {ctx.scenario_description}" if ctx.scenario_description else ""),
        "Fixed overrides: " + (describe_params(dict(spec.fixed)) if spec.fixed else "none"),
        "Sweep: " + ("; ".join(f"{sw.key} = {', '.join(fmt_value(v) for v in sw.values)}" for sw in spec.sweeps)
                     or "none"),
        "Codecs: " + ", ".join(spec.codecs),
        f"Seeds: {spec.seeds} per configuration; each seed is a hash of (scenario, overrides, swept values, seed "
        "index), shared by the codecs of a configuration so they see the same channel and missed passes",
        f"Duration: {spec.duration_s:g} s ({plural(spec.duration_s / 86400, 'day')}) per cell",
        f"Fidelity: {spec.fidelity}",
        f"Software: {ctx.software}",
        f"IDF model bundle: {ctx.model_hash}" if "idf" in spec.codecs else "IDF model bundle: not used",
    ]
    out: list[Block] = [Heading(2, "Inputs"), Bullets(items)]
    if spec.fidelity == "statistical":
        out.append(Heading(3, "Calibration table (statistical fidelity)"))
        if ctx.calibration:
            out.extend(_calibration(ctx.calibration))
            out.append(Para("Per-frame compression ratio and CPU time are drawn from this table, measured by real "
                            "encodes of the scenario's frame source."))
        else:
            out.append(Para("The engine reported no calibration table for these cells."))
    if ctx.command:
        out.append(Heading(3, "Command"))
        out.append(Code(ctx.command))
    return out


#: Calibration column headers as a reader says them (the table must fit the page: no sideways scrolling).
CALIBRATION_HEADERS = {"cpu_profile": "CPU", "coded_as": "coded as", "raw_bytes": "raw bytes",
                       "coded_bytes": "coded bytes", "escaped_tiles": "escaped tiles",
                       "cycles_per_pixel": "cycles/pixel", "cpu_s_per_frame": "CPU s/frame"}


def _calibration(rows: list[dict[str, Any]]) -> list[Block]:
    """The calibration table narrow enough for the page: a column with one value in every row (the CPU profile,
    the raw frame size, no escaped tiles, frames coded as their codec) is said once in a sentence above it."""
    cols = [c for c in CALIBRATION_COLUMNS if any(c in row for row in rows)]
    cols += sorted({k for row in rows for k in row} - set(cols))
    same = {c: _short(rows[0].get(c)) for c in cols
            if len(rows) > 1 and c not in ("codec", "frame") and len({_short(r.get(c)) for r in rows}) == 1}
    coded_as_codec = "coded_as" in cols and all(r.get("coded_as") == r.get("codec") for r in rows)
    if coded_as_codec:
        same.pop("coded_as", None)
    shown = [c for c in cols if c not in same and not (c == "coded_as" and coded_as_codec)]
    out: list[Block] = []
    said = [f"{CALIBRATION_HEADERS.get(c, c)} {v}" for c, v in same.items()]
    if coded_as_codec:
        said.append("every frame coded by its own codec")
    if said:
        out.append(Para("In every row: " + ", ".join(said) + "."))
    out.append(Table([CALIBRATION_HEADERS.get(c, c) for c in shown], [[_short(r.get(c)) for c in shown] for r in rows],
                     "calibration"))
    return out


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _all_table(s: Summary) -> Table:
    keys = s.spec.swept_keys
    headers = keys + ["codec", "verified/day", "ratio", "latency p50 (h)", "latency p95 (h)", "storage peak (GB)",
                      "CPU busy", "dropped", "failed"]
    rows = []
    for g in s.groups.values():
        if g.failed:
            rows.append([unit_label(k, g.params[k]) for k in keys] + [g.codec, "failed"] + [""] * 7)
            continue

        def mean(col: str, scale: float = 1.0, fmt: str = "{:.2f}", g: Any = g) -> str:
            st = g.stat(col)
            return fmt.format(st.mean / scale) if st else "n/a"

        dropped = _sum_prefix(g, "metrics.frames.dropped.")
        failed = _sum_prefix(g, "metrics.frames.failed.")
        rows.append([unit_label(k, g.params[k]) for k in keys] + [
            g.codec, fmt_frames(g.stat("verified_per_day")), mean("metrics.compression_ratio"),
            mean("metrics.latency_s.p50", 3600.0, "{:.1f}"), mean("metrics.latency_s.p95", 3600.0, "{:.1f}"),
            mean("metrics.storage_peak_bytes", 1e9, "{:.2f}"), mean("metrics.cpu_utilisation", 0.01, "{:.3g} %"),
            dropped, failed])
    return Table(headers, rows, "all-table")


def _sum_prefix(g: Any, prefix: str) -> str:
    """Mean over seeds of the frames in each named state (``storage_full: 12``), or 0."""
    totals: dict[str, list[float]] = {}
    for r in g.ok_rows:
        for k, v in r.items():
            if k.startswith(prefix) and v not in (None, ""):
                totals.setdefault(k[len(prefix):], []).append(float(v))
    parts = [f"{k}: {sum(v) / len(g.ok_rows):.0f}" for k, v in sorted(totals.items()) if sum(v)]
    return ", ".join(parts) or "0"


def _failures(s: Summary) -> list[Block]:
    bad = s.failures()
    if not bad:
        return []
    rows = [[r["codec"], describe_params({k: r[k] for k in s.spec.swept_keys}), str(r["seed_index"]), r["error"]]
            for r in bad]
    return [Heading(2, "Failed cells"), Para(f"{len(bad)} of {len(s.rows)} cells failed; the others went on."),
            Table(["codec", "parameters", "seed #", "error"], rows, "failed-table")]


def _execution(ctx: ReportContext) -> list[Block]:
    """Every run that filled this folder (a resumed study has several) and the cells' summed compute time."""
    rows = [[r.get("started_utc", ""), r.get("executor", ""), str(r.get("ran", 0)), str(r.get("skipped", 0)),
             str(r.get("failed", 0)), f"{r.get('wall_s', 0.0):.1f}"] for r in ctx.runs]
    out: list[Block] = [Heading(2, "Execution")]
    out.append(Para(f"Cells' own run time, summed over the finished cells: {ctx.cell_compute_s:.1f} s. The wall "
                    "time of a run covers warming the calibration and pass-geometry caches and running its cells, not "
                    "drawing the report."))
    if rows:
        out.append(Table(["run started", "executor", "cells run", "skipped (done before)", "failed", "wall (s)"],
                         rows, "runs-table"))
    return out


# -- rendering --------------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(doc: list[Block], out_dir: Path) -> str:
    """GitHub-flavoured Markdown; figures as relative links into plots/."""
    lines: list[str] = []
    for b in doc:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            lines += [b.text, ""]
        elif isinstance(b, Bullets):
            lines += [f"- {i}" for i in b.items] + [""]
        elif isinstance(b, Table):
            lines.append("| " + " | ".join(map(_md_escape, b.headers)) + " |")
            lines.append("|" + "|".join(" --- " for _ in b.headers) + "|")
            lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in b.rows]
            lines.append("")
        elif isinstance(b, Image):
            rel = b.figure.path.relative_to(out_dir).as_posix()
            lines += [f"![{b.figure.title}]({rel})", ""]
        elif isinstance(b, Code):
            lines += ["```", b.text, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}td{white-space:nowrap}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.4em 0}
code,pre{background:#f6f6f6;padding:.2em .4em;font-size:.88em;white-space:pre-wrap;word-break:break-all}
.scroll{overflow-x:auto}h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
"""

LOAD_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


def render_html(doc: list[Block], title: str) -> str:
    """A single HTML file: inline CSS, figures as data: URIs, no external resources."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{e(title)}</title>",
             f"<style>{CSS}</style>", f"<script>{LOAD_SCRIPT}</script>", "</head><body>"]
    for b in doc:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Bullets):
            parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            ident = f' id="{e(b.ident)}"' if b.ident else ""
            head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            parts.append(f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
                         "</table></div>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.figure.path.read_bytes()).decode("ascii")
            parts.append(f'<img id="fig-{e(b.figure.name)}" alt="{e(b.figure.title)}" '
                         f'src="data:image/png;base64,{data}">')
        elif isinstance(b, Code):
            parts.append(f"<pre><code>{e(b.text)}</code></pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(ctx: ReportContext, out_dir: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into out_dir (the figures must already be in out_dir/plots)."""
    doc = build_document(ctx)
    title = next(b.text for b in doc if isinstance(b, Heading))
    md, page = out_dir / "report.md", out_dir / "report.html"
    write_atomic(md, render_markdown(doc, out_dir))
    write_atomic(page, render_html(doc, title))
    return md, page
