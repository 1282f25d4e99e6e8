"""The command blocks of README.md and docs/*.md, and what the docs say they print.

The docs are written for people; these conventions let tests/integration/test_docs.py run
them verbatim without getting in a reader's way:

- A ```bash block (or sh, shell, console) holds commands, run in order, one shell per file,
  so a variable set in one block (`AUTH=...`) is there for the next ones.
- A block that cannot run says so in an HTML comment right before its fence, with the
  reason: `<!-- not run: needs Docker -->`. Markdown shows nothing of it.
- What a command prints, when the docs show it:
  - a comment starting with `{` or `[` after the command, on its line or on the comment
    lines right below it (continued over several `#` lines until the JSON closes): the JSON
    it prints. Text after the JSON is prose, except that `(HTTP 400)` is checked against
    the `code` of the google.rpc.Status printed;
  - an untagged block right after the command block: what its last command prints (stdout
    and stderr, as a terminal shows them), line by line.
- `...` stands for what varies: a JSON value (`"run_id":"..."`, `"started_at":...`), more
  members of an object or items of an array (`{"status":"ready",...}`), any text inside a
  string or a line (`"order.v1-..."`), or, alone on a line, any number of lines. Numbers
  under a key ending in `_epoch` are times: only their type is compared.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMMAND_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.*?)\s*-->$")
FENCE = re.compile(r"^ {0,3}(?P<fence>```+)\s*(?P<language>[\w+-]*)")
HEREDOC = re.compile(r"<<-?\s*(?P<quote>['\"]?)(?P<word>[A-Za-z_][A-Za-z0-9_]*)(?P=quote)")
HTTP_STATUS = re.compile(r"\(HTTP (?P<status>\d{3})\)")
# google.rpc.Code -> the HTTP status Envoy's transcoder answers with.
HTTP_OF_CODE = {
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}


@dataclass
class Command:
    """One command of a block, with the output the docs show for it (if any)."""

    text: str
    line: int  # in the markdown file, 1-based
    expected_json: Any = None
    expected_json_text: str = ""
    http_status: int | None = None
    expected_text: str | None = None

    @property
    def shows_output(self) -> bool:
        return bool(self.expected_json_text) or self.expected_text is not None


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    body: str
    not_run: str | None = None  # the reason, for a block marked not run
    commands: list[Command] = field(default_factory=list)
    output: str | None = None  # an untagged block right after this one

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def command_blocks(path: Path) -> list[Block]:
    """The command blocks of a markdown file, in order, each split into commands."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    previous: Block | None = None  # a command block whose closing fence was just passed
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            if lines[i].strip():
                previous = None
            i += 1
            continue
        fence, language = opening["fence"], opening["language"].lower()
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        text = "\n".join(body)
        if language in COMMAND_LANGUAGES:
            block = Block(path, start + 1, language, text, _not_run_reason(lines, start))
            block.commands = split_commands(text, start + 2)
            blocks.append(block)
            previous = block
        elif not language and previous is not None and previous.commands:
            previous.output = text
            previous.commands[-1].expected_text = text
            previous = None
        else:
            previous = None
    return blocks


def _not_run_reason(lines: list[str], fence: int) -> str | None:
    j = fence - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    marker = NOT_RUN.match(lines[j].strip()) if j >= 0 else None
    return marker["reason"] if marker else None


# --- commands ------------------------------------------------------------------------------


@dataclass
class _Line:
    quote: str | None  # the quote still open at the end of the line
    comment: str | None  # the comment the line ends with, without `#`
    continues: bool  # a trailing backslash, pipe or && / ||
    heredocs: list[str]


def _scan(line: str, quote: str | None) -> _Line:
    """Where a shell line leaves quoting, and its comment, continuation and heredocs."""
    heredocs: list[str] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "\\":
            if i == n - 1:
                return _Line(None, None, True, heredocs)
            i += 1
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            code = line[:i].rstrip()
            return _Line(None, line[i + 1 :].strip(), _joins(code), heredocs)
        elif c == "<" and line.startswith("<<", i) and not line.startswith("<<<", i):
            heredoc = HEREDOC.match(line, i)
            if heredoc:
                heredocs.append(heredoc["word"])
                i = heredoc.end() - 1
        i += 1
    return _Line(quote, None, quote is None and _joins(line.rstrip()), heredocs)


