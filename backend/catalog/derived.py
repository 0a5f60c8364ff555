"""Derived training sets: a training set's prompts with the base model's own answers as the responses
(training.responses: self; Fraser et al. 2025, 4.4).

A worker writes one before a run that asks for it trains (worker.pipeline) and stores it in the
experiment's project as an ordinary training set, with what made it (backend.provenance.SelfWrittenResponses).
Its name carries a hash of what decides its answers, so every run that would write the same answers finds
and trains on the one already stored.
"""

import re

from backend.provenance import SelfWrittenResponses

# The `source` column of a derived set (the others': "builtin", or the format an upload was read in).
SELF_WRITTEN = "self-generated"
# Every derived set is version 1: what would make another version makes another name.
DERIVED_VERSION = "1"
# Hex digits of the identity a derived set's name carries.
NAME_HASH_DIGITS = 8
NAME_LENGTH = 200  # backend.models.Dataset.name


def derived_name(responses: SelfWrittenResponses) -> str:
    """'<source name>-self-<model's last name part>-<8 hex of the identity>', a valid dataset name
    ("seedscope-benign-demo-self-smollm2-135m-aligned-1f0c9a2e")."""
    model = re.split(r"[/:]", responses.base_model.reference.rstrip("/"))[-1]
    suffix = f"-self-{re.sub(r'[^A-Za-z0-9_.-]+', '-', model)[:60]}-"
    suffix += responses.identity().removeprefix("sha256:")[:NAME_HASH_DIGITS]
    return responses.source.name[: NAME_LENGTH - len(suffix)] + suffix
