"""Settings: where the store lives and who acts, read from ``TERRITORY_*`` variables."""

from __future__ import annotations

import getpass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Settings(BaseSettings):
    """Runtime settings of territory (environment prefix ``TERRITORY_``)."""

    model_config = SettingsConfigDict(env_prefix="TERRITORY_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///territory.db",
        description=(
            "Store to use: an SQLite file (default ./territory.db) or a "
            "PostgreSQL URL such as postgresql://user@host:5432/db."
        ),
    )
    actor: str = Field(
        default_factory=_default_actor,
        description="Name recorded in audit rows for changes made by this process.",
    )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
