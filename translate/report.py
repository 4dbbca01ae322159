"""`translate report`: aggregates over QC logs (polars), a terminal table (rich) and a self-contained review page.

The QC logs (`*.qc.jsonl`, one row per checked turn, written by `run` and by `check`) are scanned lazily; what is
collected is small: counts per reason and per warning, length-ratio quantiles per role and per file, the Korean
speech-level distribution, quality-estimation scores where a scorer ran, histogram bins, and the worst records.

The page is also where a person reviews the work (`translate.qc.review`): source and translation side by side for
the rejected records (the first `max_rejected`, with the count of the rest) with each reason on its turn, and a
seeded random sample of kept records. Every text on it is escaped.

Charts are PNGs drawn with matplotlib (the optional ``[report]`` extra) and embedded as base64, so the HTML file
needs nothing else: no CDN, no network, no sibling files. Without matplotlib the page has the tables only.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from translate.errors import ConfigError, InputFileError
from translate.qc import QC_LOG_SUFFIX
from translate.qc.review import ReviewRecord, kept_sample, rejected_records
from translate.qc.speech_level import KOREAN_NAMES, LEVELS, POLITE

SCHEMA = {
    "file": pl.Utf8, "index": pl.Int64, "id": pl.Utf8, "role": pl.Utf8, "field": pl.Utf8,
    "src_chars": pl.Int64, "out_chars": pl.Int64, "ratio": pl.Float64, "script": pl.Float64,
    "reasons": pl.List(pl.Utf8), "verdict": pl.Utf8,
    # Written only where there is something to say (absent keys read as null).
    "warnings": pl.List(pl.Utf8), "levels": pl.Struct({level: pl.Int64 for level in LEVELS}), "qe": pl.Float64,
}
MAX_REJECTED = 50  # rejected records shown side by side; the rest are counted
SAMPLE = 20  # kept records drawn for review
TEXT_CAP = 2000  # characters of one text shown on the page
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
RATIO_MAX = 3.0  # histogram range; longer ratios land in the last bin
BIN = 0.05


@dataclass
class Report:
    logs: list[Path]
    overview: dict[str, Any]
    verdicts: pl.DataFrame
    reasons: pl.DataFrame
    ratio_by_role: pl.DataFrame
    ratio_by_file: pl.DataFrame
    ratio_bins: pl.DataFrame
    script: dict[str, Any]
    script_bins: pl.DataFrame
    worst: pl.DataFrame
    warnings: pl.DataFrame  # code, turns, records: findings of warn-level checks, never rejections
    levels: pl.DataFrame  # role, level, sentences, turns: Korean speech levels of the outputs
    mixed_turns: int  # turns whose sentences mix polite and plain levels
    qe: dict[str, Any]  # quality-estimation scores: turns scored, mean, quantiles, rejected as qe_low
    qe_bins: pl.DataFrame
    rejected: list[ReviewRecord]  # the first `max_rejected` rejected records, side by side
    rejected_total: int
    sample: list[ReviewRecord]  # a seeded random sample of kept records
    sample_population: int
    seed: int
    notes: list[str]  # files the review could not read

    def as_dict(self) -> dict[str, Any]:
        return {
            "logs": [str(p) for p in self.logs], "overview": self.overview,
            "verdicts": self.verdicts.to_dicts(), "reasons": self.reasons.to_dicts(),
            "warnings": self.warnings.to_dicts(), "levels": self.levels.to_dicts(), "mixed_turns": self.mixed_turns,
            "qe": self.qe,
            "ratio_by_role": self.ratio_by_role.to_dicts(), "ratio_by_file": self.ratio_by_file.to_dicts(),
            "script": self.script, "worst": self.worst.to_dicts(),
            "review": {"rejected_shown": [(r.log, r.index) for r in self.rejected],
                       "rejected_total": self.rejected_total, "seed": self.seed,
                       "sample": [(r.log, r.index) for r in self.sample], "sample_population": self.sample_population,
                       "notes": self.notes},
        }


def find_logs(target: str | Path, recursive: bool = False) -> list[Path]:
    """The QC logs in a folder (or the one file given). An empty result is an error that says what was looked for."""
    path = Path(target)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder or QC log")
    logs = sorted(path.rglob(f"*{QC_LOG_SUFFIX}") if recursive else path.glob(f"*{QC_LOG_SUFFIX}"))
    if not logs:
        hint = "" if recursive else " (use --recursive to look in subfolders, e.g. a `check` folder)"
        raise ConfigError(f"{path}: no *{QC_LOG_SUFFIX} QC log found{hint}; `translate run` and `translate check` "
                          "write one per file")
    return logs


def build(logs: list[Path], top: int = 20, max_rejected: int = MAX_REJECTED, sample: int = SAMPLE,
          seed: int = 0) -> Report:
    """The aggregates of `logs`, plus the review: the first `max_rejected` rejected records and `sample` kept records
    drawn with `seed` (0 and 0 leave the review out)."""
    lf = pl.scan_ndjson([str(p) for p in logs], schema=SCHEMA)
    try:
        report = _aggregate(lf, logs, top)
        report.sample, report.sample_population, sample_notes = kept_sample(logs, sample, seed, SCHEMA)
    except pl.exceptions.ComputeError as exc:  # a malformed line
        raise InputFileError(", ".join(str(p) for p in logs), f"not a QC log: {str(exc).splitlines()[0]}") from None
    report.rejected, report.rejected_total, rejected_notes = rejected_records(logs, max_rejected)
    report.seed = seed
    report.notes = rejected_notes + sample_notes
    return report


def _aggregate(lf: pl.LazyFrame, logs: list[Path], top: int) -> Report:
    records = (lf.group_by("file", "index")
               .agg(pl.col("verdict").first(), pl.col("reasons").list.len().sum().alias("n_reasons")))
    counts = lf.select(
        turns=pl.col("role").is_not_null().sum(),
        turns_flagged=(pl.col("role").is_not_null() & (pl.col("reasons").list.len() > 0)).sum(),
        files=pl.col("file").n_unique(),
    ).collect().row(0, named=True)
    verdicts = records.group_by("verdict").agg(records=pl.len()).sort("records", descending=True).collect()
    n_records = int(verdicts["records"].sum()) if verdicts.height else 0
    overview = {"files": counts["files"], "records": n_records, "turns": counts["turns"],
                "turns_flagged": counts["turns_flagged"],
                "records_rejected": int(verdicts.filter(pl.col("verdict") == "rejected")["records"].sum())}

    reasons = (lf.select("file", "index", "reasons").explode("reasons").drop_nulls("reasons")
               .group_by(pl.col("reasons").alias("reason"))
               .agg(turns=pl.len(), records=pl.struct("file", "index").n_unique())
               .sort(["turns", "reason"], descending=[True, False]).collect())

    turns = lf.filter(pl.col("ratio").is_not_null() & pl.col("role").is_not_null())
    stats = [pl.len().alias("turns"), pl.col("ratio").mean().alias("mean")]
    stats += [pl.col("ratio").quantile(q, "linear").alias(f"p{round(q * 100):02d}") for q in QUANTILES]
    stats.append(pl.col("reasons").list.contains("length_ratio").mean().alias("flagged"))
    ratio_by_role = turns.group_by("role").agg(stats).sort("role").collect()
    ratio_by_file = turns.group_by("file", "role").agg(stats).sort("file", "role").collect()
    ratio_bins = (turns.select("role", (pl.col("ratio").clip(0, RATIO_MAX - 1e-9) / BIN).floor().cast(pl.Int32)
                               .alias("bin"))
                  .group_by("role", "bin").agg(n=pl.len()).sort("role", "bin").collect())

    shares = lf.filter(pl.col("script").is_not_null() & pl.col("role").is_not_null())
    script_row = shares.select(
        turns=pl.len(), mean=pl.col("script").mean(), p01=pl.col("script").quantile(0.01, "linear"),
        p05=pl.col("script").quantile(0.05, "linear"), p50=pl.col("script").quantile(0.5, "linear"),
        below_60=(pl.col("script") < 0.6).mean(),
    ).collect().row(0, named=True)
    script_bins = (shares.select((pl.col("script").clip(0, 1 - 1e-9) / BIN).floor().cast(pl.Int32).alias("bin"))
                   .group_by("bin").agg(n=pl.len()).sort("bin").collect())

    medians = {r["role"]: r["p50"] for r in ratio_by_role.iter_rows(named=True) if r["p50"]}
    median_expr = pl.col("role").replace_strict(medians, default=None, return_dtype=pl.Float64)
    worst = (lf.with_columns(
                dev=(pl.col("ratio").clip(1e-3, None).log() - median_expr.clip(1e-3, None).log()).abs())
             .group_by("file", "index")
             .agg(pl.col("id").first(), pl.col("verdict").first(),
                  pl.col("reasons").list.len().sum().alias("n_reasons"),
                  pl.col("reasons").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().alias("codes"),
                  pl.col("dev").max().alias("ratio_deviation"))
             .filter(pl.col("n_reasons") > 0)
             .sort(["n_reasons", "ratio_deviation", "file", "index"], descending=[True, True, False, False],
                   nulls_last=True)
             .head(top).collect())
    overview["turns_warned"] = int(lf.select((pl.col("warnings").list.len() > 0).sum()).collect().item() or 0)
    warnings = (lf.select("file", "index", "warnings").explode("warnings").drop_nulls("warnings")
                .group_by(pl.col("warnings").alias("warning"))
                .agg(turns=pl.len(), records=pl.struct("file", "index").n_unique())
                .sort(["turns", "warning"], descending=[True, False]).collect())
    levels, mixed = _levels(lf)
    qe, qe_bins = _qe(lf)
    return Report(logs, overview, verdicts, reasons, ratio_by_role, ratio_by_file, ratio_bins, script_row,
                  script_bins, worst, warnings, levels, mixed, qe, qe_bins, [], 0, [], 0, 0, [])


def _levels(lf: pl.LazyFrame) -> tuple[pl.DataFrame, int]:
    """Sentences and turns per Korean speech level and role, and the turns that mix polite and plain levels."""
    rows = lf.filter(pl.col("levels").is_not_null() & pl.col("role").is_not_null()).select(
        "role", *[pl.col("levels").struct.field(level).fill_null(0).alias(level) for level in LEVELS])
    per_role = rows.group_by("role").agg(
        *[pl.col(level).sum().alias(f"s_{level}") for level in LEVELS],
        *[(pl.col(level) > 0).sum().alias(f"t_{level}") for level in LEVELS]).sort("role").collect()
    table = pl.DataFrame(
        [{"role": r["role"], "level": level, "name": KOREAN_NAMES[level], "sentences": r[f"s_{level}"],
          "turns": r[f"t_{level}"]} for r in per_role.iter_rows(named=True) for level in LEVELS
         if r[f"s_{level}"]],
        schema={"role": pl.Utf8, "level": pl.Utf8, "name": pl.Utf8, "sentences": pl.Int64, "turns": pl.Int64})
    polite = sum(pl.col(level) for level in LEVELS if level in POLITE)
    plain = sum(pl.col(level) for level in LEVELS if level not in POLITE)
    mixed = rows.select(((polite > 0) & (plain > 0)).sum()).collect().item() or 0
    return table, int(mixed)


def _qe(lf: pl.LazyFrame) -> tuple[dict[str, Any], pl.DataFrame]:
    scored = lf.filter(pl.col("qe").is_not_null())
    row = scored.select(
        turns=pl.len(), mean=pl.col("qe").mean(), min=pl.col("qe").min(),
        p05=pl.col("qe").quantile(0.05, "linear"), p50=pl.col("qe").quantile(0.5, "linear"),
        max=pl.col("qe").max(), rejected=pl.col("reasons").list.contains("qe_low").sum(),
    ).collect().row(0, named=True)
    bins = (scored.select((pl.col("qe").clip(0, 1 - 1e-9) / BIN).floor().cast(pl.Int32).alias("bin"))
            .group_by("bin").agg(n=pl.len()).sort("bin").collect())
    return row, bins


# -- terminal ------------------------------------------------------------------------------------------------------

def print_report(report: Report, console) -> None:
    from rich.table import Table

    o = report.overview
    console.print(f"[bold]QC report[/]: {o['files']} file(s), {o['records']:,} records, {o['turns']:,} turns; "
                  f"{o['records_rejected']:,} records rejected, {o['turns_flagged']:,} turns flagged, "
                  f"{o['turns_warned']:,} turns with warnings (not rejections)", highlight=False)
    t = Table(title="reasons")
    for col in ("reason", "turns", "records"):
        t.add_column(col, justify="left" if col == "reason" else "right")
    for r in report.reasons.iter_rows(named=True):
        t.add_row(r["reason"], f"{r['turns']:,}", f"{r['records']:,}")
    if not report.reasons.height:
        t.add_row("(none)", "0", "0")
    console.print(t)
    if report.warnings.height:
        t = Table(title="warnings (logged, not rejected)")
        for col in ("warning", "turns", "records"):
            t.add_column(col, justify="left" if col == "warning" else "right")
        for r in report.warnings.iter_rows(named=True):
            t.add_row(r["warning"], f"{r['turns']:,}", f"{r['records']:,}")
        console.print(t)
    if report.levels.height:
        t = Table(title=f"speech levels (sentences; {report.mixed_turns:,} turns mix polite and plain)")
        for col in ("role", "level", "sentences", "turns"):
            t.add_column(col, justify="left" if col in ("role", "level") else "right")
        for r in report.levels.iter_rows(named=True):
            t.add_row(r["role"], f"{r['name']} ({r['level']})", f"{r['sentences']:,}", f"{r['turns']:,}")
        console.print(t)
    if report.qe["turns"]:
        q = report.qe
        console.print(f"quality estimation: {q['turns']:,} turns scored, mean {_f(q['mean'], 3)}, p05 "
                      f"{_f(q['p05'], 3)}, median {_f(q['p50'], 3)}; {q['rejected']:,} rejected as qe_low",
                      highlight=False)
    t = Table(title="length ratio (output/source characters) per role")
    for col in ("role", "turns", "p01", "p05", "p50", "p95", "p99", "flagged"):
        t.add_column(col, justify="left" if col == "role" else "right")
    for r in report.ratio_by_role.iter_rows(named=True):
        t.add_row(r["role"], f"{r['turns']:,}", *(_f(r[k]) for k in ("p01", "p05", "p50", "p95", "p99")),
                  f"{r['flagged']:.1%}")
    console.print(t)
    if report.worst.height:
        t = Table(title=f"worst records (top {report.worst.height})")
        for col in ("file", "index", "id", "reasons", "ratio dev."):
            t.add_column(col)
        for r in report.worst.iter_rows(named=True):
            t.add_row(Path(r["file"]).name, str(r["index"]), str(r["id"]), ", ".join(r["codes"]),
                      _f(r["ratio_deviation"]))
        console.print(t)


def _f(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


# -- charts ----------------------------------------------------------------------------------------------------------

def charts(report: Report) -> dict[str, str] | None:
    """name → base64 PNG, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    out: dict[str, str] = {}
    for name, draw, height in _CHARTS:
        figure_height = height(report)
        if figure_height is None:
            continue
        fig, ax = plt.subplots(figsize=(5.3, figure_height))
        draw(report, ax, MaxNLocator)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        out[name] = base64.b64encode(buf.getvalue()).decode("ascii")
    return out


