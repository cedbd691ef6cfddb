"""Unit ids <-> engine indices, both ways, through one :class:`Encoding`.

The design engine speaks arrays: unit ``i`` is row ``i`` of the weights and
territory ``k`` is label ``k``. An :class:`Encoding` holds the two id lists
that give those indices their meaning, so a service encodes store ids once and
decodes the engine's labels back to ids with the guarantee that every unit
comes back exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from territory.errors import InputError, InternalError

__all__ = ["Encoding"]


@dataclass(frozen=True)
class Encoding:
    """The id <-> index maps of one design problem.

    ``unit_ids[i]`` is the store id of engine unit ``i``; ``territory_ids[k]``
    the id of territory ``k``. Unit ids must be distinct, and so must
    territory ids.

    Examples
    --------
    >>> enc = Encoding(("06037", "06059"), ("T01", "T02"))
    >>> enc.unit_index("06059")
    1
    >>> enc.decode(np.array([1, 0]))
    {'06037': 'T02', '06059': 'T01'}
    """

    unit_ids: tuple[str, ...]
    territory_ids: tuple[str, ...]
    _unit_pos: dict[str, int] = field(init=False, repr=False, compare=False)
    _territory_pos: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        units = tuple(str(u) for u in self.unit_ids)
        terrs = tuple(str(t) for t in self.territory_ids)
        upos = {u: i for i, u in enumerate(units)}
        if len(upos) != len(units):
            dup = next(u for u, c in Counter(units).items() if c > 1)
            raise InputError(
                f"Unit '{dup}' appears twice among the units to design; each unit "
                "must appear once.",
                code="duplicate_unit",
                details={"unit": dup},
            )
        tpos = {t: k for k, t in enumerate(terrs)}
        if len(tpos) != len(terrs):
            raise InputError(
                "Two territories share one id; give each territory its own id.",
                code="duplicate_territory",
                details={"territories": list(terrs)},
            )
        object.__setattr__(self, "unit_ids", units)
        object.__setattr__(self, "territory_ids", terrs)
        object.__setattr__(self, "_unit_pos", upos)
        object.__setattr__(self, "_territory_pos", tpos)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.unit_ids)

    @property
    def n_territories(self) -> int:
        """Number of territories."""
        return len(self.territory_ids)

    def has_unit(self, unit_id: str) -> bool:
        """Return True when ``unit_id`` is one of the encoded units."""
        return unit_id in self._unit_pos

    def unit_index(self, unit_id: str) -> int:
        """Return the engine index of ``unit_id``.

        Raises
        ------
        InputError
            When the unit is not part of the design.
        """
        try:
            return self._unit_pos[unit_id]
        except KeyError:
            raise InputError(
                f"Unit '{unit_id}' is not among the {self.n_units} units being "
                "designed; check the id and the --states/--level selection.",
                code="unknown_unit",
                details={"unit": unit_id},
            ) from None

    def territory_index(self, territory_id: str) -> int:
        """Return the engine index of ``territory_id``.

        Raises
        ------
        InputError
            When no territory has that id.
        """
        try:
            return self._territory_pos[territory_id]
        except KeyError:
            raise InputError(
                f"Territory '{territory_id}' is not one of the "
                f"{self.n_territories} territories of this design "
                f"({', '.join(self.territory_ids[:5])}...).",
                code="unknown_territory",
                details={"territory": territory_id},
            ) from None

    def unit_indices(self, unit_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Return ``(len(unit_ids),)`` engine indices (-1 for unknown ids)."""
        pos = self._unit_pos
        return np.fromiter(
            (pos.get(u, -1) for u in unit_ids), dtype=np.int64, count=len(unit_ids)
        )

    def encode_labels(self, assignment: Mapping[str, str]) -> npt.NDArray[np.int64]:
        """Return ``(n_units,)`` territory indices from ``{unit_id: territory_id}``.

        Units missing from ``assignment`` get -1.

        Raises
        ------
        InputError
            When a territory id is unknown.
        """
        labels = np.full(self.n_units, -1, dtype=np.int64)
        for unit, terr in assignment.items():
            i = self._unit_pos.get(unit)
            if i is not None:
                labels[i] = self.territory_index(terr)
        return labels

    def decode(self, labels: npt.NDArray[np.int64]) -> dict[str, str]:
        """Return ``{unit_id: territory_id}`` for every unit with a label >= 0.

        Raises
        ------
        InternalError
            When ``labels`` does not hold exactly one label per unit, or names
            a territory that does not exist: the engine must return every
            unit exactly once.
        """
        lab = np.asarray(labels)
        if lab.shape != (self.n_units,):
            raise InternalError(
                f"The design returned {lab.size} labels for {self.n_units} units; "
                "every unit must come back exactly once.",
                code="decode_mismatch",
            )
        if lab.size and (lab.max() >= self.n_territories or lab.min() < -1):
            raise InternalError(
                "The design returned a territory index outside "
                f"0..{self.n_territories - 1}.",
                code="decode_mismatch",
            )
        terrs = self.territory_ids
        return {
            u: terrs[k]
            for u, k in zip(self.unit_ids, lab.tolist(), strict=True)
            if k >= 0
        }
