"""Judge definitions: what each kind takes, the defaults it gets, its content hash, and the reference type."""

import pytest
from pydantic import ValidationError

from backend.domain import JudgeRef
from backend.judging.builtins import BUILTIN_JUDGES, JUDGE_PRESETS, builtin_judge, judge_template
from backend.judging.definition import JudgeConfig, JudgeKind, JudgeSpec


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("refusal-minilm", JudgeRef("refusal-minilm")),
        ("refusal-minilm@2", JudgeRef("refusal-minilm", 2)),
        ("  Llama_Guard.3-8b@12 ", JudgeRef("Llama_Guard.3-8b", 12)),
    ],
)
def test_a_judge_reference_is_parsed_and_written_back(text: str, ref: JudgeRef) -> None:
    assert JudgeRef.parse(text) == ref
    assert str(ref) == text.strip()
    assert JudgeRef.parse(str(ref.pinned(3))) == JudgeRef(ref.name, 3)


@pytest.mark.parametrize("text", ["", "@2", "judge@", "judge@0", "judge@v2", "judge@2@3", "-judge", "a b"])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a judge reference"):
        JudgeRef.parse(text)


def test_defaults_are_filled_so_the_hash_covers_what_runs() -> None:
    explicit = JudgeConfig(kind=JudgeKind.REFUSAL_MINILM, threshold=0.25)
    assert JudgeConfig(kind=JudgeKind.REFUSAL_MINILM) == explicit
    assert JudgeConfig(kind=JudgeKind.REFUSAL_MINILM).content_hash() == explicit.content_hash()
    assert JudgeConfig(kind=JudgeKind.REFUSAL_MINILM, threshold=0.3).content_hash() != explicit.content_hash()
    llm = JudgeSpec.model_validate(JUDGE_PRESETS["strongreject"]).config()
    assert (llm.threshold, llm.timeout_s, llm.max_retries, llm.concurrency, llm.temperature) == (
        0.5,
        60.0,
        4,
        4,
        0.0,
    )


def test_the_hash_ignores_name_and_description() -> None:
    first = JudgeSpec(name="a", description="one", kind=JudgeKind.REFUSAL_PHRASES)
    second = JudgeSpec(name="b", description="two", kind=JudgeKind.REFUSAL_PHRASES)
    assert first.config().content_hash() == second.config().content_hash()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "refusal-phrases", "threshold": 0.2}, "a refusal-phrases judge has no field threshold"),
        ({"kind": "causal-lm", "model": "org/m"}, "a causal-lm judge needs parse"),
        (
            {"kind": "causal-lm", "model": "org/m", "parse": {"rule": "llama-guard"}, "endpoint": "http://x"},
            "has no field endpoint",
        ),
        (
            {"kind": "causal-lm", "model": "org/m", "parse": {"rule": "llama-guard"}, "threshold": 0.5},
            "gives no score, so a threshold has no use",
        ),
        (
            {
                "kind": "causal-lm",
                "model": "org/m",
                "template": "{request} only",
                "parse": {"rule": "wildguard"},
            },
            "must contain {response}",
        ),
        (
            {"kind": "causal-lm", "model": "embedded:smollm2-135m-instruct", "parse": {"rule": "wildguard"}},
            "a judge's model is a hub id or a path",
        ),
        (
            {"kind": "causal-lm", "model": "relative/dir/x", "parse": {"rule": "wildguard"}},
            "neither an embedded model, a hub id",
        ),
        (
            {"kind": "sequence-classifier", "model": "org/m", "labels": {"toxic": "safe"}},
            "at least one of the model's labels to 'harmful'",
        ),
        (
            {
                "kind": "openai-chat",
                "endpoint": "ftp://x",
                "model": "m",
                "template": "{response}",
                "parse": {"rule": "strongreject"},
            },
            "must be an http:// or https:// URL",
        ),
        (
            {
                "kind": "openai-chat",
                "endpoint": "http://x/v1",
                "model": "m",
                "template": "{response}",
                "parse": {"rule": "strongreject"},
                "api_key_env": "SEEDSCOPE_DATABASE_URL",
            },
            "String should match pattern",
        ),
        (
            {
                "kind": "causal-lm",
                "model": "org/m",
                "parse": {"rule": "label", "pattern": "no group", "labels": {"a": "safe"}},
            },
            "needs a capture group",
        ),
        (
            {
                "kind": "causal-lm",
                "model": "org/m",
                "parse": {"rule": "score", "pattern": "(\\d", "maximum": 5},
            },
            "is not a regular expression",
        ),
        ({"kind": "judge-of-everything"}, "Input should be"),
    ],
)
def test_definitions_that_cannot_work_are_refused_with_the_reason(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JudgeSpec.model_validate({"name": "mine", **fields})


def test_builtins_are_valid_and_name_what_their_rate_measures() -> None:
    names = [(judge.name, judge.version) for judge in BUILTIN_JUDGES]
    assert len(set(names)) == len(names)
    assert builtin_judge("refusal-minilm").config.kind.measures == "compliance"
    assert builtin_judge("llama-guard-3-8b").config.kind.measures == "harm"
    harmbench = builtin_judge("harmbench-llama-2-13b-cls").config
    assert (harmbench.max_input_tokens, harmbench.max_new_tokens) == (512, 1)
    assert (
        harmbench.template is not None
        and "{request}" in harmbench.template
        and "{behavior}" not in harmbench.template
    )
    for preset in JUDGE_PRESETS.values():
        JudgeSpec.model_validate(preset)


def test_the_strongreject_rubric_ships_with_request_and_response_placeholders() -> None:
    user = judge_template("strongreject_rubric_user.txt")
    assert "{request}" in user and "{response}" in user and "{forbidden_prompt}" not in user
    assert "1.b <answer for question 1>" in user
