"""`translate export`: real Parquet files from a real pseudo run over data/samples, read back by pyarrow, polars and
datasets, and a dataset card whose metadata parses and whose counts are the manifests'."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
import polars as pl  # noqa: E402

from conftest import ROOT, load_json, read_jsonl, run_cli, run_main  # noqa: E402

SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A pseudo run over every sample file (the BLIP sample has one rejected record)."""
    out = tmp_path_factory.mktemp("run")
    res = run_cli("run", "--src", "data/samples/*.json*", "--backend", "pseudo", "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hub") / "ko-llava"
    res = run_cli("export", out, "--from", run_dir, "--parallel", "--quiet")
    assert res.returncode == 0, res.stderr
    return out


def manifests(run_dir: Path) -> dict[str, dict]:
    return {p.name[: -len(".manifest.json")]: load_json(p) for p in sorted(run_dir.glob("*.manifest.json"))}


def card_parts(card: Path) -> tuple[dict, str]:
    yaml = pytest.importorskip("yaml")
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


def output_records(run_dir: Path, stem: str) -> list[dict]:
    path = next(p for p in run_dir.glob(f"{stem}.json*") if not p.name.endswith(".manifest.json"))
    return read_jsonl(path) if path.suffix == ".jsonl" else load_json(path)


def as_llava(row: dict) -> dict:
    """The LLaVA record a row stands for, rebuilt as the card says."""
    record = {"id": row["id"]}
    if row["image"] is not None:
        record["image"] = row["image"]
    record["conversations"] = row["conversations"]
    return {**record, **json.loads(row["extra"] or "{}")}


# -- the Parquet files ---------------------------------------------------------------------------------------------

def test_each_output_is_one_parquet_file_with_the_kept_records(run_dir, exported):
    found = manifests(run_dir)
    assert sorted(p.stem for p in exported.glob("*.parquet")) == sorted(found)
    for stem, manifest in found.items():
        table = pq.read_table(exported / f"{stem}.parquet")
        assert table.num_rows == manifest["counts"]["records_kept"] > 0, stem
        records = output_records(run_dir, stem)
        rows = table.to_pylist()
        if "conversations" in records[0]:
            assert table.schema.names == ["id", "image", "conversations", "conversations_en", "extra"]
            for record, row in zip(records, rows, strict=True):
                expected = {**record, "id": str(record["id"])}
                assert as_llava(row) == expected  # key order aside: extra keys come back after conversations
        else:
            assert table.schema.field("question_id").type == pa.int64()
            for record, row in zip(records, rows, strict=True):
                assert row["question_id"] == record["question_id"] and row["text"] == record["text"]
                assert row["prompt"] == record.get("prompt") and row["category"] == record.get("category")
                rest = {k: v for k, v in record.items() if k not in ("question_id", "image", "category", "prompt",
                                                                     "text")}
                assert json.loads(row["extra"] or "{}") == rest


def test_the_schema_is_fixed_whatever_keys_records_carry(exported):
    mix = pq.read_table(exported / "ko_llava_v1_5_mix665k.parquet")
    chat = pq.read_table(exported / "ko_chat.parquet")
    assert mix.schema.equals(chat.schema)
    turns = mix.schema.field("conversations").type
    assert pa.types.is_list(turns) and [f.name for f in turns.value_type] == ["from", "value"]
    rows = mix.to_pylist()
    assert any(r["image"] is None for r in rows)  # text-only records: a null, not a missing column
    assert [json.loads(r["extra"]) for r in rows if r["extra"]] == [{"model": ""}]


def test_polars_and_pyarrow_read_the_same_rows_without_options(exported):
    for path in sorted(exported.glob("*.parquet")):
        assert pl.read_parquet(path).to_dicts() == pq.read_table(path).to_pylist(), path.name


def test_datasets_loads_the_files_and_the_cards_configs(exported, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    for var, value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("HF_HOME", str(tmp_path / "hf"))):
        monkeypatch.setenv(var, value)
    path = exported / "ko_conversation_58k.parquet"
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.to_list() == pq.read_table(path).to_pylist()
    bench = datasets.load_dataset(str(exported), "llava_bench_answers_gpt4", split="train",
                                  cache_dir=str(tmp_path / "cache"))
    assert bench.column_names == ["question_id", "image", "category", "prompt", "prompt_en", "text", "text_en",
                                  "extra"]
    assert bench.num_rows == 24


