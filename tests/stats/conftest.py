"""Shared test helpers for backend.stats, exposed as fixtures (tests/ has no packages to import from)."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from backend.stats.cells import Cells


def _expand(cells: Cells) -> pd.DataFrame:
    """One row per scored verdict: seed, prompt and y (1 = harmful), for reference fits on raw data."""
    y = np.concatenate(
        [np.repeat([1.0, 0.0], [h, s - h]) for h, s in zip(cells.harmful, cells.scored, strict=True)]
    )
    return pd.DataFrame(
        {"seed": np.repeat(cells.seed, cells.scored), "prompt": np.repeat(cells.prompt, cells.scored), "y": y}
    )


@dataclass(frozen=True)
class UniformModel:
    """P(harmful) = mean + seed + prompt + seed x prompt effects, each uniform on ± its half-width.

    Uniform effects keep P(harmful) inside [0, 1] without clipping, so the true variance components are
    known exactly: half_width^2 / 3 each, and sampling = E[p (1 - p)] = mean (1 - mean) - var(p).
    """

    mean: float
    seed: float
    prompt: float
    interaction: float

    def __post_init__(self) -> None:
        reach = self.seed + self.prompt + self.interaction
        assert reach <= self.mean <= 1 - reach, "P(harmful) must stay inside [0, 1]"

    @property
    def variances(self) -> tuple[float, float, float, float]:
        """True (seed, prompt, seed_x_prompt, sampling) components."""
        seed, prompt, interaction = (w**2 / 3 for w in (self.seed, self.prompt, self.interaction))
        return seed, prompt, interaction, self.mean * (1 - self.mean) - seed - prompt - interaction

    def prompt_effects(self, rng: np.random.Generator, sims: int, prompts: int) -> np.ndarray:
        return rng.uniform(-self.prompt, self.prompt, (sims, 1, prompts))

    def harmful(
        self, rng: np.random.Generator, prompt_effects: np.ndarray, seeds: int, samples: int | np.ndarray
    ) -> np.ndarray:
        """Harmful counts, shape (sims, seeds, prompts), given prompt effects of shape (sims, 1, prompts)."""
        sims, _, prompts = prompt_effects.shape
        p = (
            self.mean
            + prompt_effects
            + rng.uniform(-self.seed, self.seed, (sims, seeds, 1))
            + rng.uniform(-self.interaction, self.interaction, (sims, seeds, prompts))
        )
        return rng.binomial(samples, p)


@pytest.fixture
def expand() -> Callable[[Cells], pd.DataFrame]:
    return _expand


@pytest.fixture
def uniform_model() -> type[UniformModel]:
    return UniformModel
