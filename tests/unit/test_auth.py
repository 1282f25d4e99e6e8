"""registry.auth: bearer parsing, constant-time token matching, scopes, the method table,
fail-closed config, and the dev tokens `up` makes."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import yaml

from registry.auth import (
    ADMIN,
    CLIENT,
    PUBLIC,
    SCOPES,
    WORKER,
    Authenticator,
    granted_scopes,
    require,
    required_scope,
)
from registry.config import AuthConfig
from registry.devstack import dev_token_env
from registry.errors import RegistryError

TOKENS = {WORKER: ["w" * 20], CLIENT: ["c" * 20, "c2" * 10], ADMIN: ["a" * 20]}
auth = Authenticator(TOKENS)
V1 = "/temporal_registry.v1."


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refusal(call: object) -> RegistryError:
    with pytest.raises(RegistryError) as raised:
        call()  # type: ignore[operator]
    return raised.value


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        pytest.param({}, "MISSING_TOKEN", id="no-header"),
        pytest.param({"authorization": "Basic abc"}, "MISSING_TOKEN", id="not-bearer"),
        pytest.param(bearer("nope" * 5), "INVALID_TOKEN", id="unknown"),
        pytest.param(bearer(""), "INVALID_TOKEN", id="empty"),
    ],
)
def test_missing_or_unknown_tokens_are_unauthenticated(
    metadata: dict[str, str], reason: str
) -> None:
    error = refusal(lambda: auth.scopes(metadata))
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, reason)


def test_tokens_grant_their_scope_and_admin_grants_all() -> None:
    assert auth.scopes(bearer("w" * 20)) == {WORKER}
    assert auth.scopes(bearer("c2" * 10)) == {CLIENT}  # a second token: rotation
    assert auth.scopes({"authorization": "bearer " + "c" * 20}) == {CLIENT}
    assert auth.scopes(bearer("a" * 20)) == set(SCOPES)


def test_authorize_follows_the_method_table() -> None:
    assert auth.authorize(f"{V1}SystemService/GetHealth", {}) == frozenset()
    assert auth.authorize(f"{V1}RegistryService/Heartbeat", bearer("w" * 20)) == {WORKER}
    error = refusal(lambda: auth.authorize(f"{V1}RegistryService/ListWorkflows", bearer("w" * 20)))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_REQUIRED")
    assert error.metadata == {"required_scope": CLIENT, "granted": WORKER}
    error = refusal(lambda: auth.authorize(f"{V1}RegistryService/DeleteWorkflow", bearer("c" * 20)))
    assert error.metadata["required_scope"] == ADMIN


def test_unknown_methods_need_admin() -> None:
    assert required_scope("/some.Service/Method") == ADMIN
    assert required_scope("/grpc.health.v1.Health/Check") == PUBLIC


def test_require_reads_the_calls_scopes() -> None:
    token = granted_scopes.set(frozenset({CLIENT}))
    try:
        require(CLIENT)
        assert refusal(lambda: require(ADMIN)).code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        granted_scopes.reset(token)


def test_config_fails_closed_and_reads_token_lists_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no token is configured"):
        AuthConfig()
    assert AuthConfig(enabled=False).tokens() == {"worker": [], "client": [], "admin": []}
    config = AuthConfig.model_validate({"admin_tokens": "a" * 16 + ", " + "b" * 16})
    assert config.tokens()["admin"] == ["a" * 16, "b" * 16]
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"worker": ["w" * 16]}))
    assert AuthConfig(tokens_file=path).tokens()["worker"] == ["w" * 16]
    with pytest.raises(ValueError, match="at least 16"):
        AuthConfig(admin_tokens=["short"])


def test_up_makes_dev_tokens_once(tmp_path: Path) -> None:
    env = dev_token_env({"DEV_DATA_DIR": str(tmp_path)})
    path = Path(env["AUTH_TOKENS_FILE"])
    tokens = yaml.safe_load(path.read_text())
    assert set(tokens) == set(SCOPES) and all(len(t[0]) >= 16 for t in tokens.values())
    assert path.stat().st_mode & 0o077 == 0  # readable by the owner only
    assert dev_token_env({"DEV_DATA_DIR": str(tmp_path)}) == env  # the same file again
    assert yaml.safe_load(path.read_text()) == tokens
    # configured tokens, or auth off: left alone
    assert "AUTH_TOKENS_FILE" not in dev_token_env({"AUTH_ADMIN_TOKENS": "x" * 16})
    assert "AUTH_TOKENS_FILE" not in dev_token_env({"AUTH_ENABLED": "false"})
