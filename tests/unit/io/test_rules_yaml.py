"""Rule files that cannot be read say where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from territory.errors import InputError
from territory.io.rules_yaml import read_rules_yaml


def test_a_syntax_error_names_the_file_line_and_where_the_value_began(
    tmp_path: Path,
) -> None:
    path = tmp_path / "syn.yaml"
    path.write_text('rules:\n  - id: r1\n    name: "x\n  bad: [\n')
    with pytest.raises(InputError) as ei:
        read_rules_yaml(path, "m")
    assert ei.value.code == "rules_yaml_syntax"
    assert ei.value.message == (
        "syn.yaml, line 5, column 1 (in what starts at line 3) is not valid YAML "
        "(while scanning a quoted scalar found unexpected end of stream); fix the "
        "indentation or quoting there."
    )


def test_a_bad_indentation_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "indent.yaml"
    path.write_text("rules:\n  - id: r1\n   name: x\n")
    with pytest.raises(InputError) as ei:
        read_rules_yaml(path, "m")
    assert ei.value.message.startswith("indent.yaml, line 3, column ")
    assert ei.value.details["line"] == 3


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_rule_file_is_refused_not_imported_as_nothing(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as ei:
        read_rules_yaml(path, "m")
    assert ei.value.code == "rules_yaml_empty"
    assert ei.value.message.startswith("empty.yaml is empty: it holds no territory")
