"""The one ``LABEL`` instruction hoist writes, what it refuses, and when a previous image is
reused. The engine's own parsing of the instruction is proven in
tests/integration/test_label_reuse.py; here the exact text and the decisions."""

from __future__ import annotations

import copy

import pytest

from pipeline.build.labels import CREATED_LABEL, check_labels, label_instruction, unchanged
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


CONTENT = {
    "Id": "sha256:" + "c" * 64,
    "Parent": "sha256:" + "b" * 64,
    "Os": "linux",
    "Architecture": "amd64",
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    "Config": {
        "Env": ["PATH=/usr/bin", "NODE_ENV=production"],
        "Cmd": ["node", "src/server.js"],
        "User": "1000:1000",
        "Image": "sha256:" + "b" * 64,
        "Labels": {"maintainer": "team"},
    },
}
LABELS = {"org.opencontainers.image.description": "hoist's sample", CREATED_LABEL: "t2"}


def labelled(content: dict, labels: dict[str, str], **changes: object) -> dict:  # type: ignore[type-arg]
    """``content`` as a LABEL step on top of it commits it (what the engine's inspect shows)."""
    image = copy.deepcopy(content)
    image["Id"] = "sha256:" + "d" * 64
    image["Parent"] = content["Id"]
    image["Config"]["Image"] = content["Id"]
    image["Config"]["Labels"] = {**content["Config"]["Labels"], **labels}
    image.update(changes)
    return image


def test_the_same_content_and_labels_with_an_older_created_is_unchanged() -> None:
    previous = labelled(CONTENT, {**LABELS, CREATED_LABEL: "t1"})

    assert unchanged(previous, CONTENT, LABELS)


def test_history_does_not_decide_a_per_label_chain_or_another_parent_is_unchanged() -> None:
    previous = labelled(CONTENT, {**LABELS, CREATED_LABEL: "t1"}, Parent="sha256:" + "e" * 64)
    previous["Config"]["Image"] = "sha256:" + "e" * 64

    assert unchanged(previous, CONTENT, LABELS)


@pytest.mark.parametrize(
    "change",
    [
        lambda image: image["RootFS"]["Layers"].append("sha256:" + "3" * 64),
        lambda image: image["Config"]["Env"].append("DEBUG=1"),
        lambda image: image["Config"].update(User="root"),
        lambda image: image.update(Architecture="arm64"),
        lambda image: image["Config"]["Labels"].update(maintainer="someone else"),
        lambda image: image["Config"]["Labels"].update(
            {"org.opencontainers.image.description": "older text"}
        ),
        lambda image: image["Config"]["Labels"].update({"io.hoist.smoke": "skipped"}),
        lambda image: image["Config"]["Labels"].pop(CREATED_LABEL),
    ],
    ids=["layer", "env", "user", "platform", "own-label", "our-label", "extra-label", "no-created"],
)
def test_other_content_or_other_labels_is_not_unchanged(change) -> None:  # type: ignore[no-untyped-def]
    previous = labelled(CONTENT, {**LABELS, CREATED_LABEL: "t1"})
    change(previous)

    assert not unchanged(previous, CONTENT, LABELS)


def test_without_a_created_label_to_keep_nothing_is_reused() -> None:
    labels = {"org.opencontainers.image.description": "hoist's sample"}

    assert not unchanged(labelled(CONTENT, labels), CONTENT, labels)
