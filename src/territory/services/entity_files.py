"""The entities ``territory import`` and ``territory export`` read and write.

Command modules name them in their help text without loading the importers.
"""

from __future__ import annotations

from territory.io.schema import ENTITIES

__all__ = ["ENTITIES"]
