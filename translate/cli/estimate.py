"""``estimate``: segments, unique segments, characters to send after memory hits, a DeepL price and a time estimate,
before anything is sent. See translate/estimate.py and docs/backends.md."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from translate.cli.app import app
from translate.cli.options import JobFlags, job_options
from translate.estimate import (
    DEEPL_FREE_MONTHLY_CHARACTERS,
    DEFAULT_CHARS_PER_TOKEN,
    DEFAULT_CURRENCY,
    DEFAULT_PRICE_PER_MILLION,
    Estimate,
    estimate,
    format_duration,
    open_memory,
)


@app.command("estimate")
@job_options(exclude=("on_reject",))
def estimate_command(
    job: JobFlags,
    price_per_million: float = typer.Option(
        DEFAULT_PRICE_PER_MILLION, "--price-per-million",
        help="DeepL price per 1,000,000 billed characters (default: API Pro's public 25.00 USD; an assumption)."),
    currency: str = typer.Option(DEFAULT_CURRENCY, "--currency", help="Label for the price."),
    tokens_per_second: Optional[float] = typer.Option(
        None, "--tokens-per-second", help="Source tokens translated per second (e.g. from bench/RESULTS.md)."),
    chars_per_token: float = typer.Option(
        DEFAULT_CHARS_PER_TOKEN, "--chars-per-token", help="Characters per source token (default 4.0, English)."),
    measure: int = typer.Option(
        0, "--measure", help="Time N segments on the backend to get tokens/s (not stored; not for deepl)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """How much a run would send and bill, and roughly how long it would take. Sends nothing (unless --measure)."""
    from translate.backends.base import create_backend
    from translate.runtime import open_segmenter

    cfg = job.load()
    sources = cfg.sources()

    backend_obj = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    # A paid service is not contacted for an estimate: DeepL then only fingerprints its glossary, without uploading
    # (and --measure is refused for it).
    backend_obj.offline = True
    memory_obj, label = open_memory(cfg.memory_path())
    try:
        segmenter = open_segmenter(cfg, backend_obj)
        result = estimate(sources, segmenter, memory_obj, backend_obj, memory_label=label, window=cfg.window,
                          records_key=cfg.records_key,
                          price_per_million=price_per_million, currency=currency, chars_per_token=chars_per_token,
                          tokens_per_second=tokens_per_second, measure=measure)
    finally:
        backend_obj.close()
        memory_obj.close()
    if as_json:
        typer.echo(json.dumps(dict(result.as_dict(), sources=[str(p) for p in sources]), indent=2))
        return
    Console().print(render_table(result, len(sources)))


def render_table(result: Estimate, files: int) -> Table:
    c = result.counts
    table = Table(title=f"estimate · {result.backend} ({result.fingerprint})", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_column("", style="dim")
    table.add_row("files", f"{files:,}", "")
    table.add_row("records", f"{c.records:,}", f"{c.records_invalid:,} invalid" if c.records_invalid else "")
    table.add_row("segments", f"{c.segments_total:,}", f"{c.segments_empty:,} empty or <image> only")
    table.add_row("unique segments", f"{c.segments_unique:,}", f"{c.characters_unique:,} characters")
    table.add_row("curated templates", f"{c.segments_templates:,}", "free")
    table.add_row("in memory", f"{c.segments_in_memory:,}", result.memory or "no memory yet")
    table.add_row("to send", f"{c.segments_missing:,}", "")
    table.add_row("characters to send", f"{c.characters_missing:,}", "")
    if result.billed_characters is not None:
        free = ("within DeepL API Free's monthly allowance"
                if result.billed_characters <= DEEPL_FREE_MONTHLY_CHARACTERS else "")
        table.add_row("billed characters", f"{result.billed_characters:,}", free)
        table.add_row("price", f"{result.cost:,.2f} {result.currency}",
                      f"at {result.price_per_million:,.2f} {result.currency} per million characters")
    if result.usage is not None:
        u = result.usage
        table.add_row("requests", f"≈{u.get('requests', 0):,.0f}", f"{result.backend}'s own prediction")
        table.add_row("prompt tokens", f"≈{u.get('prompt_tokens', 0):,.0f}", "")
        table.add_row("completion tokens", f"≈{u.get('completion_tokens', 0):,.0f}", "")
        if u.get("price_prompt_per_million") or u.get("price_completion_per_million"):
            table.add_row("price", f"≈{u.get('estimated_cost', 0):,.2f}",
                          f"at {u.get('price_prompt_per_million', 0):g} / {u.get('price_completion_per_million', 0):g} "
                          "per million prompt / completion tokens")
    table.add_row("source tokens", f"≈{result.tokens:,}", f"{result.chars_per_token:g} characters per token")
    if result.seconds is not None:
        table.add_row("time", format_duration(result.seconds),
                      f"at {result.tokens_per_second:,.0f} tokens/s ({result.rate_source})")
    else:
        table.add_row("time", "?", "give --tokens-per-second or --measure N")
    return table
