"""List pagination (AIP-158) and label selectors for the registry's List RPCs.

Page tokens are opaque to clients: urlsafe base64 (unpadded) of compact JSON
`{"v": version, "k": last key served, "q": query fingerprint}`. A page continues
strictly after the last key served, so it stays correct when items are added
or removed between pages. A token only works with the query it was issued for:
the same filters, any page_size (AIP-158). Tokens are not signed: a
hand-made one is just a start position in a listing the client may read anyway.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from registry.server.errors import FieldViolation, RegistryError, invalid_argument

T = TypeVar("T")

TOKEN_VERSION = 1
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_SELECTOR_TERM = re.compile(r"\s*([^\s=!,]+)\s*==?\s*([^\s=!,]*)\s*")


def query_fingerprint(**params: object) -> str:
    """A stable short hash of a query's filters (JSON values; leave out
    page_size and page_token)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_page_token(last_key: str, query_fingerprint: str) -> str:
    payload = json.dumps(
        {"v": TOKEN_VERSION, "k": last_key, "q": query_fingerprint}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_page_token(token: str, query_fingerprint: str) -> str | None:
    """The last key served before this token, or None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSONDecodeError
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("k"), str):
        raise _invalid_token("page_token is not a page token from this server")
    if data.get("v") != TOKEN_VERSION:
        raise _invalid_token("page_token is from another server version; list again without it")
    if data.get("q") != query_fingerprint:
        raise _invalid_token(
            "page_token was issued for a different query; "
            "repeat the filters of the first request, or list again without it"
        )
    key: str = data["k"]
    return key


def page_size_of(
    page_size: int, default_size: int = DEFAULT_PAGE_SIZE, max_size: int = MAX_PAGE_SIZE
) -> int:
    """The page size a request gets (AIP-158): 0 means `default_size`, larger than
    `max_size` is clamped, negative is INVALID_ARGUMENT."""
    if page_size < 0:
        raise _invalid(
            "page_size",
            "INVALID_PAGE_SIZE",
            f"page_size must be 0 (server default) or positive, got {page_size}",
        )
    return min(page_size or default_size, max_size)


def paginate(
    items_sorted: Sequence[T],
    key: Callable[[T], str],
    page_size: int,
    token: str,
    query_fingerprint: str,
    *,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> tuple[list[T], str]:
    """One page of `items_sorted` (ascending by unique `key`) and the next
    page token, "" after the last page. page_size 0 means `default_size`;
    larger than `max_size` is clamped."""
    size = page_size_of(page_size, default_size, max_size)
    last_key = decode_page_token(token, query_fingerprint)
    start = 0 if last_key is None else bisect.bisect_right(items_sorted, last_key, key=key)
    page = list(items_sorted[start : start + size])
    if start + size >= len(items_sorted):
        return page, ""
    return page, encode_page_token(key(page[-1]), query_fingerprint)


def parse_label_selector(text: str) -> dict[str, str]:
    """`env=prod, team==payments` -> {"env": "prod", "team": "payments"};
    "" -> {} (matches everything). Only equality terms are supported."""
    if not text.strip():
        return {}
    selector: dict[str, str] = {}
    for term in text.split(","):
        match = _SELECTOR_TERM.fullmatch(term)
        if match is None:
            raise _invalid_selector(
                f"{term.strip()!r} is not key=value; a selector is comma-separated key=value terms"
            )
        label, value = match.groups()
        if selector.setdefault(label, value) != value:
            raise _invalid_selector(
                f"label {label!r} is asked to equal both {selector[label]!r} and {value!r}"
            )
    return selector


def labels_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(label) == value for label, value in selector.items())


def _invalid_token(message: str) -> RegistryError:
    return _invalid("page_token", "INVALID_PAGE_TOKEN", message)


def _invalid_selector(message: str) -> RegistryError:
    return _invalid("label_selector", "INVALID_LABEL_SELECTOR", message)


def _invalid(field: str, reason: str, message: str) -> RegistryError:
    return invalid_argument(reason, message, [FieldViolation(field, message, reason)])
