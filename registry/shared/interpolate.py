"""`${VAR}` / `${VAR:-default}` substitution, shared by the config loader and
the Envoy template renderer.

Rules (the shell's `:-`): an unset *or empty* variable takes the default;
`${VAR}` with no default and no value is an error naming the variable;
`$${` escapes a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariableError(KeyError):
    """A `${VAR}` without default whose variable is unset or empty."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"${{{self.name}}} is not set and has no default (write ${{{self.name}:-value}})"


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Replace every placeholder in text with its value from env."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        value = env.get(name, "")
        if value != "":
            return value
        if default is None:
            raise MissingVariableError(name)
        return default

    return _PLACEHOLDER.sub(replace, text)
