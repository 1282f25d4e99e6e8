"""AIP-158 page tokens, paging over a changing collection, label selectors."""

from __future__ import annotations

import base64
import json
import random
import re

import grpc
import pytest

from registry.server.errors import FieldViolation, RegistryError
from registry.server.pagination import (
    decode_page_token,
    encode_page_token,
    labels_match,
    page_size_of,
    paginate,
    parse_label_selector,
    query_fingerprint,
)

QUERY = query_fingerprint(environment="prod", label_selector={"team": "payments"})


def raw_token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def assert_invalid(error: pytest.ExceptionInfo[RegistryError], field: str, reason: str) -> None:
    assert error.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.reason == reason
    assert error.value.violations == [FieldViolation(field, error.value.message, reason)]


def page_through(items: list[str], page_size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page, token = paginate(items, str, page_size, token, QUERY)
        pages.append(page)
        if not token:
            return pages


# --- fingerprints and tokens -----------------------------------------------------------


def test_query_fingerprint_is_stable_and_order_insensitive() -> None:
    a = query_fingerprint(environment="prod", labels={"a": "1", "b": "2"})
    b = query_fingerprint(labels={"b": "2", "a": "1"}, environment="prod")
    assert a == b
    assert re.fullmatch(r"[0-9a-f]{16}", a)
    assert a != query_fingerprint(environment="dev", labels={"a": "1", "b": "2"})
    assert query_fingerprint() != query_fingerprint(environment="")


def test_token_round_trips_and_is_url_safe() -> None:
    for key in ("", "orders/ProcessOrder", "ünïcode/+?&=", "x" * 300):
        token = encode_page_token(key, QUERY)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert decode_page_token(token, QUERY) == key


def test_empty_token_means_first_page() -> None:
    assert decode_page_token("", QUERY) is None


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "eyJ2IjoxLC",  # truncated
        base64.urlsafe_b64encode(b"\xff\xfe binary").decode(),
        raw_token(["v", 1]),
        raw_token({"v": 1, "q": QUERY}),  # no key
        raw_token({"v": 1, "k": 42, "q": QUERY}),
        raw_token("just a string"),
    ],
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(RegistryError) as error:
        decode_page_token(token, QUERY)
    assert_invalid(error, "page_token", "INVALID_PAGE_TOKEN")


def test_tampered_tokens_are_rejected() -> None:
    token = encode_page_token("orders/ProcessOrder", QUERY)
    for tampered in (token[:-1], token[:-2] + "!!", token[1:], token + "$", "A" + token):
        with pytest.raises(RegistryError) as error:
            decode_page_token(tampered, QUERY)
        assert_invalid(error, "page_token", "INVALID_PAGE_TOKEN")


def test_padded_tokens_are_accepted() -> None:
    token = base64.urlsafe_b64encode(b'{"v":1,"k":"ab","q":"' + QUERY.encode() + b'"}').decode()
    assert decode_page_token(token, QUERY) == "ab"


def test_token_of_another_version_is_rejected() -> None:
    with pytest.raises(RegistryError) as error:
        decode_page_token(raw_token({"v": 2, "k": "a", "q": QUERY}), QUERY)
    assert_invalid(error, "page_token", "INVALID_PAGE_TOKEN")
    assert "another server version" in error.value.message


def test_token_for_another_query_is_rejected() -> None:
    token = encode_page_token("a", query_fingerprint(environment="dev"))
    with pytest.raises(RegistryError) as error:
        decode_page_token(token, query_fingerprint(environment="prod"))
    assert_invalid(error, "page_token", "INVALID_PAGE_TOKEN")
    assert "different query" in error.value.message


# --- paginate --------------------------------------------------------------------------

ITEMS = [f"wf{i:03d}" for i in range(25)]


