"""A tiny NLLB-shaped CTranslate2 model, built offline, whose "translation" is an exact copy of its input.

The weights are set by hand so the model's behaviour is known and a test can fail:

* the model dimension holds one one-hot block for tokens and one for positions; embeddings and position encodings
  write a 1 into each;
* encoder layers and decoder self-attention are switched off (zero output projections and FFNs), so each state is
  just "token + position";
* decoder cross-attention matches positions (query and key both read the position block), so decoder position p
  attends to source position p, and copies that token (value and output projections read the token block);
* the output projection reads the token block.

Given ``[src_code, w1 … wn, "</s>"]`` and the target prefix ``[tgt_code]`` the model emits ``tgt_code w1 … wn </s>``:
the backend must strip the prefix and detokenise to get the input sentence back. The SentencePiece model is trained
here, with byte fallback and no normalisation (so every string round-trips), and NLLB language codes as user-defined
symbols in the vocabulary.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LANG_CODES = ["eng_Latn", "kor_Hang", "jpn_Jpan", "zho_Hans", "vie_Latn", "fra_Latn", "deu_Latn"]
POSITIONS = 192
FFN = 8

_CORPUS = """\
The image shows a harbor filled with numerous boats of various sizes docked next to a long building.
Among the boats, there are a few white yachts lined up, standing out from the rest.
There is a red bicycle prominently parked in front of the line of docked boats.
A person is visible near the right side of the harbor, possibly enjoying the view.
What color is the fire hydrant in the image? The fire hydrant in the image is red.
Provide a brief description of the given image. Describe the image concisely.
a garden with a clipped hedge and a large stone fountain in front of it
the bunk room with two beds, a table and a lamp on the wall
What is in the photo? What is this? Share a concise interpretation of the image provided.
The cat is sitting on a mat, and the dog is sleeping near the door.
1. Fill the glass with water. 2. Drink it slowly. - first item * second item
Dr. Smith and Mr. Jones met at the station on Monday, e.g. at noon.
"""


def corpus() -> list[str]:
    """Training text: the lines above plus the committed LLaVA fixtures, so that words split into a realistic few
    pieces (as with NLLB's large vocabulary) rather than into letters."""
    lines = [line for line in _CORPUS.splitlines() if line]
    blip = json.loads((FIXTURES / "blip_excerpt.json").read_text(encoding="utf-8"))
    lines += [turn["value"] for rec in blip for turn in rec["conversations"]]
    for path in sorted((FIXTURES / "llava_prompts").glob("*/*.txt")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def train_sentencepiece(path: Path, vocab_size: int = 800, language_codes: bool = True) -> None:
    import sentencepiece as spm

    lines = corpus()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        user_defined_symbols=LANG_CODES if language_codes else [],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


def _ln(spec, d: int) -> None:
    spec.gamma = np.ones(d, dtype=np.float32)
    spec.beta = np.zeros(d, dtype=np.float32)


def _linear(spec, weight: np.ndarray) -> None:
    spec.weight = weight.astype(np.float32)
    spec.bias = np.zeros(weight.shape[0], dtype=np.float32)


def build_copy_model(out_dir: Path, positions: int = POSITIONS) -> Path:
    """Write the tiny model (model.bin, shared_vocabulary.json, config.json, sentencepiece.bpe.model) to `out_dir`."""
    import sentencepiece as spm
    from ctranslate2.specs import common_spec, transformer_spec

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spm_path = out_dir / "sentencepiece.bpe.model"
    train_sentencepiece(spm_path)
    sp = spm.SentencePieceProcessor(model_file=str(spm_path))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    v = len(vocab)
    d = v + positions

    spec = transformer_spec.TransformerSpec.from_config(
        (1, 1), 1, pre_norm=True, activation=common_spec.Activation.RELU, layernorm_embedding=False
    )
    tok = np.zeros((v, d), dtype=np.float32)
    tok[np.arange(v), np.arange(v)] = 1.0
    pos = np.zeros((positions, d), dtype=np.float32)
    pos[np.arange(positions), v + np.arange(positions)] = 1.0
    zeros = np.zeros((d, d), dtype=np.float32)
    read_pos = np.zeros((d, d), dtype=np.float32)
    read_pos[v + np.arange(positions), v + np.arange(positions)] = 1.0
    read_tok = np.zeros((d, d), dtype=np.float32)
    read_tok[np.arange(v), np.arange(v)] = 1.0

    for stack in (spec.encoder, spec.decoder):
        stack.scale_embeddings = 1.0
        stack.position_encodings.encodings = pos
        _ln(stack.layer_norm, d)
        for layer in stack.layer:
            _ln(layer.self_attention.layer_norm, d)
            _linear(layer.self_attention.linear[0], np.zeros((3 * d, d)))
            _linear(layer.self_attention.linear[1], zeros)
            _ln(layer.ffn.layer_norm, d)
            _linear(layer.ffn.linear_0, np.zeros((FFN, d)))
            _linear(layer.ffn.linear_1, np.zeros((d, FFN)))
    spec.encoder.embeddings[0].weight = tok
    spec.decoder.embeddings.weight = tok
    cross = spec.decoder.layer[0].attention
    _ln(cross.layer_norm, d)
    _linear(cross.linear[0], 2.0 * read_pos)  # queries: position block, sharpened
    _linear(cross.linear[1], np.concatenate([read_pos, read_tok]))  # keys: position; values: token
    _linear(cross.linear[2], read_tok)
    _linear(spec.decoder.projection, tok)

    spec.config.bos_token = "<s>"
    spec.config.eos_token = "</s>"
    spec.config.unk_token = "<unk>"
    spec.config.decoder_start_token = "</s>"
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.optimize(quantization="int8")  # one-hot weights are exact in int8, and the file is 4× smaller
    spec.save(str(out_dir))
    return out_dir


def cached_copy_model(cache_dir: Path) -> Path:
    """The tiny model, built once per content of this file, the fixtures it trains on and the CTranslate2 version
    (importing ctranslate2.specs imports torch where it is installed, which alone takes seconds)."""
    import ctranslate2

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(ctranslate2.__version__.encode())
    for line in corpus():
        h.update(line.encode("utf-8") + b"\n")
    target = Path(cache_dir) / h.hexdigest()[:16]
    if (target / "model.bin").is_file():
        return target
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".build-"))
    try:
        build_copy_model(tmp / "model")
        try:
            os.replace(tmp / "model", target)
        except OSError:  # another process got there first
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
