"""The NLLB backend on a real (tiny, hand-built) CTranslate2 model: loading, tokenising, batching, prefix stripping,
detokenising, sentence splitting, placeholders, options, model resolution and the command line end to end.

The tiny model copies its input (tests/support/nllb_support.py), so a correct pipeline gives back exactly what it sent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
spm = pytest.importorskip("sentencepiece")

from conftest import cache_dir  # noqa: E402
from nllb_support import cached_copy_model, write_records  # noqa: E402

from translate.backends.base import create_backend  # noqa: E402
from translate.backends.nllb import NLLBBackend, parse_device_index, repeats_ngram, weight_family  # noqa: E402
from translate.errors import ConfigError, ModelNotFoundError  # noqa: E402
from translate.nllb_models import (  # noqa: E402
    DEFAULT_MODEL,
    PINNED,
    cache_root,
    model_identity,
    nllb_code,
    resolve_model,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
HAS_GPU = ctranslate2.get_cuda_device_count() > 0


@pytest.fixture(scope="session")
def tiny_model(request) -> Path:
    return cached_copy_model(cache_dir(request, "nllb-tiny-model"))


@pytest.fixture
def backend(tiny_model):
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu")
    yield b
    b.close()


class Recording(NLLBBackend):
    """The real backend, noting which sentences reach the model."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[list[str]] = []

    def translate_sentences(self, items):
        self.sent.append(list(items))
        return super().translate_sentences(items)


# -- languages --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("iso, code", [("ko", "kor_Hang"), ("ja", "jpn_Jpan"), ("zh", "zho_Hans"), ("vi", "vie_Latn"),
                                       ("en", "eng_Latn"), ("zh-TW", "zho_Hant"), ("zh_Hant", "zho_Hant"),
                                       ("pt-BR", "por_Latn"), ("fr", "fra_Latn"), ("kor_Hang", "kor_Hang")])
def test_iso_codes_map_to_nllb_codes(iso, code):
    assert nllb_code(iso) == code


def test_unknown_language_is_a_config_error_that_says_what_to_do():
    with pytest.raises(ConfigError, match="NLLB.*kor_Hang"):
        nllb_code("klingon")


def test_language_missing_from_the_model_vocabulary_is_named(tiny_model):
    b = NLLBBackend("en", "ar", model=str(tiny_model), device="cpu")
    with pytest.raises(ConfigError, match="arb_Arab"):
        b.translate(["Hello."])


# -- tokenising, decoding, prefix -------------------------------------------------------------------------------

def test_input_is_source_code_pieces_and_end_of_sentence(backend, tiny_model):
    sp = spm.SentencePieceProcessor(model_file=str(tiny_model / "sentencepiece.bpe.model"))
    text = "The cat is sitting on a mat."
    assert backend.tokenize([text]) == [["eng_Latn", *sp.encode(text, out_type=str), "</s>"]]


def test_target_prefix_is_stripped_and_pieces_are_decoded(backend, tiny_model):
    backend.load()
    source = backend.tokenize(["The dog is sleeping near the door."])
    raw = backend._translator.translate_batch(source, target_prefix=[["kor_Hang"]], beam_size=1)
    hyp = raw[0].hypotheses[0]
    assert hyp[0] == "kor_Hang"  # the model does emit the prefix …
    assert backend.strip_prefix(hyp) == hyp[1:]  # … and the backend removes it
    assert backend.detokenize([backend.strip_prefix(hyp)]) == ["The dog is sleeping near the door."]
    assert backend.strip_prefix(["▁a", "kor_Hang", "▁b"]) == ["▁a", "▁b"]


@pytest.mark.parametrize("compute_type", ["auto", "int8", "float32"])
def test_copy_model_round_trips_through_the_backend(tiny_model, compute_type):
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", compute_type=compute_type)
    texts = ["The cat is sitting on a mat.", "a  garden\twith a hedge", "Hello 안녕 world! Ça va?", "What is this?"]
    assert b.translate(texts) == texts
    assert b.usage()["compute_type"] == ("int8" if compute_type == "auto" else compute_type)


