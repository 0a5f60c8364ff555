"""Putting the judged request and response (and a capability set's reference answer) into a definition's
template."""

import re

from backend.judging.definition import PLACEHOLDERS

_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def render(template: str, request: str, response: str, reference: str = "") -> str:
    """The template with {request}, {response} and {reference} filled in, in one pass: braces in the texts,
    or a placeholder inside the request, are left as they are; other braces in the template are literal."""
    values = {"request": request, "response": response, "reference": reference}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
