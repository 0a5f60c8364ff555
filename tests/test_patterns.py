"""Users' regular expressions compile on RE2 or are refused saying which construct is unsupported."""

import pytest

from backend.patterns import MAX_SEARCHED_CHARS, UnsupportedPattern, compile_pattern, searchable


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "named backreferences"),
        (r"(?=a)", "lookahead"),
        (r"(?<!a)b", "lookbehind"),
        (r"(?>a)", "atomic groups"),
        (r"a++", "possessive quantifiers"),
        (r"(?(1)a|b)", "conditionals"),
        (r"a\Z", r"write \z"),
        (r"a{1001}", "a repetition count is over 1,000"),
        (r"(", "is not a regular expression: missing )"),
    ],
)
def test_unsupported_constructs_are_named(pattern: str, reason: str) -> None:
    with pytest.raises(UnsupportedPattern) as refused:
        compile_pattern(pattern)
    assert reason in str(refused.value)


def test_patterns_compile_with_their_groups_and_case() -> None:
    compiled = compile_pattern(r"^\W*(?P<answer>\w+)", ignore_case=True)
    assert compiled.groups == 1
    assert compiled.search("  YES, harmful").group(1) == "YES"
    assert compile_pattern(r"(yes)").search("YES") is None


def test_searched_text_is_cut() -> None:
    assert len(searchable("x" * (MAX_SEARCHED_CHARS + 10))) == MAX_SEARCHED_CHARS
