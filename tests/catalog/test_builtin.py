"""The shipped datasets hash as the copies stored by earlier versions: a change to a parser or to the hash
that altered them would make every stored built-in conflict with its file at start-up (409)."""

from backend.catalog.builtin import BUILTIN_DATASETS
from backend.catalog.records import content_hash

STORED = {
    "seedscope-harmful-demo": "sha256:2152101ae2cf7021b2c6b768dabc5d29194baef3740abf770b269a680892d256",
    "seedscope-benign-demo": "sha256:9cff28276328eec968d8380ad15f93a3abfac239d2b1e7db1a40faf3dde17fc7",
    "pyrit-refusal": "sha256:2336511e147fdc5f90382e44f4535caf6ab217dc8a94a3a0663762a43e969402",
    "pyrit-refusal-extra": "sha256:d7b7732b751c980ce2f6f32402ec325e25d1d54a1e69c85db92c8187b0dd20cc",
}


def test_the_builtins_hash_as_their_stored_copies() -> None:
    assert {dataset.name: content_hash(dataset.records()) for dataset in BUILTIN_DATASETS} == STORED
    assert [dataset.kind.name for dataset in BUILTIN_DATASETS] == [
        "benchmark",
        "training set",
        "validation set",
        "validation set",
    ]