# -- sentences and placeholders ---------------------------------------------------------------------------------

def test_each_sentence_is_sent_alone_and_rejoined_with_its_layout(tiny_model):
    b = Recording("en", "ko", model=str(tiny_model), device="cpu")
    paragraph = (FIXTURES / "llava_prompts" / "detail_description" / "000_conv.txt").read_text(encoding="utf-8")
    listing = "Steps:\n1. Fill the glass with water.\n2. Drink it slowly.\n\n- first item\n* second item"
    out = b.translate([paragraph, listing])
    assert out == [paragraph, listing]
    sent = b.sent[0]
    assert "Among the boats, there are a few white yachts lined up, standing out from the rest." in sent
    assert "Fill the glass with water." in sent and "first item" in sent
    assert all("\n" not in s and not s.startswith(("1.", "- ", "* ")) for s in sent)
    assert len(sent) == b.usage()["sentences_unique"] >= 8


def test_placeholders_never_reach_the_model_and_always_come_back(tiny_model):
    b = Recording("en", "ko", model=str(tiny_model), device="cpu")
    texts = ["The box ⟦0⟧ holds a cat. See ⟦1⟧.", "⟦0⟧", "Look at ⟦0⟧ and ⟦1⟧ then ⟦2⟧ here"]
    assert b.translate(texts) == texts
    assert not any("⟦" in s or "⟧" in s for batch in b.sent for s in batch)
    assert b.sent[0] == ["The box", "holds a cat.", "See", "Look at", "and", "then", "here"]


def test_repeated_sentences_are_translated_once(tiny_model):
    b = Recording("en", "ko", model=str(tiny_model), device="cpu")
    assert b.translate(["What is this? What is this?", "What is this?"]) == ["What is this? What is this?",
                                                                             "What is this?"]
    assert b.sent == [["What is this?"]]
    assert b.usage()["sentences"] == 3 and b.usage()["sentences_unique"] == 1


def test_a_sentence_translated_in_an_earlier_call_is_not_decoded_again(tiny_model, monkeypatch):
    import translate.backends.nllb as nllb

    b = Recording("en", "ko", model=str(tiny_model), device="cpu")
    first = b.translate(["The dog runs. The cat sleeps."])
    second = b.translate(["The cat sleeps. A bird sings.", "The dog runs."])
    assert b.sent == [["The dog runs.", "The cat sleeps."], ["A bird sings."]]
    assert first == ["The dog runs. The cat sleeps."] and second == ["The cat sleeps. A bird sings.", "The dog runs."]
    assert b.counters["sentences_cached"] == 2
    # The cache is bounded: the oldest sentence goes first.
    monkeypatch.setattr(nllb, "SENTENCE_CACHE", 2)
    b.translate(["One more here."])
    assert list(b._sentence_cache) == ["The dog runs.", "One more here."]
    b.close()


def test_long_sentences_are_cut_before_they_reach_the_model(tiny_model):
    b = Recording("en", "ko", model=str(tiny_model), device="cpu", max_sentence_chars=40)
    text = "The cat is sitting on a mat, and the dog is sleeping near the door, and the bird sings."
    assert b.translate([text]) == [text]
    assert all(len(s) <= 40 for s in b.sent[0]) and len(b.sent[0]) == 3


# -- batching and decoding --------------------------------------------------------------------------------------

def test_batches_are_sorted_and_within_the_token_budget(tiny_model):
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", max_batch_tokens=40)
    lengths = [12, 3, 30, 7, 7, 19, 3, 41]
    batches = b.plan_batches(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat)
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 40


def test_small_token_budget_gives_many_batches_and_the_same_output(tiny_model):
    texts = [f"The cat number {n} is sitting on a mat." for n in range(12)] + ["What is this?"]
    small = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", max_batch_tokens=40)
    large = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", max_batch_tokens=4096)
    assert small.translate(texts) == large.translate(texts) == texts
    assert small.usage()["batches"] > 3 and large.usage()["batches"] == 1


