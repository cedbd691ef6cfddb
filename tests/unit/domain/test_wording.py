"""The article before a noun in messages follows the word's sound."""

from __future__ import annotations

import pytest

from territory.domain.wording import with_article


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("id", "an id"),
        ("account", "an account"),
        ("opportunity", "an opportunity"),
        ("end_date", "an end_date"),
        ("import association", "an import association"),
        ("'id' column", "an 'id' column"),
        ("`email`", "an `email`"),
        ("rep", "a rep"),
        ("name", "a name"),
        ("manual association", "a manual association"),
        ("unit kind", "a unit kind"),
        ("user", "a user"),
        ("hour", "an hour"),
        ("'name' column", "a 'name' column"),
    ],
)
def test_with_article_follows_the_sound(noun: str, expected: str) -> None:
    assert with_article(noun) == expected
