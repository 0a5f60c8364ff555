"""Routes that take a YAML document as their body (an experiment, a judge definition)."""

from fastapi import Request

from backend.errors import UnsupportedMediaType

# A cross-site HTML form can send text/plain without a CORS preflight; YAML must say it is YAML.
YAML_MEDIA_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


def yaml_body(description: str) -> dict[str, object]:
    """The OpenAPI description of a YAML request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
            "description": description,
        }
    }


async def yaml_text(request: Request) -> str:
    """The request's body, which must be sent as YAML."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in YAML_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send the YAML with Content-Type application/yaml (got {media_type or 'none'})"
        )
    return (await request.body()).decode("utf-8", errors="replace")