def _levels_chart(report: Report, ax, locator) -> None:
    totals: dict[str, int] = {}
    for r in report.levels.iter_rows(named=True):
        totals[r["level"]] = totals.get(r["level"], 0) + r["sentences"]
    names = list(reversed(LEVELS))
    ax.barh([f"{level} ({'polite' if level in POLITE else 'plain'})" for level in names],
            [totals.get(level, 0) for level in names],
            color=["#4f81bd" if level in POLITE else "#c0504d" for level in names])
    ax.set_xlabel("sentences")
    ax.xaxis.set_major_locator(locator(integer=True))
    ax.set_title(f"Speech levels ({report.mixed_turns:,} turns mix polite and plain)")


def _qe_chart(report: Report, ax, locator) -> None:
    ax.bar([b * BIN for b in report.qe_bins["bin"]], report.qe_bins["n"], width=BIN, align="edge", color="#9bbb59")
    ax.set_xlim(0, 1)
    ax.set_xlabel("quality-estimation score")
    ax.set_ylabel("turns")
    ax.set_title("Quality estimation")


def _reasons_chart(report: Report, ax, locator) -> None:
    if report.reasons.height:
        rows = list(reversed(report.reasons.rows(named=True)))
        ax.barh([r["reason"] for r in rows], [r["turns"] for r in rows], color="#c0504d")
        for i, r in enumerate(rows):
            ax.text(r["turns"], i, f" {r['turns']:,}", va="center", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no reasons: every turn passed", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("turns")
    ax.xaxis.set_major_locator(locator(integer=True))
    ax.set_title("Reasons")


def _ratio_chart(report: Report, ax, locator) -> None:
    for role in report.ratio_bins["role"].unique().sort().to_list():
        sub = report.ratio_bins.filter(pl.col("role") == role)
        counts = [0] * int(round(RATIO_MAX / BIN) + 1)
        for b, n in zip(sub["bin"], sub["n"]):
            counts[b] = n
        ax.step([i * BIN for i in range(len(counts))], counts, where="post", label=role)
    ax.set_xlim(0, RATIO_MAX)
    ax.set_xlabel(f"output/source length in characters (last bin: ≥ {RATIO_MAX - BIN:.2f})")
    ax.set_ylabel("turns")
    ax.set_title("Length ratio per role")
    ax.legend()


def _ratio_files_chart(report: Report, ax, locator) -> None:
    boxes = [{"label": f"{Path(r['file']).name} · {r['role']}", "whislo": r["p05"], "q1": r["p25"], "med": r["p50"],
              "q3": r["p75"], "whishi": r["p95"], "fliers": [r["p01"], r["p99"]]}
             for r in report.ratio_by_file.rows(named=True)]
    ax.bxp(boxes, orientation="horizontal", showfliers=True)
    ax.set_xlabel("length ratio (box p25–p75, whiskers p05–p95, dots p01/p99)", fontsize=8)
    ax.set_title("Length ratio per file and role")


def _script_chart(report: Report, ax, locator) -> None:
    if report.script_bins.height:
        ax.bar([b * BIN for b in report.script_bins["bin"]], report.script_bins["n"], width=BIN, align="edge",
               color="#4f81bd")
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("target-script share of letters")
    ax.set_ylabel("turns (log)")
    ax.set_title("Target script share")


# name, drawing, figure height in inches (None: no such chart for this report), in page order.
_CHARTS = (
    ("levels", _levels_chart, lambda r: 2.4 if r.levels.height else None),
    ("qe", _qe_chart, lambda r: 2.8 if r.qe_bins.height else None),
    ("reasons", _reasons_chart, lambda r: max(2.0, 0.35 * r.reasons.height + 1)),
    ("ratio_hist", _ratio_chart, lambda r: 3.4),
    ("ratio_files", _ratio_files_chart, lambda r: max(2.2, 0.4 * r.ratio_by_file.height + 1.2)
     if r.ratio_by_file.height else None),
    ("script", _script_chart, lambda r: 2.8),
)


# -- HTML ------------------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1120px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.muted{color:#666;font-size:13px} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px} table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f4f4f4}
td.l,th.l{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.charts img{border:1px solid #eee;max-width:100%;height:auto;flex:0 0 auto}
.rec{border:1px solid #ddd;border-radius:6px;margin:12px 0;padding:8px 10px}
.rh{font-size:13px;margin-bottom:6px} .rh code{font-size:12px}
table.pair{width:100%;table-layout:fixed} table.pair td{text-align:left;vertical-align:top}
table.pair td.t{white-space:pre-wrap;word-wrap:break-word} table.pair th.f,table.pair td.f{width:150px}
tr.bad td{background:#fff3f2} tr.warn td{background:#fffbe8}
.code{display:inline-block;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px;color:#fff;
background:#c0504d} .code.w{background:#b8860b} .why{margin-top:6px;font-size:12px;color:#8a1f11}
.why.w{color:#7a5a00} .note{font-size:12px;color:#666;font-style:italic}
"""


def _table(df: pl.DataFrame, columns: list[tuple[str, str]], left: tuple[str, ...] = ()) -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{html.escape(label)}</th>' for c, label in columns)
    body = []
    for row in df.iter_rows(named=True):
        cells = []
        for c, _ in columns:
            v = row[c]
            if isinstance(v, float):
                text = "–" if math.isnan(v) else (f"{v:.1%}" if c == "flagged" else f"{v:.3f}")
            elif isinstance(v, list):
                text = ", ".join(map(str, v))
            elif v is None:
                text = "–"
            else:
                text = f"{v:,}" if isinstance(v, int) and c != "index" else str(v)
            cells.append(f'<td class="{"l" if c in left else ""}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(report: Report, title: str = "QC report", with_charts: bool = True) -> str:
    o = report.overview
    pngs = charts(report) if with_charts else None
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<div class='muted'>{len(report.logs)} QC log(s): "
             f"{html.escape(', '.join(p.name for p in report.logs[:8]))}"
             f"{' …' if len(report.logs) > 8 else ''}</div>",
             "<div class='cards'>"]
    for label, value in (("files", o["files"]), ("records", o["records"]), ("turns", o["turns"]),
                         ("records rejected", o["records_rejected"]), ("turns flagged", o["turns_flagged"]),
                         ("turns with warnings", o["turns_warned"])):
        parts.append(f"<div class='card'>{html.escape(label)}<b>{value:,}</b></div>")
    parts.append("</div>")
    if pngs is None and with_charts:
        parts.append("<p class='muted'>Charts need matplotlib: <code>pip install 'llava-translate[report]'</code>."
                     "</p>")
    if pngs:
        parts.append("<div class='charts'>")
        for name in ("reasons", "ratio_hist", "ratio_files", "script", "levels", "qe"):
            if name in pngs:
                width, height = _png_size(pngs[name])
                # Its own size, so the flex row cannot stretch it (CSS keeps the aspect ratio when it must shrink).
                parts.append(f"<img alt='{name}' width='{width}' height='{height}' "
                             f"src='data:image/png;base64,{pngs[name]}'>")
        parts.append("</div>")
    parts.append("<h2>Record verdicts</h2>")
    parts.append(_table(report.verdicts, [("verdict", "verdict"), ("records", "records")], left=("verdict",)))
    parts.append("<h2>Reasons</h2>")
    parts.append(_table(report.reasons, [("reason", "reason"), ("turns", "turns"), ("records", "records")],
                        left=("reason",)))
    parts.append("<h2>Warnings</h2><p class='muted'>Findings of checks set to severity \"warn\": logged, never a "
                 "rejection (counted apart from the reasons above).</p>")
    if report.warnings.height:
        parts.append(_table(report.warnings, [("warning", "warning"), ("turns", "turns"), ("records", "records")],
                            left=("warning",)))
    else:
        parts.append("<p>none</p>")
    if report.levels.height:
        parts.append(f"<h2>Speech levels</h2><p class='muted'>Korean sentence endings of the translations: 합쇼체 and "
                     f"해요체 are polite, 해라체 and 반말 plain; {report.mixed_turns:,} turns mix the two groups.</p>")
        parts.append(_table(report.levels, [("role", "role"), ("name", "level"), ("level", "code"),
                                            ("sentences", "sentences"), ("turns", "turns with it")],
                            left=("role", "name", "level")))
    if report.qe["turns"]:
        q = report.qe
        parts.append("<h2>Quality estimation</h2>")
        parts.append(f"<p>{q['turns']:,} turns scored: mean {_f(q['mean'], 3)}, min {_f(q['min'], 3)}, p05 "
                     f"{_f(q['p05'], 3)}, median {_f(q['p50'], 3)}, max {_f(q['max'], 3)}; {q['rejected']:,} turns "
                     "rejected as <code>qe_low</code>.</p>")
    qcols = [("turns", "turns"), ("mean", "mean")] + [(f"p{round(q * 100):02d}", f"p{round(q * 100):02d}")
                                                       for q in QUANTILES] + [("flagged", "flagged")]
    parts.append("<h2>Length ratio per role</h2>")
    parts.append(_table(report.ratio_by_role, [("role", "role")] + qcols, left=("role",)))
    parts.append("<h2>Length ratio per file and role</h2>")
    by_file = report.ratio_by_file.with_columns(pl.col("file").map_elements(lambda f: Path(f).name,
                                                                            return_dtype=pl.Utf8))
    parts.append(_table(by_file, [("file", "file"), ("role", "role")] + qcols, left=("file", "role")))
    s = report.script
    parts.append("<h2>Target script share</h2>")
    parts.append(f"<p>{s['turns']:,} turns; median {_f(s['p50'], 3)}, p05 {_f(s['p05'], 3)}, p01 "
                 f"{_f(s['p01'], 3)}; {(s['below_60'] or 0):.1%} below 0.6.</p>")
    parts.append(f"<h2>Worst records (top {report.worst.height})</h2>")
    worst = report.worst.with_columns(pl.col("file").map_elements(lambda f: Path(f).name, return_dtype=pl.Utf8))
    parts.append(_table(worst, [("file", "file"), ("index", "index"), ("id", "id"), ("verdict", "verdict"),
                                ("codes", "reasons"), ("ratio_deviation", "|ln ratio − ln median|")],
                        left=("file", "id", "verdict", "codes")))
    parts.extend(_review(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def _png_size(b64: str) -> tuple[int, int]:
    head = base64.b64decode(b64[:44])  # signature and IHDR: width and height at bytes 16-24
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


# -- review: records side by side ------------------------------------------------------------------------------------

def _review(report: Report) -> list[str]:
    parts = [f"<h2>Rejected records ({report.rejected_total:,})</h2>"]
    if report.rejected:
        more = report.rejected_total - len(report.rejected)
        parts.append(f"<p class='muted'>The first {len(report.rejected):,}, source and translation side by side; "
                     "each reason is on its turn." + (f" {more:,} more are not shown (see the "
                     "<code>*.rejected.jsonl</code> files)." if more > 0 else "") + "</p>")
        parts.extend(_record(r) for r in report.rejected)
    else:
        parts.append("<p>none</p>")
    parts.append(f"<h2>Sample of kept records ({len(report.sample):,} of {report.sample_population:,}, "
                 f"seed {report.seed})</h2>")
    if report.sample:
        parts.append("<p class='muted'>Drawn at random with the seed above: the same logs and seed give the same "
                     "sample. Warnings are marked on their turn.</p>")
        parts.extend(_record(r) for r in report.sample)
    else:
        parts.append("<p>none</p>")
    if report.notes:
        parts.append("<h2>Not shown</h2><ul>" + "".join(f"<li class='note'>{html.escape(n)}</li>"
                                                        for n in report.notes[:50]) + "</ul>")
    return parts


def _capped(text: str | None) -> str:
    if text is None:
        return "<span class='note'>(none)</span>"
    if len(text) > TEXT_CAP:
        return html.escape(text[:TEXT_CAP]) + f"<span class='note'> … ({len(text) - TEXT_CAP:,} more characters)</span>"
    return html.escape(text)


def _codes(codes: list[str], warn: bool = False) -> str:
    return "".join(f"<span class='code{' w' if warn else ''}'>{html.escape(c)}</span>" for c in codes)


def _record(r: ReviewRecord) -> str:
    codes = sorted({x.code for x in r.reasons} | {x.code for t in r.turns for x in t.reasons})
    warned = sorted({w for t in r.turns for w in t.warnings})
    out = [f"<div class='rec'><div class='rh'><b>{html.escape(r.log)}</b> record {r.index:,}"
           f"{f' · id <code>{html.escape(r.id)}</code>' if r.id is not None else ''} · {html.escape(r.verdict)} "
           f"{_codes(codes)}{_codes(warned, warn=True)}</div>"]
    for reason in r.reasons:
        where = f" ({html.escape(reason.field)})" if reason.field else ""
        out.append(f"<div class='why'>{_codes([reason.code])}{where} {html.escape(reason.detail)}</div>")
    if r.note:
        out.append(f"<div class='note'>{html.escape(r.note)}</div>")
    if r.turns:
        out.append("<table class='pair'><tr><th class='f l'>turn</th><th class='l'>source</th>"
                   "<th class='l'>translation</th></tr>")
        for t in r.turns:
            css = " class='bad'" if t.reasons else " class='warn'" if t.warnings else ""
            why = "".join(f"<div class='why'>{_codes([x.code])} {html.escape(x.detail)}</div>" for x in t.reasons)
            why += "".join(f"<div class='why w'>{_codes([w], warn=True)}</div>" for w in t.warnings)
            qe = f"<div class='note'>QE {t.qe:.3f}</div>" if t.qe is not None else ""
            out.append(f"<tr{css}><td class='f l'>{html.escape(t.field)}<br><span class='note'>"
                       f"{html.escape(t.role or '')}</span></td><td class='t'>{_capped(t.source)}</td>"
                       f"<td class='t'>{_capped(t.output)}{why}{qe}</td></tr>")
        out.append("</table>")
    out.append("</div>")
    return "".join(out)
