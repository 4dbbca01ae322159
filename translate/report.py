"""`translate report`: aggregates over QC logs (polars), a terminal table (rich) and a self-contained HTML page.

The QC logs (`*.qc.jsonl`, one row per checked turn, written by `run` and by `check`) are scanned lazily; what is
collected is small: counts per reason, length-ratio quantiles per role and per file, histogram bins, and the worst
records. Charts are PNGs drawn with matplotlib (the optional ``[report]`` extra) and embedded as base64, so the HTML
file needs nothing else: no CDN, no network, no sibling files. Without matplotlib the page has the tables only.
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

SCHEMA = {
    "file": pl.Utf8, "index": pl.Int64, "id": pl.Utf8, "role": pl.Utf8, "field": pl.Utf8,
    "src_chars": pl.Int64, "out_chars": pl.Int64, "ratio": pl.Float64, "script": pl.Float64,
    "reasons": pl.List(pl.Utf8), "verdict": pl.Utf8,
}
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "logs": [str(p) for p in self.logs], "overview": self.overview,
            "verdicts": self.verdicts.to_dicts(), "reasons": self.reasons.to_dicts(),
            "ratio_by_role": self.ratio_by_role.to_dicts(), "ratio_by_file": self.ratio_by_file.to_dicts(),
            "script": self.script, "worst": self.worst.to_dicts(),
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


def build(logs: list[Path], top: int = 20) -> Report:
    lf = pl.scan_ndjson([str(p) for p in logs], schema=SCHEMA)
    try:
        return _aggregate(lf, logs, top)
    except pl.exceptions.ComputeError as exc:  # a malformed line
        raise InputFileError(", ".join(str(p) for p in logs), f"not a QC log: {str(exc).splitlines()[0]}") from None


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
    return Report(logs, overview, verdicts, reasons, ratio_by_role, ratio_by_file, ratio_bins, script_row,
                  script_bins, worst)


# -- terminal ------------------------------------------------------------------------------------------------------

def print_report(report: Report, console) -> None:
    from rich.table import Table

    o = report.overview
    console.print(f"[bold]QC report[/]: {o['files']} file(s), {o['records']:,} records, {o['turns']:,} turns; "
                  f"{o['records_rejected']:,} records rejected, {o['turns_flagged']:,} turns flagged")
    t = Table(title="reasons")
    for col in ("reason", "turns", "records"):
        t.add_column(col, justify="left" if col == "reason" else "right")
    for r in report.reasons.iter_rows(named=True):
        t.add_row(r["reason"], f"{r['turns']:,}", f"{r['records']:,}")
    if not report.reasons.height:
        t.add_row("(none)", "0", "0")
    console.print(t)
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

    def save(fig, name: str) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        out[name] = base64.b64encode(buf.getvalue()).decode("ascii")

    fig, ax = plt.subplots(figsize=(5.3, max(2.0, 0.35 * report.reasons.height + 1)))
    if report.reasons.height:
        rows = list(reversed(report.reasons.rows(named=True)))
        ax.barh([r["reason"] for r in rows], [r["turns"] for r in rows], color="#c0504d")
        for i, r in enumerate(rows):
            ax.text(r["turns"], i, f" {r['turns']:,}", va="center", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no reasons: every turn passed", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("turns")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Reasons")
    save(fig, "reasons")

    fig, ax = plt.subplots(figsize=(5.3, 3.4))
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
    save(fig, "ratio_hist")

    rows = report.ratio_by_file.rows(named=True)
    if rows:
        fig, ax = plt.subplots(figsize=(5.3, max(2.2, 0.4 * len(rows) + 1.2)))
        boxes = [{"label": f"{Path(r['file']).name} · {r['role']}", "whislo": r["p05"], "q1": r["p25"],
                  "med": r["p50"], "q3": r["p75"], "whishi": r["p95"], "fliers": [r["p01"], r["p99"]]} for r in rows]
        ax.bxp(boxes, orientation="horizontal", showfliers=True)
        ax.set_xlabel("length ratio (box p25–p75, whiskers p05–p95, dots p01/p99)", fontsize=8)
        ax.set_title("Length ratio per file and role")
        save(fig, "ratio_files")

    fig, ax = plt.subplots(figsize=(5.3, 2.8))
    if report.script_bins.height:
        ax.bar([b * BIN for b in report.script_bins["bin"]], report.script_bins["n"], width=BIN, align="edge",
               color="#4f81bd")
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("target-script share of letters")
    ax.set_ylabel("turns (log)")
    ax.set_title("Target script share")
    save(fig, "script")
    return out


# -- HTML ------------------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1120px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.muted{color:#666;font-size:13px} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px} table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f4f4f4}
td.l,th.l{text-align:left} .charts{display:flex;flex-wrap:wrap;gap:10px} img{border:1px solid #eee}
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
                         ("records rejected", o["records_rejected"]), ("turns flagged", o["turns_flagged"])):
        parts.append(f"<div class='card'>{html.escape(label)}<b>{value:,}</b></div>")
    parts.append("</div>")
    if pngs is None and with_charts:
        parts.append("<p class='muted'>Charts need matplotlib: <code>pip install 'llava-translate[report]'</code>."
                     "</p>")
    if pngs:
        parts.append("<div class='charts'>")
        for name in ("reasons", "ratio_hist", "ratio_files", "script"):
            if name in pngs:
                parts.append(f"<img alt='{name}' src='data:image/png;base64,{pngs[name]}'>")
        parts.append("</div>")
    parts.append("<h2>Record verdicts</h2>")
    parts.append(_table(report.verdicts, [("verdict", "verdict"), ("records", "records")], left=("verdict",)))
    parts.append("<h2>Reasons</h2>")
    parts.append(_table(report.reasons, [("reason", "reason"), ("turns", "turns"), ("records", "records")],
                        left=("reason",)))
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
    parts.append("</body></html>")
    return "\n".join(parts)
