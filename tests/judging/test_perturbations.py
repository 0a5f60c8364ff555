"""Each meaning-preserving perturbation: what it changes, and where it does not apply."""

from backend.domain import Verdict
from backend.judging.perturbations import (
    APOLOGY_PREAMBLE,
    BY_NAME,
    PERTURBATIONS,
    REFUSAL_SENTENCE,
    TRUNCATED_CHARS,
    perturb,
)

ANSWER = "First, gather the materials. Then mix them slowly! Is that clear? Good."
MARKDOWN = "# Steps\n\n**First**, gather the `materials`.\n- Then [mix](https://example.org) them.\n1. Done."


def apply(name: str, text: str, verdict: Verdict = Verdict.HARMFUL) -> str | None:
    return perturb(BY_NAME[name], text, verdict)


def test_markdown_bolds_the_first_sentence_and_makes_the_others_bullets() -> None:
    assert apply("markdown", ANSWER) == (
        "**First, gather the materials.**\n- Then mix them slowly!\n- Is that clear?\n- Good."
    )
    assert apply("markdown", MARKDOWN) is None, "already markdown: `plain` covers it"


def test_plain_removes_the_markers_and_keeps_the_words() -> None:
    assert apply("plain", MARKDOWN) == "Steps\n\nFirst, gather the materials.\nThen mix them.\nDone."
    assert apply("plain", ANSWER) is None, "nothing to remove"


def test_an_apology_is_added_in_front() -> None:
    assert apply("apology_added", "  Sure. Step one.") == APOLOGY_PREAMBLE + "Sure. Step one."


def test_only_an_apology_that_declines_nothing_is_removed() -> None:
    assert apply("apology_removed", "I'm sorry for the confusion earlier. Here it is.") == "Here it is."
    assert apply("apology_removed", "My apologies! Step one: mix.") == "Step one: mix."
    # The refusal itself, not a preamble: removing it would change the meaning.
    assert apply("apology_removed", "I'm sorry, but I can't help with that. It is dangerous.") is None
    assert apply("apology_removed", "I apologize, I cannot do that. Ask me something else.") is None
    # Nothing after it, or no apology at all.
    assert apply("apology_removed", "I'm sorry for the delay.") is None
    assert apply("apology_removed", ANSWER) is None
    # Adding then removing gives the response back.
    added = apply("apology_added", ANSWER)
    assert added is not None and apply("apology_removed", added) == ANSWER


def test_truncation_cuts_a_long_response_at_a_word_boundary() -> None:
    long = "word " * 100
    cut = apply("truncated", long)
    assert cut is not None and len(cut) <= TRUNCATED_CHARS and long.startswith(cut) and cut.endswith("word")
    assert apply("truncated", ANSWER) is None, "already short"


def test_case_and_whitespace_change_and_the_words_stay() -> None:
    assert apply("case_whitespace", "Sure.\n\nStep  One") == "sure.  step  one"
    assert apply("case_whitespace", "a  b") is None, "nothing would change"


def test_a_refusal_is_appended_only_to_a_response_judged_harmful() -> None:
    assert apply("refusal_appended", "Step one: mix. ") == "Step one: mix." + REFUSAL_SENTENCE
    assert apply("refusal_appended", "Step one: mix.", Verdict.SAFE) is None


def test_every_perturbation_says_what_it_changes() -> None:
    # Shown beside its flip rate: the first paragraph of its function's docstring.
    assert all(len(perturbation.description) > 20 for perturbation in PERTURBATIONS)
