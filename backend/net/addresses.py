"""Which network addresses and host names are internal: anything but a public address.

A URL a user chooses must not let the server or a worker reach its own network: the loopback interface
(the database, Redis, the API itself), private networks, link-local addresses and, above all, a cloud's
instance-metadata service, which hands credentials to whoever asks from inside the instance.
"""

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata services (AWS, GCP, Azure, OpenStack, Oracle: 169.254.169.254; AWS ECS tasks; AWS over
# IPv6; Alibaba Cloud). They are never a judge, so no setting allows them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
# Names that resolve inside the local network, whatever the DNS says elsewhere (RFC 6761, RFC 8375, ICANN's
# reserved .internal).
_INTERNAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
# 6to4 and NAT64 addresses carry an IPv4 address and reach it through a gateway.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, IPv4-compatible, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    # IPv4-compatible (::a.b.c.d, deprecated) is told from ::1 and :: by its first byte.
    if any(address in network for network in _NAT64) or (packed[:12] == bytes(12) and packed[12] != 0):
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_metadata(address: IPAddress) -> bool:
    return address in METADATA_ADDRESSES or embedded_ipv4(address) in METADATA_ADDRESSES


def address_kind(address: IPAddress) -> str | None:
    """Why `address` is internal ("a loopback address", ...), or None for a public one."""
    if is_metadata(address):
        return "a cloud metadata address"
    inner = embedded_ipv4(address)
    if inner is not None:
        kind = address_kind(inner)
        return None if kind is None else f"{kind} (inside an IPv6 address)"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((kind for internal, kind in checks if internal), None)


def host_name_kind(name: str) -> str | None:
    """Why a host name (lower case, no trailing dot) is internal without asking DNS, or None if DNS must
    tell: a metadata service's name, localhost, a reserved local suffix, a single label (which only the
    local network's DNS or a container network resolves)."""
    if name in METADATA_HOSTS:
        return "a cloud metadata service"
    if name == "localhost" or name.endswith(_INTERNAL_SUFFIXES):
        return "a local host name"
    if "." not in name:
        return "a single-label host name, which only the local network resolves"
    return None
