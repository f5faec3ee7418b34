"""The one ``LABEL`` instruction hoist writes and what it refuses. The engine's own parsing
of the instruction is proven in tests/integration/test_label_reuse.py; here the exact text."""

from __future__ import annotations

import pytest

from pipeline.build import check_labels, label_instruction
from pipeline.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("it's", '"it\'s"'),
        ('say "hi"', r'"say \"hi\""'),
        ("$HOME", r'"\$HOME"'),
        ("${HOME:-x}", r'"\${HOME:-x}"'),
        ("back\\slash", r'"back\\slash"'),
        ("ends in a backslash\\", r'"ends in a backslash\\"'),
        ('\\"', r'"\\\""'),
        ("# not a comment", '"# not a comment"'),
        ("a=b=c", '"a=b=c"'),
        ("  spaced  out  ", '"  spaced  out  "'),
        ("ünïcødé ✓", '"ünïcødé ✓"'),
        ("", '""'),
    ],
)
def test_a_value_is_double_quoted_with_backslash_quote_and_dollar_escaped(
    value: str, written: str
) -> None:
    assert label_instruction({"k": value}) == f'LABEL "k"={written}'


def test_every_label_goes_in_one_instruction_keys_escaped_like_values() -> None:
    labels = {"org.opencontainers.image.title": "node-app", 'a "key"': "$x", "plain": "it's"}

    assert label_instruction(labels) == (
        r'LABEL "org.opencontainers.image.title"="node-app" "a \"key\""="\$x" '
        '"plain"="it\'s"'
    )


def test_printable_labels_pass_the_check() -> None:
    check_labels({"k": 'ünïcødé ✓ nbsp\u00a0 it\'s "q" $HOME \\ # =', "with space": "v"})


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"org.opencontainers.image.description": "one\ntwo"}, "('\\n', U+000A)"),
        ({"org.opencontainers.image.description": "trailing\n"}, "('\\n', U+000A)"),
        ({"k": "a\r"}, "('\\r', U+000D)"),
        ({"k": "a\tb"}, "('\\t', U+0009)"),
        ({"k": "\x1b[31mred"}, "('\\x1b', U+001B)"),
        ({"k": "del\x7f"}, "('\\x7f', U+007F)"),
        ({"k": "next line\x85"}, "('\\x85', U+0085)"),
    ],
)
def test_a_control_character_is_refused_naming_the_label(
    labels: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_labels({"fine": "ok", **labels})

    (key,) = labels
    assert caught.value.field == key
    assert caught.value.problem == (
        f"the value holds a control character {problem}; a label is one line of printable text"
    )
    assert "\n" not in str(caught.value)  # one line, the character named, not printed


def test_a_control_character_in_a_name_is_refused_on_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        check_labels({"bad\nname=": "v"})

    assert str(caught.value).startswith(
        "label: 'bad\\nname=': the name holds a control character ('\\n', U+000A); "
    )


def test_an_equals_sign_in_a_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="a label name cannot contain '='") as caught:
        check_labels({"a=b": "v"})
    assert str(caught.value).startswith("label: a=b: ")
