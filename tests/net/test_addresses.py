"""Which addresses and host names are internal, and why."""

import ipaddress

import pytest

from backend.net.addresses import address_kind, host_name_kind, is_metadata


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.0.0.7", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.0.1", "a private address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("fd00::1", "a private address"),
        ("fe80::1", "a link-local address"),
        ("169.254.1.1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("::ffff:127.0.0.1", "a loopback address (inside an IPv6 address)"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("::127.0.0.1", "a loopback address (inside an IPv6 address)"),
        ("2002:7f00:1::", "a loopback address (inside an IPv6 address)"),
        ("64:ff9b::a00:7", "a private address (inside an IPv6 address)"),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_internal_addresses_are_named(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_metadata_addresses_are_told_apart() -> None:
    assert is_metadata(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert not is_metadata(ipaddress.ip_address("169.254.1.1"))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("api.openai.com", None),
        ("localhost", "a local host name"),
        ("judge.localhost", "a local host name"),
        ("printer.local", "a local host name"),
        ("vllm.internal", "a local host name"),
        ("nas.home.arpa", "a local host name"),
        ("redis", "a single-label host name, which only the local network resolves"),
        ("metadata.google.internal", "a cloud metadata service"),
        ("metadata", "a cloud metadata service"),
    ],
)
def test_internal_host_names_are_named(name: str, kind: str | None) -> None:
    assert host_name_kind(name) == kind
