"""How the doc test reads the docs (tests/integration/doc_commands.py): blocks and markers,
commands split as the shell would, the outputs the docs show, and `...` matching."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.doc_commands import (
    ANY,
    command_blocks,
    json_mismatches,
    parse_pattern,
    split_commands,
    text_matches,
)


def test_blocks_markers_and_output_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Text.\n\n"
        "```bash\necho one\n```\n```\none\n```\n\n"
        "<!-- not run: needs Docker -->\n\n```bash\ndocker ps\n```\n\n"
        "```python\nprint(1)\n```\n\n"
        "```bash\necho two\n```\n\nProse in between.\n\n```\nnot an output\n```\n"
    )
    first, docker, second = command_blocks(doc)
    assert (first.line, first.not_run, first.output) == (3, None, "one")
    assert first.commands[0].expected_text == "one"
    assert (docker.not_run, docker.commands[0].text) == ("needs Docker", "docker ps")
    assert second.output is None and second.commands[0].expected_text is None


def test_commands_split_as_the_shell_reads_them() -> None:
    body = (
        'AUTH="Authorization: Bearer $T"\n'
        'curl -s -H "$AUTH" localhost:8080/x -d \'{"a": 1,\n'
        '  "b": "# not a comment"}\'   # {"ok":true}: prose\n'
        "# a comment line\n"
        "make a \\\n"
        "  b | head\n"
        "python - <<'PY'\n"
        "print('#', \"'\")\n"
        "PY\n"
    )
    commands = split_commands(body, first_line=10)
    assert [c.line for c in commands] == [10, 11, 14, 16]
    assert commands[1].text.endswith('# {"ok":true}: prose')
    assert commands[1].expected_json_text == '{"ok":true}'
    assert commands[2].text == "make a \\\n  b | head"
    assert commands[3].text.splitlines()[-1] == "PY"
    assert all(not c.shows_output for c in (commands[0], commands[2], commands[3]))


def test_json_shown_over_several_comment_lines_with_an_http_status() -> None:
    (command,) = split_commands(
        'curl -s x\n# {"code":3,"message":"a ... b",\n#  "details":[...]}   (HTTP 400)\n'
    )
    assert command.http_status == 400
    assert (
        json_mismatches(command.expected_json, {"code": 3, "message": "a x y b", "details": [1]})
        == []
    )


def test_ellipses_stand_for_values_members_items_and_text() -> None:
    pattern = parse_pattern(
        '{"id":"order-v1-...","run_id":"...","n":...,"items":[1,...],"at_epoch":1.5,...}'
    )
    good = {"id": "order-v1-3f", "run_id": "r", "n": [2], "items": [0, 1, 2], "at_epoch": 9}
    assert json_mismatches(pattern, {**good, "extra": True}) == []
    assert json_mismatches(pattern, {**good, "id": "other"}) == [
        ".id: expected 'order-v1-...', got 'other'"
    ]
    assert json_mismatches(pattern, {**good, "at_epoch": "soon"}) == [
        ".at_epoch: expected a number, got 'soon'"
    ]
    assert json_mismatches(pattern, {**good, "items": [0, 2]}) == [".items: no item matches 1"]
    exact = parse_pattern('{"started":true,"warnings":[]}')
    assert json_mismatches(exact, {"started": 1, "warnings": []}) == [
        ".started: expected True, got 1"
    ]
    assert json_mismatches(exact, {"started": True, "warnings": [], "x": 0}) == [
        ".x: not shown in the docs"
    ]
    assert parse_pattern("...") is ANY
    with pytest.raises(ValueError):
        parse_pattern('{"a":1} trailing')


def test_text_output_line_by_line() -> None:
    shown = "TYPE  QUEUE\norder.v1  orders\n...\nregistered worker orders@.../...; heartbeat"
    printed = (
        "TYPE  QUEUE\norder.v1  orders\nmore\nlines\nregistered worker orders@vm/42; heartbeat\n"
    )
    assert text_matches(shown, printed)
    assert not text_matches(shown, printed.replace("orders\n", "payments\n", 1))
    assert text_matches("a\n...", "a")
