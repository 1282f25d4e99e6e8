"""Human-readable workflow ids: a name's slug and a counter, `<slug>-r<N>`.

Standard library only: the registry workflow's validators use it too.
"""

from __future__ import annotations

import re
from typing import Final

MAX_NAME_LENGTH: Final = 128
MAX_SLUG_LENGTH: Final = 100
SLUG_PATTERN: Final = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_NOT_SLUG = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


class SlugError(ValueError):
    """A name that gives no usable slug; the message says why."""


def slugify(name: str) -> str:
    """Lowercase; every run of characters other than a-z, 0-9 and '-' becomes one '-';
    runs of dashes collapse; leading and trailing dashes go. `Order #42 / EU` ->
    `order-42-eu`."""
    if not isinstance(name, str) or not name.strip():
        raise SlugError("name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise SlugError(f"name must be at most {MAX_NAME_LENGTH} characters")
    slug = _DASHES.sub("-", _NOT_SLUG.sub("-", name.lower())).strip("-")
    if not slug:
        raise SlugError(f"name {name!r} has no letters or digits to make a slug from")
    if len(slug) > MAX_SLUG_LENGTH:
        raise SlugError(f"the slug of the name is longer than {MAX_SLUG_LENGTH} characters")
    return slug


def is_slug(text: object) -> bool:
    return (
        isinstance(text, str)
        and len(text) <= MAX_SLUG_LENGTH
        and SLUG_PATTERN.fullmatch(text) is not None
    )


def slug_workflow_id(slug: str, counter: int) -> str:
    return f"{slug}-r{counter}"
