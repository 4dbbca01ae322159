"""Writes the malformed-input corpus in tests/robustness/cases/ (the files are committed; this script documents how
each one's bytes were made and rebuilds them: ``python tests/robustness/make_corpus.py``).

Expected outcomes live in cases.toml beside this script; tests/test_robustness.py runs every case through the
command line.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent / "cases"


def rec(rid, human="<image>\nWhat is in the picture?", gpt="A cat on a red sofa.", **extra):
    out = {"id": rid, "image": f"{rid}.jpg", "conversations": [
        {"from": "human", "value": human}, {"from": "gpt", "value": gpt}]}
    out.update(extra)
    return out


def dump(records) -> str:
    return json.dumps(records, ensure_ascii=False)


def line(record) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def cases() -> dict[str, bytes]:
    good1, good2 = rec("g1"), rec("g2", gpt="Two dogs running on a beach.")
    c: dict[str, str | bytes] = {}
    # -- files that cannot be read as a whole: exit 2, nothing written --------------------------------------------
    c["truncated_mid_record.json"] = dump([good1, good2, rec("t3")])[:-60]
    c["truncated_after_comma.json"] = dump([good1, good2])[:-1] + ","
    c["missing_comma.json"] = dump([good1]) [:-1] + " " + dump([good2])[1:]
    c["trailing_garbage.json"] = dump([good1, good2]) + "\n}{ oops"
    c["top_level_object.json"] = json.dumps({"data": [good1, good2]}, indent=2)
    c["top_level_string.json"] = '"a caption, not a list of records"\n'
    c["top_level_number.json"] = "42\n"
    c["empty.json"] = ""
    c["whitespace_only.json"] = "  \n\t\n"
    c["bad_utf8_array.json"] = dump([good1]).encode()[:-3] + b", {\"id\": \"caf\xe9\"}]"
    c["nul_raw_array.json"] = dump([good1]).encode().replace(b"A cat", b"A\x00cat")
    c["deep_nesting_array.json"] = '[{"id": "deep", "extra": ' + "[" * 5000 + "]" * 5000 + "}]"
    # -- files that run; bad records are quarantined with reasons --------------------------------------------------
    c["records_not_objects.json"] = dump([1, "a caption", None, [good1], True, good2])
    c["missing_conversations.json"] = dump([{"id": "m1", "image": "m1.jpg"}, good1,
                                            {"id": "m3", "image": "m3.jpg", "conversation": good2["conversations"]}])
    c["conversations_not_list.json"] = dump([
        dict(rec("c1"), conversations="What is in the picture?"),
        dict(rec("c2"), conversations={"from": "human", "value": "hi"}),
        dict(rec("c3"), conversations=None), good1])
    c["empty_conversations.json"] = dump([dict(rec("e1"), conversations=[]), good1])
    c["turn_missing_from.json"] = dump([
        {"id": "f1", "image": "f1.jpg", "conversations": [{"value": "<image>\nWhat is this?"},
                                                         {"from": "gpt", "value": "A bus."}]}, good1])
    c["turn_missing_value.json"] = dump([
        {"id": "v1", "image": "v1.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
                                                         {"from": "gpt", "text": "A bus."}]}, good1])
    c["turn_not_object.json"] = dump([
        {"id": "o1", "image": "o1.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
                                                         "A bus."]}, good1])
    c["value_not_string.json"] = dump([
        rec("n1", gpt=42), rec("n2", gpt=None), rec("n3", human=["<image>", "What?"]), rec("n4", gpt={"t": 1}), good1])
    c["bad_utf8_jsonl.jsonl"] = (line(good1).encode() + line(rec("u2")).encode().replace(b"cat", b"c\xe4t")
                                 + line(good2).encode())
    c["bom_array.json"] = "\ufeff" + dump([good1, good2])
    c["bom_jsonl.jsonl"] = "\ufeff" + line(good1) + line(good2)
    c["huge_value.json.gz"] = gzip.compress(
        dump([rec("h1", gpt="A cat. " * 750_000), good1]).encode(), mtime=0)  # a 5.25 MB value
    c["empty_array.json"] = "[]\n"
    c["duplicate_ids.json"] = dump([rec("a"), rec("b"), rec("a", gpt="Another answer."), rec("a"), rec(7), rec("7")])
    c["two_image_tokens.json"] = dump([
        rec("i1", human="<image>\n<image>\nCompare the two pictures."),
        {"id": "i2", "image": "i2.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat."},
            {"from": "human", "value": "<image>\nAnd now?"}, {"from": "gpt", "value": "A dog."}]}, good1])
    c["image_in_gpt_turn.json"] = dump([rec("p1", gpt="It shows <image> a cat."), good1])
    c["nul_escape.json"] = dump([rec("z1", gpt="A cat\u0000 on a sofa."), good1])
    c["nul_raw_jsonl.jsonl"] = line(good1).encode() + line(rec("z2")).encode().replace(b"A cat", b"A\x00cat")
    c["lone_surrogate.json"] = (dump([rec("s1", gpt="A cat SURR1 on a sofa."), rec("s2", human="<image>\nWhat SURR2?"),
                                      good1])
                                .replace("SURR1", "\\ud800").replace("SURR2", "\\udc00\\ud83d"))
    c["surrogate_in_kept_key.json"] = dump([rec("s9", note="SURR"), good1]).replace("SURR", "x\\udc80y")
    c["jsonl_blank_and_broken.jsonl"] = ("\n" + line(good1) + "\n   \n" + line(good2)[:-20] + "\n"
                                         + line(rec("j3")).replace("\n", "\r\n") + "\n\n" + line(rec("j4")).rstrip("\n"))
    c["mixed_from.json"] = dump([
        good1,
        {"id": "r1", "conversations": [{"from": "user", "value": "Hello?"}, {"from": "assistant", "value": "Hi."}]},
        {"id": "r2", "conversations": [{"from": "Human", "value": "Hello?"}, {"from": "GPT", "value": "Hi."}]},
        {"id": "r3", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                                       {"from": "gpt", "value": "Hi."}]},
        {"id": "r4", "conversations": [{"from": None, "value": "Hello?"}, {"from": "gpt", "value": "Hi."}]}])
    c["bad_id.json"] = dump([dict(rec("x"), id={"n": 1}), dict(rec("x"), id=[1, 2]), dict(rec("x"), id=1.5), good1])
    c["deep_nesting_jsonl.jsonl"] = (line(good1) + '{"id": "deep", "extra": ' + "[" * 5000 + "]" * 5000 + "}\n"
                                     + line(good2))
    c["jsonl_non_object_line.jsonl"] = line(good1) + "[1, 2, 3]\n" + '"just text"\n' + line(good2)
    c["bench_text_not_string.jsonl"] = (
        line({"question_id": 1, "image": "001.jpg", "text": "What is unusual here?", "category": "conv"})
        + line({"question_id": 2, "image": "002.jpg", "text": 5, "category": "conv"})
        + line({"question_id": 3, "image": "003.jpg", "category": "conv"}))
    c["nan_and_infinity.json"] = (dump([rec("q1", gpt="NANHERE"), rec("q2", score=1), good1])
                                  .replace('"NANHERE"', "NaN").replace('"score": 1', '"score": Infinity'))
    # -- issue 17: JSON oddities, turn order, wrongly shaped files -------------------------------------------------
    c["number_overflow.json"] = (dump([rec("o1", score="BIG"), rec("o2", meta={"scores": [1, "NEGBIG"]}), good1])
                                 .replace('"BIG"', "1e400").replace('"NEGBIG"', "-1e400"))
    c["duplicate_keys.json"] = "[" + ",\n".join([
        dump(rec("d1", gpt="FIRST")).replace('"value": "FIRST"', '"value": "A cat.", "value": "A dog."'),
        dump(rec("d2")).replace('"id": "d2"', '"id": "d2", "id": "d2b"'),
        dump(rec("d3", meta={"k": 1})).replace('{"k": 1}', '{"k": 1, "k": 2}'),
        dump(good1)]) + "]"
    c["duplicate_keys_jsonl.jsonl"] = (line(good1) + line(rec("d4")).replace('"image": "d4.jpg"',
                                       '"image": "d4.jpg", "image": "other.jpg"') + line(good2))
    c["bad_turn_order.json"] = dump([
        {"id": "h1", "image": "h1.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "human", "value": "And the colour?"},
            {"from": "gpt", "value": "A red bus."}]},
        {"id": "h2", "conversations": [{"from": "gpt", "value": "Hello."}, {"from": "human", "value": "Hi."},
                                       {"from": "gpt", "value": "How can I help?"}]},
        {"id": "h3", "image": "h3.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A bus."},
            {"from": "gpt", "value": "A red one."}]},
        {"id": "h4", "conversations": [{"from": "human", "value": "A question without an answer yet."}]},
        good1])
    c["top_level_object_one_line.json"] = json.dumps({"info": {"version": 1}, "data": [good1, good2],
                                                      "tags": ["a", "b", "c"]})
    c["jsonl_named_json.json"] = line(good1) + line(good2)
    c["empty_and_blank_values.json"] = dump([rec("b1", gpt=""), rec("b2", gpt="   \n"), rec("b3", human="<image>")])
    c["markup_in_values.json"] = dump([rec("k1", gpt="[/red] [bold]{0} %s ⟦0⟧ <x i=\"0\">y</x> \\n"), good1])
    return {name: (data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
            for name, data in c.items()}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, data in cases().items():
        (HERE / name).write_bytes(data)
    print(f"{len(cases())} files in {HERE}")


if __name__ == "__main__":
    main()