def test_pages_cover_everything_once_in_order() -> None:
    pages = page_through(ITEMS, 10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [item for page in pages for item in page] == ITEMS


def test_no_empty_last_page_when_the_items_divide_evenly() -> None:
    assert [len(page) for page in page_through(ITEMS[:20], 10)] == [10, 10]


def test_empty_collection() -> None:
    assert paginate([], str, 10, "", QUERY) == ([], "")


def test_page_size_may_change_between_pages() -> None:
    first, token = paginate(ITEMS, str, 5, "", QUERY)
    second, token = paginate(ITEMS, str, 100, token, QUERY)
    assert first + second == ITEMS
    assert token == ""


def test_page_size_zero_means_the_default_and_large_is_clamped() -> None:
    items = [f"{i:05d}" for i in range(2500)]
    assert len(paginate(items, str, 0, "", QUERY)[0]) == 100
    assert len(paginate(items, str, 5000, "", QUERY)[0]) == 1000
    assert len(paginate(items, str, 0, "", QUERY, default_size=7, max_size=20)[0]) == 7
    assert len(paginate(items, str, 50, "", QUERY, default_size=7, max_size=20)[0]) == 20


def test_negative_page_size_is_invalid() -> None:
    with pytest.raises(RegistryError) as error:
        paginate(ITEMS, str, -1, "", QUERY)
    assert_invalid(error, "page_size", "INVALID_PAGE_SIZE")


def test_token_from_another_query_is_rejected_by_paginate() -> None:
    _, token = paginate(ITEMS, str, 10, "", QUERY)
    with pytest.raises(RegistryError) as error:
        paginate(ITEMS, str, 10, token, query_fingerprint(environment="dev"))
    assert_invalid(error, "page_token", "INVALID_PAGE_TOKEN")


def test_paging_continues_after_the_last_key_across_inserts_and_deletes() -> None:
    items = ["a", "b", "c", "d", "e", "f"]
    first, token = paginate(items, str, 3, "", QUERY)
    assert first == ["a", "b", "c"]
    # Between pages: the last item served and one before it go, others arrive.
    items = ["a", "aa", "ca", "d", "da", "f"]
    second, token = paginate(items, str, 3, token, QUERY)
    assert second == ["ca", "d", "da"]
    third, token = paginate(items, str, 3, token, QUERY)
    assert (third, token) == (["f"], "")


def test_paging_keys_objects_by_the_given_key() -> None:
    items = [{"name": f"n{i}"} for i in range(5)]
    page, token = paginate(items, lambda item: item["name"], 2, "", QUERY)
    assert page == items[:2]
    assert paginate(items, lambda item: item["name"], 2, token, QUERY)[0] == items[2:4]


@pytest.mark.parametrize("seed", range(20))
def test_items_present_throughout_are_listed_exactly_once(seed: int) -> None:
    rng = random.Random(seed)
    current = set(rng.sample(range(1000), 60))
    always = set(current)
    seen: list[int] = []
    token = ""
    while True:
        page, token = paginate(
            sorted(f"{n:04d}" for n in current), str, rng.randint(1, 15), token, QUERY
        )
        seen += [int(item) for item in page]
        if not token:
            break
        removed = set(rng.sample(sorted(current), 5))
        current = (current - removed) | set(rng.sample(range(1000), 5))
        always -= removed
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)
    assert always <= set(seen)


# --- label selectors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "selector"),
    [
        ("", {}),
        ("   ", {}),
        ("env=prod", {"env": "prod"}),
        ("env==prod", {"env": "prod"}),
        (" env = prod , team==payments ", {"env": "prod", "team": "payments"}),
        ("example.com/tier=gold", {"example.com/tier": "gold"}),
        ("canary=", {"canary": ""}),
        ("env=prod,env=prod", {"env": "prod"}),
    ],
)
def test_parse_label_selector(text: str, selector: dict[str, str]) -> None:
    assert parse_label_selector(text) == selector


@pytest.mark.parametrize(
    "text",
    [
        "env",
        "=prod",
        "env!=prod",
        "env=prod,",
        "a=1,,b=2",
        "a=b=c",
        "my env=prod",
        "env=pr od",
        "env=prod,env=dev",
        "env===prod",
    ],
)
def test_bad_label_selectors_are_invalid(text: str) -> None:
    with pytest.raises(RegistryError) as error:
        parse_label_selector(text)
    assert_invalid(error, "label_selector", "INVALID_LABEL_SELECTOR")


def test_labels_match_requires_every_selected_label() -> None:
    labels = {"env": "prod", "team": "payments", "canary": ""}
    assert labels_match(labels, {})
    assert labels_match(labels, {"env": "prod", "team": "payments"})
    assert labels_match(labels, {"canary": ""})
    assert not labels_match(labels, {"env": "dev"})
    assert not labels_match(labels, {"region": ""})
    assert not labels_match({}, {"env": "prod"})


def test_page_size_defaults_clamps_and_refuses_negatives() -> None:
    assert (page_size_of(0), page_size_of(7), page_size_of(10**6)) == (100, 7, 1000)
    with pytest.raises(RegistryError) as raised:
        page_size_of(-1)
    assert_invalid(raised, "page_size", "INVALID_PAGE_SIZE")