def _joins(code: str) -> bool:
    return code.endswith(("\\", "|", "&&", "||"))


def split_commands(body: str, first_line: int = 1) -> list[Command]:
    """The commands of a block, each with the JSON output its comments show."""
    lines = body.split("\n")
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            i += 1
            continue
        start, quote, comment = i, None, None
        while i < len(lines):
            scanned = _scan(lines[i], quote)
            quote, comment = scanned.quote, scanned.comment
            i += 1
            for word in scanned.heredocs:  # the heredoc's lines belong to the command
                while i < len(lines) and lines[i].strip() != word:
                    i += 1
                i += 1
            if quote is None and not scanned.continues:
                break
        command = Command("\n".join(lines[start:i]), first_line + start)
        i = _expected_json(command, comment, lines, i)
        commands.append(command)
    return commands


def _expected_json(command: Command, comment: str | None, lines: list[str], i: int) -> int:
    """Read the JSON the comments after a command show (on its line, or starting on the
    next comment line); the index of the first line after them."""
    shown_inline = comment is not None and comment.startswith(("{", "["))
    if not shown_inline and i < len(lines) and lines[i].lstrip().startswith("#"):
        following = lines[i].lstrip()[1:].strip()
        if following.startswith(("{", "[")):
            comment, i = following, i + 1
    if comment is None or not comment.startswith(("{", "[")):
        return i
    text = comment
    while _json_end(text) is None and i < len(lines) and lines[i].lstrip().startswith("#"):
        text += " " + lines[i].lstrip()[1:].strip()
        i += 1
    end = _json_end(text)
    if end is None:
        raise ValueError(f"line {command.line}: the JSON shown after the command never closes")
    command.expected_json_text = text[:end]
    command.expected_json = parse_pattern(text[:end])
    status = HTTP_STATUS.search(text[end:])
    command.http_status = int(status["status"]) if status else None
    return i


