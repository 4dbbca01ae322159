"""estimate.py / cli_estimate.py: counts, memory hits, DeepL price, time from a configured or measured rate; no key,
no network, no memory file created."""

from __future__ import annotations

import json
import re

import pytest

from remote_support import captions, fast_deepl_sdk, load, run_main  # noqa: F401  (fixture)
from translate.estimate import format_duration


def estimate_json(capsys, *args) -> dict:
    code, out, err = run_main(["estimate", *map(str, args), "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def _distinct_bodies(path) -> int:
    values = [t["value"] for r in load(path) for t in r["conversations"]]
    stripped = {re.sub(r"\A<image>\n|\n<image>\Z", "", v).strip() for v in values}
    return len(stripped)


def test_counts_and_price_without_a_key(tmp_path, capsys, monkeypatch, fast_deepl_sdk):  # noqa: F811
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    src = captions(tmp_path / "caps.json", 120)
    est = estimate_json(capsys, "--src", src, "--backend", "deepl", "--out", tmp_path / "out",
                        "--opt", "retries=0")
    c = est["counts"]
    assert c["records"] == 120 and c["segments_total"] == 240 and c["segments_empty"] == 0
    assert c["segments_unique"] == _distinct_bodies(src)
    assert c["segments_missing"] == c["segments_unique"] - c["segments_templates"] and c["segments_in_memory"] == 0
    assert est["billed_characters"] >= c["characters_missing"] > 0
    assert est["price"] == {"per_million_characters": 25.0, "currency": "USD",
                            "cost": round(est["billed_characters"] * 25 / 1e6, 2)}
    assert est["time"]["tokens"] == round(c["characters_missing"] / 4) and est["time"]["seconds"] is None
    assert est["memory"] is None and not (tmp_path / "out").exists()  # nothing created
    other = estimate_json(capsys, "--src", src, "--backend", "deepl", "--price-per-million", "20",
                          "--currency", "EUR", "--tokens-per-second", "50", "--chars-per-token", "3")
    assert other["price"]["cost"] == round(other["billed_characters"] * 20 / 1e6, 2)
    assert other["price"]["currency"] == "EUR"
    assert other["time"]["tokens"] == round(c["characters_missing"] / 3)
    assert other["time"]["seconds"] == round(other["time"]["tokens"] / 50, 1)
    assert other["time"]["rate_source"] == "configured"


def test_memory_hits_after_a_run(tmp_path, capsys):
    src = captions(tmp_path / "caps.json", 40)
    out = tmp_path / "out"
    assert run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q"], capsys)[0] == 0
    est = estimate_json(capsys, "--src", src, "--backend", "pseudo", "--out", out)
    c = est["counts"]
    assert c["segments_missing"] == 0 and c["characters_missing"] == 0
    assert c["segments_in_memory"] + c["segments_templates"] == c["segments_unique"]
    assert est["memory"] == str(out / "translation_memory.sqlite") and est["billed_characters"] is None
    # Another backend's translations do not count for DeepL.
    est = estimate_json(capsys, "--src", src, "--backend", "deepl", "--out", out)
    assert est["counts"]["segments_in_memory"] == 0 and est["billed_characters"] > 0


def test_measured_rate(tmp_path, capsys):
    src = captions(tmp_path / "caps.json", 60)
    est = estimate_json(capsys, "--src", src, "--backend", "pseudo", "--opt", "delay=0.02", "--opt", "batch_size=5",
                        "--measure", "20", "--out", tmp_path / "o")
    t = est["time"]
    assert t["rate_source"] == "measured" and t["tokens_per_second"] > 0
    # 19 timed texts in 4 batches of ≤5 with 20 ms each: at least 80 ms, so the rate is bounded above.
    assert t["tokens_per_second"] < 19 * 200 / 4 / 0.08
    assert not (tmp_path / "o").exists()
    code, _, err = run_main(["estimate", "--src", src, "--backend", "deepl", "--measure", "5"], capsys)
    assert code == 2 and "--measure would send" in err


def test_table_output(tmp_path, capsys):
    src = captions(tmp_path / "caps.json", 10)
    code, out, err = run_main(["estimate", "--src", src, "--backend", "deepl", "--tokens-per-second", "1000"],
                              capsys)
    assert code == 0, err
    for label in ("unique segments", "characters to send", "billed characters", "price", "25.00 USD", "time"):
        assert label in out


def test_four_file_instruct_set_dedupes_across_files(tmp_path, capsys, make_instruct):
    files = [make_instruct(25, name=f"part{i}.json", seed=i) for i in range(4)]
    total = estimate_json(capsys, *[x for f in files for x in ("--src", f)], "--backend", "pseudo")
    singles = [estimate_json(capsys, "--src", f, "--backend", "pseudo")["counts"] for f in files]
    c = total["counts"]
    assert c["files"] == 4 and c["records"] == 100
    assert c["segments_total"] == sum(s["segments_total"] for s in singles)
    # Questions repeat across files: the set needs fewer unique segments than the files one by one.
    assert c["segments_unique"] < sum(s["segments_unique"] for s in singles)
    assert c["characters_missing"] < sum(s["characters_missing"] for s in singles)


@pytest.mark.parametrize("seconds,text", [(5, "5s"), (125, "2m 5s"), (3725, "1h 2m"), (90061, "1d 1h 1m")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_estimate_for_an_llm_predicts_requests_tokens_and_cost_not_characters(make_instruct, tmp_path, capsys):
    """An engine billed by tokens gives its own prediction; no per-character price is shown for it."""
    from conftest import run_main

    src = make_instruct(40)
    args = ["estimate", "--src", src, "--backend", "openai", "--opt", "model=m", "--opt",
            "base_url=http://127.0.0.1:9/v1", "--memory", tmp_path / "tm.sqlite", "--json"]
    code, out, err = run_main([*args, "--opt", "price_prompt_per_million=2", "--opt",
                               "price_completion_per_million=8"], capsys)
    assert code == 0, err
    result = json.loads(out)
    usage = result["usage"]
    assert usage["requests"] >= 1 and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    expected = (usage["prompt_tokens"] * 2 + usage["completion_tokens"] * 8) / 1e6
    assert abs(usage["estimated_cost"] - expected) < 1e-3
    assert result["billed_characters"] is None and result["price"] is None
    code, out, _ = run_main(args, capsys)
    assert json.loads(out)["usage"]["estimated_cost"] == 0


def test_estimate_reads_a_wrapped_list_through_records_key(tmp_path, capsys):
    from conftest import run_main

    records = [{"id": str(i), "conversations": [{"from": "human", "value": f"Question number {i} about a dog?"},
                                                {"from": "gpt", "value": f"Answer {i}: the dog runs."}]}
               for i in range(5)]
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"version": 1, "data": records}))
    code, out, err = run_main(["estimate", "--src", wrapped, "--backend", "pseudo", "--records-key", "data",
                               "--memory", tmp_path / "tm.sqlite", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"]["records"] == 5
    code, _, err = run_main(["estimate", "--src", wrapped, "--backend", "pseudo", "--memory", tmp_path / "tm.sqlite"],
                            capsys)
    assert code == 2 and "data" in err
