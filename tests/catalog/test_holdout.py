import pytest

from backend.catalog.holdout import held_out_count, held_out_name, held_out_positions, split
from backend.catalog.records import ExampleRecord

HASH = "sha256:" + "3f" * 32
OTHER_HASH = "sha256:" + "a1" * 32


def test_the_split_is_the_same_for_the_same_content_and_another_for_other_content() -> None:
    positions = held_out_positions(240, 0.1, HASH)
    assert len(positions) == 24 == len(set(positions))
    assert positions == sorted(positions) and all(0 <= p < 240 for p in positions)
    assert held_out_positions(240, 0.1, HASH) == positions
    assert held_out_positions(240, 0.1, OTHER_HASH) != positions


def test_the_examples_trained_on_and_the_held_out_ones_partition_the_set() -> None:
    examples = [ExampleRecord(f"prompt {i}", f"response {i}") for i in range(30)]
    kept, held_out = split(examples, 0.2, HASH)
    assert len(kept) == 24 and len(held_out) == 6
    assert sorted([*kept, *(example for _, example in held_out)], key=examples.index) == examples
    assert all(examples[position] == example for position, example in held_out)


@pytest.mark.parametrize(
    ("n", "fraction", "count"), [(240, 0.1, 24), (5, 0.1, 1), (3, 0.5, 2), (10, 0.05, 1)]
)
def test_a_fraction_holds_out_at_least_one_example(n: int, fraction: float, count: int) -> None:
    assert held_out_count(n, fraction) == count


def test_a_split_that_leaves_nothing_to_train_on_is_refused() -> None:
    with pytest.raises(ValueError, match=r"holding out 0\.5 of 1 examples leaves none to train on"):
        held_out_count(1, 0.5)


def test_a_held_out_set_is_named_by_its_source_and_what_decides_its_examples() -> None:
    name = held_out_name("seedscope-benign-demo", "1", 0.1, HASH)
    assert name.startswith("seedscope-benign-demo-v1-holdout-0.1-") and len(name.rsplit("-", 1)[1]) == 8
    assert held_out_name("seedscope-benign-demo", "1", 0.2, HASH) != name
    assert held_out_name("seedscope-benign-demo", "1", 0.1, OTHER_HASH) != name
    assert len(held_out_name("x" * 300, "1", 0.1, HASH)) == 200