def _json_end(text: str) -> int | None:
    """The index just past the JSON value `text` starts with, or None if it is not closed."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


# --- JSON with `...` ---------------------------------------------------------------------


class _Anything:
    def __repr__(self) -> str:
        return "..."


ANY = _Anything()


@dataclass(frozen=True)
class Text:
    """A string with `...` in it: any text there."""

    pattern: str

    def matches(self, value: str) -> bool:
        parts = (re.escape(part) for part in self.pattern.split("..."))
        return re.fullmatch(".*".join(parts), value, re.DOTALL) is not None


@dataclass
class ObjectPattern:
    members: dict[str, Any]
    more: bool  # other members may follow


@dataclass
class ArrayPattern:
    items: list[Any]
    more: bool  # other items may be there


def parse_pattern(text: str) -> Any:
    """JSON in which `...` may stand for a value, more members or items, or text."""
    value, end = _Parser(text).value(0)
    if text[end:].strip():
        raise ValueError(f"unexpected {text[end:]!r} after the JSON")
    return value


class _Parser:
    NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")

    def __init__(self, text: str) -> None:
        self.text = text

    def skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i].isspace():
            i += 1
        return i

    def value(self, i: int) -> tuple[Any, int]:
        i = self.skip(i)
        text = self.text
        if text.startswith("...", i):
            return ANY, i + 3
        if text[i] == "{":
            return self.object(i + 1)
        if text[i] == "[":
            return self.array(i + 1)
        if text[i] == '"':
            string, end = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            if "..." in string:
                return (ANY if string == "..." else Text(string)), end
            return string, end
        for literal, meaning in (("true", True), ("false", False), ("null", None)):
            if text.startswith(literal, i):
                return meaning, i + len(literal)
        number = self.NUMBER.match(text, i)
        if number is None:
            raise ValueError(f"cannot read JSON at {text[i : i + 20]!r}")
        return json.loads(number.group()), number.end()

    def object(self, i: int) -> tuple[ObjectPattern, int]:
        pattern = ObjectPattern({}, more=False)
        i = self.skip(i)
        if self.text[i] == "}":
            return pattern, i + 1
        while True:
            i = self.skip(i)
            if self.text.startswith("...", i):
                pattern.more, i = True, i + 3
            else:
                key, i = json.decoder.scanstring(self.text, self.skip(i) + 1)  # type: ignore[attr-defined]
                i = self.skip(i)
                if self.text[i] != ":":
                    raise ValueError(f"expected ':' after {key!r}")
                pattern.members[key], i = self.value(i + 1)
            i = self.skip(i)
            if self.text[i] == "}":
                return pattern, i + 1
            if self.text[i] != ",":
                raise ValueError(f"expected ',' or '}}' at {self.text[i : i + 20]!r}")
            i += 1

    def array(self, i: int) -> tuple[ArrayPattern, int]:
        pattern = ArrayPattern([], more=False)
        i = self.skip(i)
        if self.text[i] == "]":
            return pattern, i + 1
        while True:
            item, i = self.value(i)
            if item is ANY:
                pattern.more = True
            else:
                pattern.items.append(item)
            i = self.skip(i)
            if self.text[i] == "]":
                return pattern, i + 1
            if self.text[i] != ",":
                raise ValueError(f"expected ',' or ']' at {self.text[i : i + 20]!r}")
            i += 1


def json_mismatches(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where `actual` differs from the pattern `expected`, field by field."""
    at = where or "the output"
    if expected is ANY:
        return []
    if isinstance(expected, ObjectPattern):
        if not isinstance(actual, dict):
            return [f"{at}: expected an object, got {actual!r}"]
        found = [f"{where}.{k}: missing" for k in expected.members if k not in actual]
        if not expected.more:
            found += [
                f"{where}.{k}: not shown in the docs" for k in actual if k not in expected.members
            ]
        for key, pattern in expected.members.items():
            if key in actual:
                if key.endswith("_epoch") and isinstance(pattern, int | float):
                    if not isinstance(actual[key], int | float) or isinstance(actual[key], bool):
                        found.append(f"{where}.{key}: expected a number, got {actual[key]!r}")
                    continue
                found += json_mismatches(pattern, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, ArrayPattern):
        if not isinstance(actual, list):
            return [f"{at}: expected an array, got {actual!r}"]
        if not expected.more:
            if len(actual) != len(expected.items):
                return [f"{at}: expected {len(expected.items)} items, got {len(actual)}"]
            found = []
            for n, (pattern, item) in enumerate(zip(expected.items, actual, strict=True)):
                found += json_mismatches(pattern, item, f"{where}[{n}]")
            return found
        rest = iter(enumerate(actual))  # the shown items, in order, among the actual ones
        for pattern in expected.items:
            if not any(not json_mismatches(pattern, item) for _, item in rest):
                return [f"{at}: no item matches {pattern!r}"]
        return []
    if isinstance(expected, Text):
        if isinstance(actual, str) and expected.matches(actual):
            return []
        return [f"{at}: expected {expected.pattern!r}, got {actual!r}"]
    same_type = isinstance(actual, bool) == isinstance(expected, bool)
    if same_type and actual == expected and (actual is None) == (expected is None):
        return []
    return [f"{at}: expected {expected!r}, got {actual!r}"]


def text_matches(expected: str, actual: str) -> bool:
    """Line by line; `...` in a line is any text, a line of only `...` any lines."""
    want = [line.rstrip() for line in expected.strip("\n").split("\n")]
    got = [line.rstrip() for line in actual.strip("\n").split("\n")]
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(want):
                memo[i, j] = j == len(got)
            elif want[i].strip() == "...":
                memo[i, j] = any(match(i + 1, k) for k in range(j, len(got) + 1))
            else:
                memo[i, j] = j < len(got) and Text(want[i]).matches(got[j]) and match(i + 1, j + 1)
        return memo[i, j]

    return match(0, 0)
