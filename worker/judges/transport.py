"""The HTTP transport LLM judges call through: every connection goes to an address that was checked.

Checking a host's addresses and then letting the HTTP client resolve the name again would leave a gap: a
DNS server can answer a public address to the check and 127.0.0.1 to the client (DNS rebinding). Here the
connection itself resolves the name once, checks every address it got, and connects to one of those
addresses. For https the TLS handshake still names the host, so the certificate is verified against the
host name, not the address. Proxies from the environment are not used: a proxy would connect elsewhere.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpcore
import httpx

from backend.net.addresses import IPAddress

# host, port -> the addresses to connect to, in order (socket.getaddrinfo by default).
Resolver = Callable[[str, int], list[IPAddress]]
# host, address -> None, or raises to refuse the connection.
AddressCheck = Callable[[str, IPAddress], None]


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives for a TCP connection, each once, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    return list(dict.fromkeys(addresses))


class _CheckedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, resolving and checking before it connects."""

    def __init__(self, check: AddressCheck, resolve: Resolver) -> None:
        self._check = check
        self._resolve = resolve
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            self._check(host, address)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("judges connect over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport, over a connection pool whose every new connection is resolved and checked.
    Certificates are verified as httpx does by default (certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR)."""

    def __init__(self, check: AddressCheck, *, resolve: Resolver = system_resolver) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport builds its pool with no way to choose the network backend; this replaces it with one
        # that has ours (httpx 0.27 and 0.28 keep it in `_pool`; tests/worker/test_judge_network.py fails
        # should that change).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_CheckedBackend(check, resolve),
        )