def test_row_groups_are_written_as_records_stream_in(run_dir, tmp_path):
    res = run_cli("export", tmp_path / "hub", "--from", run_dir, "--row-group-size", "7", "--quiet")
    assert res.returncode == 0, res.stderr
    kept = load_json(run_dir / "ko_llava_v1_5_mix665k.manifest.json")["counts"]["records_kept"]
    meta = pq.ParquetFile(tmp_path / "hub" / "ko_llava_v1_5_mix665k.parquet").metadata
    assert meta.num_rows == kept > 7 and meta.num_row_groups == math.ceil(kept / 7)
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 7


# -- --parallel ----------------------------------------------------------------------------------------------------

def test_parallel_rows_carry_their_own_source_even_after_rejected_records(run_dir, exported):
    dropped_somewhere = False
    for stem, manifest in manifests(run_dir).items():
        source_path = ROOT / manifest["source"]["path"]
        source = read_jsonl(source_path) if source_path.suffix == ".jsonl" else load_json(source_path)
        dropped = {r["index"] for r in read_jsonl(run_dir / f"{stem}.rejected.jsonl") if not r.get("policy")}
        dropped_somewhere |= bool(dropped)
        expected = [rec for i, rec in enumerate(source) if i not in dropped]
        rows = pq.read_table(exported / f"{stem}.parquet").to_pylist()
        if "conversations" in expected[0]:
            assert [r["id"] for r in rows] == [str(rec["id"]) for rec in expected], stem
            assert [r["conversations_en"] for r in rows] == [rec["conversations"] for rec in expected], stem
            assert all(r["conversations"] != r["conversations_en"] for r in rows), stem  # translated beside it
        else:
            assert [(r["question_id"], r["text_en"], r["prompt_en"]) for r in rows] == \
                [(rec["question_id"], rec["text"], rec.get("prompt")) for rec in expected], stem
    assert dropped_somewhere  # the samples' run rejects some records (the Devanagari BLIP caption at least)


def test_parallel_refuses_a_source_that_is_not_the_runs(run_dir, tmp_path):
    other = tmp_path / "sources"
    other.mkdir()
    for path in SAMPLES.glob("*.json*"):
        shutil.copy(path, other / path.name)
    with open(other / "chat.json", "a", encoding="utf-8") as fh:
        fh.write("\n")  # one byte more than the run read
    res = run_cli("export", tmp_path / "hub", "--from", run_dir, "--parallel", "--source-root", other, "--quiet")
    message = " ".join(res.stderr.split())
    assert res.returncode == 2 and "chat.json" in message and "the very file the run translated" in message
    assert not (tmp_path / "hub").exists() or not any((tmp_path / "hub").iterdir())  # nothing half written


def test_parallel_names_a_source_it_cannot_find(run_dir, tmp_path):
    res = run_cli("export", tmp_path / "hub", "--from", run_dir, "--parallel", "--quiet", cwd=tmp_path)
    message = " ".join(res.stderr.split())
    assert res.returncode == 2 and "--source-root" in message and "Traceback" not in res.stderr


# -- the dataset card ----------------------------------------------------------------------------------------------

def test_card_metadata_parses_and_points_at_the_files(run_dir, exported):
    meta, _ = card_parts(exported / "README.md")
    assert meta["language"] == ["ko", "en"]
    assert meta["license"] == "other"  # the samples mix sources with different terms
    assert meta["size_categories"] == ["n<1K"]
    assert "translation" in meta["task_categories"] and "visual-question-answering" in meta["task_categories"]
    assert set(meta["source_datasets"]) >= {"liuhaotian/LLaVA-Instruct-150K", "liuhaotian/LLaVA-Pretrain"}
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert len(configs) == len(manifests(run_dir))
    for name, config in configs.items():
        assert (exported / config["data_files"][0]["path"]).is_file(), name
    assert sum(1 for c in meta["configs"] if c.get("default")) == 1


