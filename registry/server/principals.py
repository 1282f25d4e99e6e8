"""Principals: who a bearer token speaks for, and what a worker token may register.

Every configured token belongs to a principal: a name and the scopes it grants. The name is
given in the configuration or, for a plain token, derived from the token's SHA-256 (a short
hash never reveals the token). Tokens sharing a name are one principal (rotation: add the new
token under the same name). The registry records the principal that registered each worker and
the principal that owns each workflow type (registry.catalog), so names must be stable.

A worker principal may be bound to task queues and workflow types: shell-style globs matched
case-sensitively against the whole name (`*` any run of characters, `?` one character, `[ab]`
a character class). A pattern without wildcards names exactly one queue or type, so `orders`
does not also allow `orders-evil`; `order.*` allows every type starting with `order.`. No
pattern: any queue (or type).

Standard library only: registry.config imports it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

WORKER: Final = "worker"
CLIENT: Final = "client"
ADMIN: Final = "admin"
SCOPES: Final = (WORKER, CLIENT, ADMIN)

# An explicit principal name. No ":" so it never collides with a derived name.
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
DERIVED_PREFIX: Final = "sha256:"
DERIVED_PATTERN: Final = re.compile(r"sha256:[0-9a-f]{12}")
MAX_PATTERN_LENGTH: Final = 200


def derived_name(token: str) -> str:
    """The principal name of a token configured without one: `sha256:` and the first 12 hex
    digits of the token's SHA-256 (`printf %s "$TOKEN" | sha256sum | cut -c1-12`)."""
    return DERIVED_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:12]


def is_principal_name(value: object) -> bool:
    """A configured or derived principal name."""
    return isinstance(value, str) and bool(
        NAME_PATTERN.fullmatch(value) or DERIVED_PATTERN.fullmatch(value)
    )


def matches(patterns: Iterable[str], value: str) -> bool:
    """Whether value matches one of the globs; no globs match everything."""
    patterns = tuple(patterns)
    return not patterns or any(fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Principal:
    """Who a call speaks for. `name` is empty only with auth disabled (no identity: nothing
    is recorded and no ownership is checked)."""

    name: str
    scopes: frozenset[str]
    task_queues: tuple[str, ...] = ()  # globs a worker may register on; empty: any
    workflow_types: tuple[str, ...] = ()  # globs of the types it may register; empty: any

    @property
    def admin(self) -> bool:
        return ADMIN in self.scopes

    @property
    def bound(self) -> bool:
        return bool(self.task_queues or self.workflow_types)

    def may_use_queue(self, task_queue: str) -> bool:
        return self.admin or matches(self.task_queues, task_queue)

    def may_register_type(self, workflow_type: str) -> bool:
        return self.admin or matches(self.workflow_types, workflow_type)


# With auth disabled every call is this: every scope, no identity.
ANONYMOUS: Final = Principal("", frozenset(SCOPES))
