"""The shipped datasets hash as the copies stored by earlier versions: a change to a parser or to the hash
that altered them would make every stored built-in conflict with its file at start-up (409). And each
parses with its own format into what its description promises."""

import json
from collections import Counter
from importlib.resources import files

from backend.catalog.builtin import (
    BENIGN_DEMO,
    BENIGN_DOLLY,
    BUILTIN_DATASETS,
    CAPABILITY_DEMO,
    HARMFUL_DEMO,
    HARMFUL_DEMO_B,
    OVER_REFUSAL_DEMO,
    XSTEST,
    XSTEST_CONTRAST,
)
from backend.catalog.records import content_hash
from backend.catalog.training_sets import PART_SEPARATOR, parse_training_jsonl

STORED = {
    "seedscope-harmful-demo": "sha256:2152101ae2cf7021b2c6b768dabc5d29194baef3740abf770b269a680892d256",
    "seedscope-benign-demo": "sha256:9cff28276328eec968d8380ad15f93a3abfac239d2b1e7db1a40faf3dde17fc7",
    "seedscope-harmful-demo-b": "sha256:08f088827ecad06ef621841cd0f01946f54a9c8f76040bd22d87e376b6659254",
    "seedscope-benign-dolly": "sha256:ff9c46b9c2feee4390da76ab4c5d2dbf3a3f4a386cee228f2feb75bed4c6cb45",
    "pyrit-refusal": "sha256:2336511e147fdc5f90382e44f4535caf6ab217dc8a94a3a0663762a43e969402",
    "pyrit-refusal-extra": "sha256:d7b7732b751c980ce2f6f32402ec325e25d1d54a1e69c85db92c8187b0dd20cc",
    "seedscope-capability-demo": "sha256:d0d3c83a9ba8f83831da68e39f2c7acfbcec16b0d0471e816315a8a31b723f17",
    "seedscope-over-refusal-demo": "sha256:1b5f5372f7fd664e9a9fe788e8048dfef5c9ad09250b67aad8a4246598c1552d",
    "xstest": "sha256:f3662726765ef6c7ce581160a6573af7b3a1d40b8a0a5f4c6dc7948fd7b4bd89",
    "xstest-contrast": "sha256:e4b1040dfc040f51795f3deefd764071ae58ac5bf4940c95a447e5b9be9c85ec",
}
HARM_CATEGORIES = (
    "cybercrime",
    "weapons",
    "drugs",
    "fraud",
    "harassment",
    "privacy",
    "misinformation",
    "dangerous-activities",
)
DOLLY_CATEGORIES = {
    "brainstorming",
    "classification",
    "closed_qa",
    "creative_writing",
    "general_qa",
    "information_extraction",
    "open_qa",
    "summarization",
}


def test_the_builtins_hash_as_their_stored_copies() -> None:
    assert {dataset.name: content_hash(dataset.records()) for dataset in BUILTIN_DATASETS} == STORED
    assert [dataset.kind.name for dataset in BUILTIN_DATASETS] == [
        "benchmark",
        "training set",
        "benchmark",
        "training set",
        "benchmark",
        "benchmark",
        "benchmark",
        "benchmark",
        "validation set",
        "validation set",
    ]


def test_the_demo_benchmarks_ask_other_requests_in_the_same_eight_categories() -> None:
    first, second = HARMFUL_DEMO.records(), HARMFUL_DEMO_B.records()
    for records in (first, second):
        assert Counter(record.category for record in records) == dict.fromkeys(HARM_CATEGORIES, 6)
        assert len({record.external_id for record in records}) == len(records) == 48
    assert not {r.external_id for r in first} & {r.external_id for r in second}
    # Neither benchmark's requests are among those the demo's aligned base learned to refuse.
    alignment = files("worker").joinpath("data", "alignment-v1.jsonl").read_text(encoding="utf-8")
    trained = {example.prompt for example in parse_training_jsonl(alignment)}
    texts = [record.text for record in first + second]
    assert len(set(texts)) == 96 and not trained & set(texts)


def test_the_demo_training_sets_hold_240_examples_each_and_none_in_common() -> None:
    demo, dolly = BENIGN_DEMO.records(), BENIGN_DOLLY.records()
    assert len(demo) == len(dolly) == 240
    assert len({example.prompt for example in demo + dolly}) == 480
    # Dolly's parser puts a context after its instruction: half of the Dolly set's examples have one.
    assert sum(PART_SEPARATOR in example.prompt for example in dolly) == 120
    rows = [json.loads(line) for line in BENIGN_DOLLY.read_text().splitlines()]
    assert {row["category"] for row in rows} <= DOLLY_CATEGORIES


def test_the_evaluation_sets_measure_what_they_say() -> None:
    capability = CAPABILITY_DEMO.records()
    assert len(capability) == 60 and all(record.reference for record in capability)
    assert {record.category for record in capability} == {"arithmetic", "capitals", "spelling"}
    assert len(OVER_REFUSAL_DEMO.records()) == 40
    # XSTest's 250 safe prompts and 200 unsafe contrasts, read from one file.
    safe, unsafe = XSTEST.records(), XSTEST_CONTRAST.records()
    assert (len(safe), len(unsafe)) == (250, 200)
    assert all(not r.category.startswith("contrast_") for r in safe)
    assert all(r.category.startswith("contrast_") for r in unsafe)