def test_card_counts_are_the_manifests(run_dir, exported):
    _, body = card_parts(exported / "README.md")
    counts_section = body.split("## Counts", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in counts_section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith(("`", "**")):
            table[cells[0].strip("`*")] = [int(c.replace(",", "")) for c in cells[1:5]]
    found = manifests(run_dir)
    for manifest in found.values():
        c = manifest["counts"]
        name = Path(manifest["source"]["path"]).name
        assert table[name] == [c["records_in"], c["records_kept"], c["records_rejected"], c["records_invalid"]]
    keys = ("records_in", "records_kept", "records_rejected", "records_invalid")
    assert table["total"] == [sum(m["counts"][k] for m in found.values()) for k in keys]
    assert "`wrong_script` 1" in counts_section
    assert "`pseudo/v1`" in body and "--parallel" in body


def test_card_license_is_inherited_or_given(tmp_path):
    res = run_cli("run", "--src", "data/samples/detail_23k.json", "--backend", "pseudo", "--out", tmp_path / "run",
                  "--quiet")
    assert res.returncode == 0, res.stderr
    assert run_cli("export", tmp_path / "a", "--from", tmp_path / "run", "--quiet").returncode == 0
    meta, body = card_parts(tmp_path / "a" / "README.md")
    assert meta["license"] == "cc-by-4.0" and "OpenAI" in body
    res = run_cli("export", tmp_path / "b", "--from", tmp_path / "run", "--license", "cc-by-nc-4.0", "--name",
                  "KoLLaVA: detail 23k \"test\"", "--quiet")
    assert res.returncode == 0, res.stderr
    meta, _ = card_parts(tmp_path / "b" / "README.md")
    assert meta["license"] == "cc-by-nc-4.0" and meta["pretty_name"] == "KoLLaVA: detail 23k \"test\""


def test_card_shows_the_command_and_glossary_when_the_manifest_records_them(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    for path in copy.glob("*.manifest.json"):
        manifest = load_json(path)
        manifest["command"] = ["python", "-m", "translate", "run", "--src", "data/samples/*.json*", "--backend",
                               "pseudo"]
        manifest["glossary"] = {"path": "glossaries/ko", "sha256": "abc123"}
        path.write_text(json.dumps(manifest), encoding="utf-8")
    assert run_cli("export", tmp_path / "hub", "--from", copy, "--quiet").returncode == 0
    _, body = card_parts(tmp_path / "hub" / "README.md")
    assert "`python -m translate run --src 'data/samples/*.json*' --backend pseudo`" in body
    assert '"sha256": "abc123"' in body and "not recorded" not in body


# -- refusals and errors -------------------------------------------------------------------------------------------

def test_files_this_tool_did_not_write_are_never_replaced(run_dir, tmp_path, capsys):
    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "README.md").write_text("my own notes\n", encoding="utf-8")
    code, _, err = run_main(["export", hub, "--from", run_dir, "--quiet"], capsys)
    assert code == 2 and "README.md" in err and "nothing was written" in " ".join(err.split())
    assert sorted(p.name for p in hub.iterdir()) == ["README.md"]
    assert (hub / "README.md").read_text(encoding="utf-8") == "my own notes\n"
    # An earlier export's own files may be replaced: exporting again works.
    (hub / "README.md").unlink()
    assert run_main(["export", hub, "--from", run_dir, "--quiet"], capsys)[0] == 0
    assert run_main(["export", hub, "--from", run_dir, "--quiet"], capsys)[0] == 0
    written = load_json(hub / "llava_translate_export.json")
    assert {f["file"] for f in written["files"]} == {p.name for p in hub.glob("*.parquet")}
    assert all(f["bytes"] == (hub / f["file"]).stat().st_size for f in written["files"])


def test_a_record_that_does_not_fit_the_schema_is_named(run_dir, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    records = load_json(copy / "ko_chat.json")
    records[3]["conversations"][1]["weight"] = 0.5
    (copy / "ko_chat.json").write_text(json.dumps(records), encoding="utf-8")
    code, _, err = run_main(["export", tmp_path / "hub", "--from", copy, "--quiet"], capsys)
    message = " ".join(err.split())
    assert code == 2 and "ko_chat.json" in message and "record 3" in message
    assert "conversations[1].weight" in message and "Traceback" not in err
    assert not list((tmp_path / "hub").glob("*"))  # no file of the export appears


def test_a_folder_without_manifests_is_refused(tmp_path, capsys):
    (tmp_path / "ko_notes.json").write_text("[]", encoding="utf-8")
    code, _, err = run_main(["export", tmp_path / "hub", "--from", tmp_path, "--quiet"], capsys)
    assert code == 2 and "manifest.json" in err
