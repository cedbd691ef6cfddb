"""The only source of randomness in the design engine."""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "kernel_seed"]


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a NumPy generator for ``seed``.

    ``None`` means seed 0, so that a run without an explicit seed is still
    reproducible; pass a fresh ``np.random.default_rng()`` for entropy.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(0 if seed is None else int(seed))


def kernel_seed(rng: np.random.Generator) -> np.ndarray:
    """Draw the state of the compiled search's xorshift generator from ``rng``."""
    state = rng.integers(1, 2**62, size=1, dtype=np.int64)
    return state
