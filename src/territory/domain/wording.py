"""Wording shared by messages: the indefinite article before a noun.

Messages are built from field and entity names ("every account needs
an id", "an opportunity's amount"), so the article follows the word's
sound, not a fixed "a".
"""

from __future__ import annotations

__all__ = ["with_article"]

#: Words spelt with a vowel that sound like a consonant ("a unit").
_A_BEFORE = ("uni", "use", "usu", "uti", "ure", "eu", "one", "once")
#: Words spelt with a consonant that sound like a vowel ("an hour").
_AN_BEFORE = ("hour", "honest", "honor", "honour", "heir")


def with_article(noun: str) -> str:
    """Return ``noun`` after ``a`` or ``an``, as it is said.

    Quotes and backticks before the word are looked through, so a quoted
    column name takes the article its name needs.

    Examples
    --------
    >>> with_article("id")
    'an id'
    >>> with_article("opportunity")
    'an opportunity'
    >>> with_article("'id' column")
    "an 'id' column"
    >>> with_article("rep")
    'a rep'
    >>> with_article("unit kind")
    'a unit kind'
    >>> with_article("import association")
    'an import association'
    """
    word = noun.lstrip("'\"`").lower()
    if word.startswith(_AN_BEFORE):
        article = "an"
    elif word.startswith(_A_BEFORE):
        article = "a"
    else:
        article = "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {noun}"