def test_decoding_length_scales_with_input_and_can_be_fixed(tiny_model):
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu")
    assert b.decoding_length(10) == 36 and b.decoding_length(300) == 616  # 2 × n + 16, never the library's 256
    fixed = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", max_decoding_length=4, beam_size=1)
    out = fixed.translate(["The cat is sitting on a mat."])[0]
    assert out and "The cat is sitting on a mat.".startswith(out) and len(out) < 20  # the option reaches CTranslate2


class Spy:
    """Forwards to the real CTranslate2 translator and notes the options of each call."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def translate_batch(self, sources, **kwargs):
        self.calls.append((len(sources), kwargs))
        return self.real.translate_batch(sources, **kwargs)


def test_repeat_blocker_applies_except_where_the_source_repeats_itself(tiny_model):
    """BLIP captions repeat themselves; their faithful copy must not be forbidden, while every other sentence is
    decoded with the blocker."""
    looping = "a person photographic photographic photographic photographic print displayed on wall"
    plain = "The cat is sitting on a mat."
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", beam_size=1)
    b.load()
    b._translator = spy = Spy(b._translator)
    assert b.translate([looping, plain]) == [looping, plain]
    assert sorted((n, kw["no_repeat_ngram_size"]) for n, kw in spy.calls) == [(1, 0), (1, 8)]
    assert all(kw["repetition_penalty"] == 1.05 and kw["beam_size"] == 1 for _, kw in spy.calls)
    # The blocker is real: applied to the looping sentence, it changes the copy.
    raw = spy.real.translate_batch(b.tokenize([looping]), target_prefix=[["kor_Hang"]], beam_size=1,
                                   no_repeat_ngram_size=8)
    assert b.detokenize([b.strip_prefix(raw[0].hypotheses[0])]) != [looping]


def test_repeats_ngram():
    assert repeats_ngram(list("abcab"), 2) and not repeats_ngram(list("abcab"), 3)
    assert not repeats_ngram(["a"], 8) and repeats_ngram(["a"] * 9, 8) and not repeats_ngram(["a"] * 8, 8)


# -- options ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("0", [0]), ("0,1", [0, 1]), (" 2, 3 ", [2, 3]), ("0 1 2", [0, 1, 2]),
                                             (1, [1]), ([0, 3], [0, 3])])
def test_device_index_parses(value, expected):
    assert parse_device_index(value) == expected


@pytest.mark.parametrize("value", ["", "a", "-1", "0,0", "1.5", None, True])
def test_bad_device_index_is_a_config_error(value):
    with pytest.raises(ConfigError, match="device_index"):
        parse_device_index(value)


def test_options_from_the_command_line_are_coerced(tiny_model):
    b = create_backend("nllb", "en", "ja", {"model": str(tiny_model), "device": "cpu", "beam_size": "4",
                                            "repetition_penalty": "1.3", "max_batch_tokens": "512",
                                            "local_files_only": "true", "device_index": "0"})
    assert (b.beam_size, b.repetition_penalty, b.max_batch_tokens, b.local_files_only) == (4, 1.3, 512, True)
    assert b.tgt_code == "jpn_Jpan"
    with pytest.raises(ConfigError, match="beam_size"):
        create_backend("nllb", "en", "ko", {"model": str(tiny_model), "beam_size": "0"})
    with pytest.raises(ConfigError, match="does not take"):
        create_backend("nllb", "en", "ko", {"model": str(tiny_model), "beam": "2"})
    with pytest.raises(ConfigError, match="compute_type"):
        create_backend("nllb", "en", "ko", {"model": str(tiny_model), "compute_type": "int4"})


def test_several_gpus_need_the_gpu(tiny_model):
    with pytest.raises(ConfigError, match="several GPUs"):
        NLLBBackend("en", "ko", model=str(tiny_model), device="cpu", device_index="0,1")


@pytest.mark.skipif(HAS_GPU, reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tiny_model):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        NLLBBackend("en", "ko", model=str(tiny_model), device="cuda", device_index="0,1")


@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")
def test_cuda_on_every_listed_gpu(tiny_model):  # pragma: no cover - runs where a GPU is lent
    n = ctranslate2.get_cuda_device_count()
    b = NLLBBackend("en", "ko", model=str(tiny_model), device="cuda", device_index=",".join(map(str, range(n))))
    assert b.compute_type == "int8_float16"
    texts = [f"The cat number {i} is sitting on a mat." for i in range(64)]
    assert b.translate(texts) == texts


# -- laziness and fingerprints ----------------------------------------------------------------------------------

def test_fingerprint_never_loads_or_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LLAVA_TRANSLATE_CACHE", str(tmp_path))
    b = NLLBBackend("en", "ko", device="cpu")
    assert b.model == DEFAULT_MODEL
    fp = b.fingerprint()
    assert fp.startswith(f"nllb/{DEFAULT_MODEL}@{PINNED[DEFAULT_MODEL].revision}/int8/beam2/")  # the pinned commit
    assert b._translator is None and not any(tmp_path.iterdir())


def test_fingerprint_follows_content_not_location(tiny_model, tmp_path):
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(tiny_model, copy)
    base = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu").fingerprint()
    assert NLLBBackend("en", "ko", model=str(copy), device="cpu").fingerprint() == base
    assert str(tmp_path) not in base and str(tiny_model) not in base
    # int8 on a CPU and int8_float16 on a GPU share memory entries; other precisions and decoding options don't.
    assert NLLBBackend("en", "ko", model=str(copy), device="cpu", compute_type="int8_float16").fingerprint() == base
    for change in ({"compute_type": "float16"}, {"beam_size": 4}, {"repetition_penalty": 1.2},
                   {"no_repeat_ngram_size": 0}, {"max_sentence_chars": 200}):
        assert NLLBBackend("en", "ko", model=str(copy), device="cpu", **change).fingerprint() != base, change
    with open(copy / "model.bin", "r+b") as fh:  # other weights, same config and vocabulary
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\x00\x01\x02\x03\x04\x05\x06\x07")
    assert NLLBBackend("en", "ko", model=str(copy), device="cpu").fingerprint() != base


def test_weight_family():
    assert {weight_family(c) for c in ("auto", "int8", "int8_float16", "int8_float32", "int8_bfloat16")} == {"int8"}
    assert weight_family("float16") == "float16"


def test_hub_identity_is_the_id():
    assert model_identity("facebook/nllb-200-1.3B") == "facebook/nllb-200-1.3B"
    assert model_identity("facebook/nllb-200-1.3B", "abc123") == "facebook/nllb-200-1.3B@abc123"


# -- model resolution -------------------------------------------------------------------------------------------

def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("LLAVA_TRANSLATE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "llava-translate"
    monkeypatch.setenv("LLAVA_TRANSLATE_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_a_converted_model_in_the_cache_is_used_without_network(monkeypatch, tmp_path, tiny_model):
    monkeypatch.setenv("LLAVA_TRANSLATE_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copytree(tiny_model, tmp_path / "nllb" / "someone--tiny-nllb")
    assert resolve_model("someone/tiny-nllb") == tmp_path / "nllb" / "someone--tiny-nllb"
    b = NLLBBackend("en", "ko", model="someone/tiny-nllb", device="cpu")
    assert b.translate(["What is this?"]) == ["What is this?"]
    assert b.fingerprint().startswith("nllb/someone/tiny-nllb/")


def test_a_folder_without_the_sentencepiece_model_says_what_is_missing(tmp_path, tiny_model):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "sentencepiece.bpe.model").unlink()
    with pytest.raises(ModelNotFoundError, match="sentencepiece.bpe.model"):
        resolve_model(str(broken))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="neither a CTranslate2 model"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "nothing-here"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(args: list[str], env_extra: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "translate", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("offline", [True, False])
def test_without_network_the_error_names_the_model_and_the_local_folder_way(tmp_path, offline):
    src = write_records(tmp_path / "in.json", [{"id": "1", "conversations": [
        {"from": "human", "value": "Say hello."}, {"from": "gpt", "value": "Hello."}]}])
    env = {"LLAVA_TRANSLATE_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    # Offline mode, or a Hub endpoint on a local port where nothing listens: both are "no network".
    env.update({"HF_HUB_OFFLINE": "1"} if offline else {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"})
    res = _cli(["run", "--src", str(src), "--out", str(tmp_path / "out"), "--backend", "nllb",
                "--model", "someone/nllb-not-here", "--quiet"], env)
    assert res.returncode == 6, res.stderr
    message = " ".join(res.stderr.split())
    assert "someone/nllb-not-here" in message and "--model /path/to/folder" in message
    assert "Traceback" not in res.stderr


# -- the command line, end to end -------------------------------------------------------------------------------

def test_run_with_nllb_keeps_image_tokens_layout_and_spans(tmp_path, tiny_model):
    paragraph = (FIXTURES / "llava_prompts" / "detail_description" / "000_conv.txt").read_text(encoding="utf-8")
    blip = json.loads((FIXTURES / "blip_excerpt.json").read_text(encoding="utf-8"))[:20]
    records = blip + [
        {"id": "detail", "image": "x.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat do you see happening in this image?"},
            {"from": "gpt", "value": paragraph}]},
        {"id": "spans", "image": "y.jpg", "conversations": [
            {"from": "human", "value": "Where is the dog [0.12, 0.34, 0.56, 0.78] standing?\n<image>"},
            {"from": "gpt", "value": "Run `ls -la` first. Then open https://example.com/a now.\n1. The cat sat.\n- A dog."}]},
    ]
    src = write_records(tmp_path / "mini.json", records)
    config = tmp_path / "run.toml"
    config.write_text("[qc]\nuntranslated = false\nwrong_script = false\n", encoding="utf-8")
    res = _cli(["run", "--src", str(src), "--out", str(tmp_path / "out"), "--backend", "nllb", "--model",
                str(tiny_model), "--config", str(config), "--device", "cpu", "--quiet"],
               {"LLAVA_TRANSLATE_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "out" / "ko_mini.json").read_text(encoding="utf-8"))
    rejected = (tmp_path / "out" / "ko_mini.rejected.jsonl").read_text(encoding="utf-8")
    assert rejected == "" and len(out) == len(records)
    for before, after in zip(records, out):
        assert after["id"] == before["id"]
        for t_in, t_out in zip(before["conversations"], after["conversations"]):
            v_in, v_out = t_in["value"], t_out["value"]
            assert v_in.count("<image>") == v_out.count("<image>")
            assert v_in.startswith("<image>") == v_out.startswith("<image>")
            assert v_in.endswith("<image>") == v_out.endswith("<image>")
            if t_in["from"] == "gpt":
                assert v_out == v_in  # the copy model: everything sent came back, in place
    spans = out[-1]["conversations"]
    assert "[0.12, 0.34, 0.56, 0.78]" in spans[0]["value"] and spans[0]["value"].endswith("\n<image>")
    manifest = json.loads((tmp_path / "out" / "ko_mini.manifest.json").read_text(encoding="utf-8"))
    assert manifest["backend"]["fingerprint"].startswith("nllb/local:")
    assert manifest["backend"]["usage"]["sentences"] > len(records)
    assert str(tiny_model) not in manifest["backend"]["fingerprint"]


# -- optional: the real converter on a tiny Transformers M2M100 ---------------------------------------------------

@pytest.mark.slow
def test_transformers_m2m100_converts_and_matches_generate(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from nllb_support import train_sentencepiece

    monkeypatch.setenv("LLAVA_TRANSLATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hf_dir = tmp_path / "hf-tiny"
    hf_dir.mkdir()
    train_sentencepiece(hf_dir / "sentencepiece.bpe.model", vocab_size=500, language_codes=False)
    tokenizer = transformers.NllbTokenizer.from_pretrained(hf_dir, src_lang="eng_Latn", tgt_lang="kor_Hang")
    if tokenizer.convert_tokens_to_ids("kor_Hang") == tokenizer.unk_token_id:  # transformers 5 wants them spelled out
        from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

        tokenizer = transformers.NllbTokenizer.from_pretrained(hf_dir, src_lang="eng_Latn", tgt_lang="kor_Hang",
                                                               extra_special_tokens=FAIRSEQ_LANGUAGE_CODES)
    tokenizer.save_pretrained(hf_dir)  # the Hub repositories of NLLB hold both sentencepiece.bpe.model and these
    torch.manual_seed(0)
    config = transformers.M2M100Config(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id, scale_embedding=True,
    )
    model = transformers.M2M100ForConditionalGeneration(config).eval()
    model.save_pretrained(hf_dir)

    path = resolve_model(str(hf_dir))
    assert (path / "model.bin").is_file() and (path / "sentencepiece.bpe.model").is_file()
    assert path.parent == tmp_path / "cache" / "nllb"
    assert resolve_model(str(hf_dir)) == path  # converted once

    b = NLLBBackend("en", "ko", model=str(hf_dir), device="cpu", compute_type="float32", beam_size=1,
                    repetition_penalty=1.0, no_repeat_ngram_size=0, max_decoding_length=9, min_decoding_length=9)
    text = "The cat is sitting on a mat."
    enc = tokenizer(text, return_tensors="pt")
    assert b.tokenize([text])[0] == tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    with torch.no_grad():
        ids = model.generate(**enc, forced_bos_token_id=tokenizer.convert_tokens_to_ids("kor_Hang"), num_beams=1,
                             do_sample=False, max_new_tokens=9, min_new_tokens=9)
    hf_tokens = tokenizer.convert_ids_to_tokens(ids[0])
    b.load()
    ct2 = b._translator.translate_batch(b.tokenize([text]), target_prefix=[["kor_Hang"]], beam_size=1,
                                        max_decoding_length=9, min_decoding_length=9)[0].hypotheses[0]
    assert hf_tokens[0] == "</s>" and hf_tokens[1:] == ct2  # decoder start token, then the same tokens
    assert b.translate([text])[0] == b.detokenize([b.strip_prefix(ct2)])[0]


def test_nllb_flags_of_run_reach_the_backend(tmp_path, tiny_model):
    src = write_records(tmp_path / "in.json", [{"id": "1", "conversations": [
        {"from": "human", "value": "Say hello."}, {"from": "gpt", "value": "Hello."}]}])
    env = {"LLAVA_TRANSLATE_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    common = ["run", "--src", str(src), "--out", str(tmp_path / "out"), "--backend", "nllb", "--model",
              str(tiny_model), "--device", "cpu", "--on-reject", "keep", "--quiet"]
    res = _cli([*common, "--device-index", "0,1"], env)
    assert res.returncode == 2 and "several GPUs" in " ".join(res.stderr.split())
    res = _cli([*common, "--beam-size", "3", "--compute-type", "float32"], env)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "out" / "ko_in.manifest.json").read_text(encoding="utf-8"))
    assert "/float32/beam3/" in manifest["backend"]["fingerprint"]
    assert manifest["backend"]["usage"]["compute_type"] == "float32"


def test_chinese_and_japanese_sentences_are_joined_without_a_space(tiny_model):
    text = "これは猫です。 それは寝ています。\n- 次\nA cat. A dog."
    ja = NLLBBackend("en", "ja", model=str(tiny_model), device="cpu")
    ko = NLLBBackend("en", "ko", model=str(tiny_model), device="cpu")
    assert ja.translate([text]) == ["これは猫です。それは寝ています。\n- 次\nA cat. A dog."]
    assert ko.translate([text]) == [text]
