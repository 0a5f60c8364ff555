"""URLs users give, in one normal form; what is refused; and prefixes compared segment by segment."""

import pytest

from backend.net.urls import InvalidUrl, parse_http_url


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://10.0.0.7:8000/v1", "http://10.0.0.7:8000/v1"),
        ("  HTTP://Judge.Example.ORG./v1/  ", "http://judge.example.org/v1"),
        ("http://judge.example.org/a/./b/../v1//x", "http://judge.example.org/a/v1/x"),
        ("http://judge.example.org/v%31/%7Euser", "http://judge.example.org/v1/~user"),
        ("http://judge.example.org/v1/%2e%2e/v2", "http://judge.example.org/v2"),
        ("http://judge.example.org:0080", "http://judge.example.org:80"),
        ("http://127.1:8000", "http://127.0.0.1:8000"),
        ("http://0x7f.0.0.1", "http://127.0.0.1"),
        ("http://2130706433", "http://127.0.0.1"),
        ("http://[::FFFF:127.0.0.1]:8000/v1", "http://[::ffff:7f00:1]:8000/v1"),
        ("http://[2001:DB8::1]/v1", "http://[2001:db8::1]/v1"),
    ],
)
def test_urls_are_written_in_one_normal_form(given: str, normal: str) -> None:
    assert str(parse_http_url(given)) == normal
    assert str(parse_http_url(normal)) == normal  # the normal form is its own normal form


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("ftp://judge.example.org", "must be an http:// or https:// URL"),
        ("judge.example.org/v1", "must be an http:// or https:// URL"),
        ("http://judge.example.org/v1?x=1", "a query"),
        ("http://judge.example.org/v1?", "a query"),
        ("http://judge.example.org/v1#x", "a fragment"),
        ("http://user:pw@judge.example.org", "user information"),
        ("http://judge.example.org@127.0.0.1", "user information"),
        ("http://judge.example.org\\@127.0.0.1", "a backslash"),
        ("http://judge example.org", "spaces, control characters"),
        ("http://judge.example.org/\tv1", "spaces, control characters"),
        ("http://jüdge.example.org", "non-ASCII"),
        ("http:///v1", "no host"),
        ("http://judge_1.example.org", "is not a host name"),
        ("http://-judge.example.org", "is not a host name"),
        ("http://judge.example.org:0", "not a number from 1 to 65535"),
        ("http://judge.example.org:http", "not a number from 1 to 65535"),
        ("http://judge.example.org:", "not a number from 1 to 65535"),
        ("http://1.2.3.4.5", "not a valid IPv4 address"),
        ("http://example.08", "not a valid IPv4 address"),
        ("http://[::1", "not an IPv6 address"),
        ("http://[fe80::1%25eth0]", "not an IPv6 address"),
        ("http://judge.example.org/..", "above the root"),
        ("http://judge.example.org/a/%2E%2E/..", "above the root"),
        ("http://judge.example.org/a%2fb", "holds a character a path may not"),
        ("http://judge.example.org/a%5cb", "holds a character a path may not"),
        ("http://judge.example.org/a%3fb", "holds a character a path may not"),
        ("http://judge.example.org/a%252e", "holds a character a path may not"),
        ("http://judge.example.org/a%zz", "does not start a %XX escape"),
        ("http://judge.example.org/%C3%A9", "decodes to non-ASCII"),
    ],
)
def test_odd_urls_are_refused_with_the_reason(given: str, reason: str) -> None:
    with pytest.raises(InvalidUrl, match=reason.replace("?", r"\?")):
        parse_http_url(given)


@pytest.mark.parametrize(
    ("url", "prefix", "under"),
    [
        ("https://api.example.org/v1", "https://api.example.org/v1", True),
        ("https://api.example.org/v1/chat", "https://API.example.org:443/v1/", True),
        ("https://api.example.org/v1/x", "https://api.example.org", True),
        ("https://api.example.org/v10", "https://api.example.org/v1", False),
        ("https://api.example.org/v1/../admin", "https://api.example.org/v1", False),
        ("https://api.example.org/v1/%2e%2e/admin", "https://api.example.org/v1", False),
        ("https://api.example.org.evil.example/v1", "https://api.example.org/v1", False),
        ("http://api.example.org/v1", "https://api.example.org/v1", False),
        ("https://api.example.org:8443/v1", "https://api.example.org/v1", False),
    ],
)
def test_a_url_is_under_a_prefix_segment_by_segment(url: str, prefix: str, under: bool) -> None:
    assert parse_http_url(url).is_under(parse_http_url(prefix)) is under
