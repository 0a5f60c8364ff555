"""The rule for where a `next` parameter may send a browser (the page's JavaScript mirrors it)."""

import pytest

from backend.redirects import MAX_NEXT_LENGTH, same_site_path


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/projects",
        "/experiments/12?tab=report#forest",
        "/experiments/1?q=a%20b",
        "/runs/3?q=100%25 sure",
    ],
)
def test_paths_on_this_site_are_kept(path: str) -> None:
    assert same_site_path(path) == path


@pytest.mark.parametrize(
    "candidate",
    [
        None,
        "",
        "//evil.example",
        "/\\evil.example",
        "/x\\..\\..\\evil",  # a backslash anywhere is refused
        "/%2F%2Fevil.example",  # "///evil.example" once decoded
        "/%252F%252Fevil.example",  # twice encoded
        "/%5Cevil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines: "//evil.example"
        "/\n/evil.example",
        "/\r/evil.example",
        "/%09/evil.example",
        "/ok\x00",
        "/ok\x7f",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " /projects",
        "https://evil.example/",
        "evil.example",
        "/%25252F%25252Fevil",  # still encoded after three decodings
        "/" + "a" * MAX_NEXT_LENGTH,
    ],
)
def test_anything_else_falls_back(candidate: str | None) -> None:
    assert same_site_path(candidate) == "/"
    assert same_site_path(candidate, fallback="/projects") == "/projects"
