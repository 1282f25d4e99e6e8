"""registry.shared.slugs: a name's slug and the `<slug>-r<N>` workflow ids built from it."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

import pytest

from registry.shared import slugs as slugs_module
from registry.shared.slugs import (
    MAX_NAME_LENGTH,
    MAX_SLUG_LENGTH,
    SlugError,
    is_slug,
    slug_workflow_id,
    slugify,
)


def test_slugs_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(slugs_module.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {
        "__future__"
    }


# --- slugify ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Order #42 / EU", "order-42-eu"),
        ("orders", "orders"),
        ("ORDERS", "orders"),
        ("--a--b--", "a-b"),
        ("a - b", "a-b"),
        ("a_b.c:d", "a-b-c-d"),
        ("  padded  ", "padded"),
        ("tab\tand\nnewline", "tab-and-newline"),
        ("Café", "caf"),
        ("naïve Ünïcode", "na-ve-n-code"),
        ("日本 42", "42"),
        ("already-a-slug", "already-a-slug"),
        ("007", "007"),
        ("x", "x"),
    ],
    ids=[
        "example",
        "plain",
        "upper",
        "dash-runs",
        "spaced-dash",
        "punctuation",
        "padded",
        "whitespace",
        "accent-dropped",
        "unicode-runs",
        "cjk-dropped",
        "already-a-slug",
        "digits",
        "one-char",
    ],
)
def test_slugify(name: str, expected: str) -> None:
    assert slugify(name) == expected


def test_slugify_keeps_a_slug_of_exactly_the_maximum_length() -> None:
    assert slugify("A" * MAX_SLUG_LENGTH) == "a" * MAX_SLUG_LENGTH
    # Separators that collapse do not count: a long name can still give a short enough slug.
    name = "a" + " " * (MAX_NAME_LENGTH - 2) + "b"
    assert len(name) == MAX_NAME_LENGTH
    assert slugify(name) == "a-b"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "required"),
        ("   ", "required"),
        ("\t\n", "required"),
        ("x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH}"),
        (" " * (MAX_NAME_LENGTH + 1), "required"),
        ("!!!", "no letters or digits"),
        ("---", "no letters or digits"),
        ("Éé ü", "no letters or digits"),
        ("a" * (MAX_SLUG_LENGTH + 1), f"longer than {MAX_SLUG_LENGTH}"),
        ("ab " * 40, f"longer than {MAX_SLUG_LENGTH}"),
    ],
    ids=[
        "empty",
        "blank",
        "whitespace",
        "name-too-long",
        "long-blank",
        "punctuation-only",
        "dashes-only",
        "non-ascii-only",
        "slug-too-long",
        "slug-too-long-after-collapsing",
    ],
)
def test_slugify_refuses_names_without_a_usable_slug(name: str, message: str) -> None:
    with pytest.raises(SlugError, match=message):
        slugify(name)


@pytest.mark.parametrize(
    "name", [None, 42, b"orders", ["orders"]], ids=["none", "int", "bytes", "list"]
)
def test_slugify_refuses_non_strings_with_a_slug_error(name: object) -> None:
    with pytest.raises(SlugError):
        slugify(name)  # type: ignore[arg-type]


def test_slug_error_is_a_value_error() -> None:
    assert issubclass(SlugError, ValueError)


# --- is_slug and workflow ids ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", True),
        ("order-42-eu", True),
        ("007", True),
        ("a" * MAX_SLUG_LENGTH, True),
        ("a" * (MAX_SLUG_LENGTH + 1), False),
        ("", False),
        ("-a", False),
        ("a-", False),
        ("a--b", False),
        ("A", False),
        ("a_b", False),
        ("a b", False),
        ("caf\u00e9", False),
        ("a\n", False),
        (None, False),
        (42, False),
        (b"a", False),
    ],
    ids=[
        "one-char",
        "dashed",
        "digits",
        "max-length",
        "too-long",
        "empty",
        "leading-dash",
        "trailing-dash",
        "double-dash",
        "upper",
        "underscore",
        "space",
        "non-ascii",
        "trailing-newline",
        "none",
        "int",
        "bytes",
    ],
)
def test_is_slug(text: object, expected: bool) -> None:
    assert is_slug(text) is expected


def test_slug_workflow_id() -> None:
    assert slug_workflow_id("order-42-eu", 1) == "order-42-eu-r1"
    assert slug_workflow_id("a", 1234) == "a-r1234"
    assert slug_workflow_id("a", 0) == "a-r0"


# --- property: slugify gives a slug or refuses -----------------------------------------------

ALPHABET = "abcXYZ019-_ ./#\t\u00e9\u00fc\u65e5\U0001f600!"


def test_slugify_gives_an_idempotent_slug_or_a_slug_error_for_random_names() -> None:
    rng = random.Random(20240611)
    slugged = refused = 0
    for _ in range(3000):
        length = rng.choice([0, 1, 2, 5, 20, 60, 99, 100, 101, 127, 128, 129])
        name = "".join(rng.choice(ALPHABET) for _ in range(length))
        try:
            slug = slugify(name)
        except SlugError as error:
            refused += 1
            assert str(error)
            continue
        slugged += 1
        assert is_slug(slug), (name, slug)
        assert slugify(slug) == slug
        assert slug == slug.lower() and "--" not in slug
        assert len(slug) <= min(len(name), MAX_SLUG_LENGTH)
    assert slugged > 1000 and refused > 100  # both paths exercised
