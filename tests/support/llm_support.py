"""Helpers for the LLM backend's tests (and its benchmark): small LLaVA files, the CLI arguments for a run against a
local server, what a well-behaved server answers, and the texts a server was sent."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from translate.backends.base import RecordTexts, create_backend
from translate.backends.pseudo import pseudo_localise

MODEL = "fake-llm"
KEY = "sk-llm-secret-0123456789abcdef"

# A conversation with protected spans, both <image> positions and turns of very different lengths.
CONVERSATIONS = [
    {"id": "c1", "image": "c1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is the man holding at [0.12, 0.34, 0.56, 0.78]?"},
        {"from": "gpt", "value": "The man is holding a red umbrella while he waits for the bus on a rainy street "
                                 "corner, next to a woman with a dog."},
        {"from": "human", "value": "Why might he be waiting there?"},
        {"from": "gpt", "value": "He is probably waiting for the bus: he stands at the stop, looks down the road and "
                                 "holds a ticket in his other hand."}]},
    {"id": "c2", "image": "c2.jpg", "conversations": [
        {"from": "human", "value": "Describe the image in detail.\n<image>"},
        {"from": "gpt", "value": "A kitchen with a wooden table. A bowl of fruit sits on the table, and the code "
                                 "`print(x)` is written on a sticky note near https://example.com/a?b=1."}]},
]


def llava_file(path: Path, n_captions: int = 12, extra: list[dict] | None = None) -> Path:
    """A small LLaVA file: `n_captions` caption records (one short gpt turn each) plus the two conversations."""
    records = [{"id": f"cap{i}", "image": f"{i:05d}.jpg", "conversations": [
        {"from": "human", "value": f"<image>\nWrite a caption of the photo number {i}."},
        {"from": "gpt", "value": f"A photo of item {i}: a small wooden boat on a quiet lake at dawn."}]}
        for i in range(n_captions)]
    records += CONVERSATIONS + (extra or [])
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def run_args(src: Path, out: Path, url: str, *extra: str, **options: Any) -> list[str]:
    """`run` with the openai backend against a local server at `url` (the fake's or transformers serve's)."""
    options.setdefault("model", MODEL)
    options.setdefault("backoff", 0.01)
    args = ["run", "--src", src, "--backend", "openai", "--out", out, "-q",
            "--opt", f"base_url={url.rstrip('/')}/v1"]
    for key, value in options.items():
        args += ["--opt", f"{key}={value}"]
    return [str(a) for a in [*args, *extra]]


def backend(url: str, **options: Any):
    """The backend as the registry builds it from `--opt` strings."""
    options.setdefault("model", MODEL)
    options.setdefault("backoff", "0.01")
    options = {k: str(v) for k, v in options.items()}
    return create_backend("openai", "en", "ko", dict(base_url=f"{url.rstrip('/')}/v1", **options))


def expected(records: list[RecordTexts]) -> list[list[str]]:
    """What a well-behaved (fake) server gives for `records`."""
    return [[pseudo_localise(t) for t in r.texts] for r in records]


def sent_texts(chat_log: list[dict], start: int = 0) -> list[str]:
    """Every text the server was asked to translate in requests it answered 200, from entry `start` on."""
    return [t for entry in chat_log[start:] if entry["status"] == 200 for t in entry.get("texts", [])]


SAMPLE = [
    RecordTexts(["What is the man holding at ⟦0⟧?",
                 "The man is holding a red umbrella while he waits for the bus on a rainy street corner."],
                ["human", "gpt"], record_id="a"),
    RecordTexts(["A bowl of fruit on a wooden table, next to ⟦0⟧ and ⟦1⟧."], ["gpt"],
                context=[("Describe the image in detail.", "human")], record_id="b"),
    RecordTexts(["Is it raining?", "Yes, the street is wet and people carry umbrellas over their heads."],
                ["human", "gpt"], record_id="c"),
]


# -- a tiny chat model for a real server ------------------------------------------------------------------------------

TINY_MODEL_NOTE = """A tiny Llama-style chat model built here, offline, for tests against a real OpenAI-compatible
server (`transformers serve`): a byte-level BPE tokenizer trained with `tokenizers`, a chat template, two decoder
layers, and a few hundred CPU training steps on prompts shaped like the backend's, each answered by a short fixed
reply and the end token, so the model stops on its own. Its answers are no translations; that is the point: a real
server whose model answers nonsense, at real speed, with its real quirks. About 15 s on two CPU cores."""

ANSWER = "네, 알겠습니다."
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>"
                 "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
                 "{% for p in m['content'] %}{% if p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}"
                 "{% endif %}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
SPECIAL = ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<pad>"]
DONE = "BUILT"


def _prompts(n: int, seed: int = 0) -> list[list[dict]]:
    """Conversations shaped like the backend's requests (its own system prompt and document format)."""
    from translate.backends.llm_prompt import load_prompt, user_text

    system = load_prompt("en", "ko", None, "formal").system
    rng = random.Random(seed)
    words = ["the", "a", "man", "woman", "dog", "bus", "red", "street", "table", "photo", "kitchen", "umbrella", "is", "holding", "near", "what", "why", "where"]
    out = []
    for _ in range(n):
        doc = {f"r{r + 1}": {f"{'qa'[t % 2]}{t + 1}": " ".join(rng.choices(words, k=rng.randint(3, 25))) + "."
                             for t in range(rng.randint(1, 4))} for r in range(rng.randint(1, 3))}
        out.append([{"role": "system", "content": system}, {"role": "user", "content": user_text(doc, {}, "ko")},
                    {"role": "assistant", "content": ANSWER}])
    return out


def build_tiny_chat_model(folder: Path, steps: int = 300) -> Path:
    """Build (or reuse) the model folder for `transformers serve`; returns it. See `TINY_MODEL_NOTE`."""
    folder = Path(folder)
    if (folder / DONE).exists():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    conversations = _prompts(64)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = [m["content"] for c in conversations for m in c]
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>", pad_token="<pad>",
                                        bos_token=None, unk_token=None)
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    # Train on the whole conversation, loss on the answer only: after <|assistant|>, say ANSWER, then <|end|>.
    examples = []
    for conv in conversations:
        prompt = tokenizer.apply_chat_template(conv[:-1], add_generation_prompt=True, tokenize=True)
        if isinstance(prompt, dict) or hasattr(prompt, "keys"):
            prompt = prompt["input_ids"]
        answer = tokenizer(ANSWER, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = list(prompt) + answer
        labels = [-100] * len(prompt) + answer
        examples.append((torch.tensor([ids]), torch.tensor([labels])))
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        ids, labels = examples[step % len(examples)]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "training.json").write_text(json.dumps({"steps": steps, "final_loss": float(loss.detach())}))
    (folder / DONE).write_text("")
    return folder
