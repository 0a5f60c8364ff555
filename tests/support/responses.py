"""What tests assert about an API answer."""

from httpx import Response


def refused(response: Response, status: int, *parts: str) -> None:
    """The response is `status`, and its message (or each field error's location and message) says each
    of `parts`."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    if not isinstance(detail, str):
        detail = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in detail)
    for part in parts:
        assert part in detail, detail
