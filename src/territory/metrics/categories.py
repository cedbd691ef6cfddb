"""Text labels as integer codes, so per-account rules stay vectorised.

Industries of a million accounts take a handful of distinct values; rules
and factors are looked up once per distinct value and spread back through
the codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Categories", "as_categories"]


@dataclass(frozen=True, slots=True)
class Categories:
    """``codes`` (shape ``(n,)``) index into ``names``; ``""`` stands for missing."""

    codes: npt.NDArray[np.int64]
    names: tuple[str, ...]

    @classmethod
    def encode(
        cls, values: Sequence[str | None] | npt.NDArray[np.object_]
    ) -> Categories:
        """Encode text values (``None`` becomes ``""``).

        Examples
        --------
        >>> c = Categories.encode(["b", None, "a", "b"])
        >>> c.codes.tolist(), c.names
        ([2, 0, 1, 2], ('', 'a', 'b'))
        """
        arr = np.array(["" if v is None else str(v) for v in values], dtype=object)
        if arr.size == 0:
            return cls(np.zeros(0, dtype=np.int64), ())
        names, codes = np.unique(arr.astype(str), return_inverse=True)
        return cls(codes.astype(np.int64).ravel(), tuple(str(n) for n in names))

    def lookup(
        self, table: dict[str, float], default: float
    ) -> npt.NDArray[np.float64]:
        """Return ``table[name]`` per value, matching names case-insensitively.

        Examples
        --------
        >>> Categories.encode(["Retail", None]).lookup({"retail": 0.5}, 1.0).tolist()
        [0.5, 1.0]
        """
        folded = {k.strip().lower(): v for k, v in table.items()}
        per_name = np.array(
            [folded.get(n.strip().lower(), default) for n in self.names],
            dtype=np.float64,
        )
        return per_name[self.codes] if per_name.size else np.zeros(0)

    def isin(self, wanted: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Return whether each value is one of ``wanted`` (case-insensitive)."""
        folded = {w.strip().lower() for w in wanted}
        hit = np.array([n.strip().lower() in folded for n in self.names], dtype=bool)
        return hit[self.codes] if hit.size else np.zeros(0, dtype=bool)


def as_categories(
    values: Categories | Sequence[str | None] | npt.NDArray[np.object_],
) -> Categories:
    """Return ``values`` as :class:`Categories`, encoding them if needed."""
    return values if isinstance(values, Categories) else Categories.encode(values)
