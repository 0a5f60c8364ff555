"""The generation plan: a pure function of the prompts' lengths, the samples and the token budget."""

from hypothesis import given
from hypothesis import strategies as st

from worker.generation import plan_batches


def plan(lengths: list[int], samples: int, new: int, budget: int):  # type: ignore[no-untyped-def]
    prompts = [(100 + i, f"prompt {i}") for i in range(len(lengths))]
    return plan_batches(prompts, lengths, samples, new, budget)


@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=40),
    samples=st.integers(1, 6),
    new=st.integers(1, 256),
    budget=st.integers(1, 20_000),
)
def test_every_item_once_within_budget_longest_first_samples_together(
    lengths: list[int], samples: int, new: int, budget: int
) -> None:
    batches = plan(lengths, samples, new, budget)
    items = [item for batch in batches for item in batch]
    assert sorted((i.prompt_id, i.sample_index) for i in items) == sorted(
        (100 + p, s) for p in range(len(lengths)) for s in range(samples)
    )
    length_of = {100 + i: n for i, n in enumerate(lengths)}
    widths = [length_of[i.prompt_id] for i in items]
    assert widths == sorted(widths, reverse=True)
    for batch in batches:
        cost = len(batch) * (max(length_of[i.prompt_id] for i in batch) + new)
        assert cost <= budget or len(batch) == 1  # one sequence over budget still runs, alone
    # A prompt's samples share a batch whenever they fit in one together.
    for prompt_id, length in length_of.items():
        holding = {index for index, batch in enumerate(batches) for i in batch if i.prompt_id == prompt_id}
        if samples * (length + new) <= budget:
            assert len(holding) == 1
    assert plan(lengths, samples, new, budget) == batches


def test_a_larger_budget_makes_fewer_larger_batches() -> None:
    lengths = [40, 35, 30, 30, 20, 10]
    # 2 samples x (40 + 10) + 2 x (35 + 10) -> 4 x 50 = 200 tokens; then 30 and 30 (4 x 40), 20 and 10.
    assert [[i.prompt_id - 100 for i in b] for b in plan(lengths, 2, 10, 200)] == [
        [0, 0, 1, 1],
        [2, 2, 3, 3],
        [4, 4, 5, 5],
    ]
    assert [len(b) for b in plan(lengths, 2, 10, 10_000)] == [12]
    # 50 tokens hold one sequence of the longer prompts, both samples of the shortest (2 x 20).
    assert [len(b) for b in plan(lengths, 2, 10, 50)] == [1] * 10 + [2]
