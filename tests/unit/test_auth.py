"""registry.auth and registry.principals: bearer parsing, constant-time token matching,
principals and their scopes, worker-token bindings, the method table, the token
configuration (plain lists, JSON entries, the tokens file) and the dev tokens `up` makes."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import yaml
from pydantic import ValidationError

from registry.devstack.stack import dev_token_env
from registry.server.auth import (
    ADMIN,
    CLIENT,
    PUBLIC,
    SCOPES,
    WORKER,
    Authenticator,
    bearer_token,
    check_registration_allowed,
    current_principal,
    require,
    required_scope,
)
from registry.server.config import AuthConfig, ConfigError, load_config
from registry.server.errors import RegistryError
from registry.server.principals import (
    ANONYMOUS,
    Principal,
    derived_name,
    is_principal_name,
    matches,
)
from registry.shared.model import WorkerRegistration, WorkflowSpec

TOKENS = {WORKER: ["w" * 20], CLIENT: ["c" * 20, "c2" * 10], ADMIN: ["a" * 20]}
auth = Authenticator(
    AuthConfig.model_validate({f"{s}_tokens": t for s, t in TOKENS.items()}).principals()
)
V1 = "/temporal_registry.v1."


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refusal(call: object) -> RegistryError:
    with pytest.raises(RegistryError) as raised:
        call()  # type: ignore[operator]
    return raised.value


# --- bearer tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        pytest.param({}, "MISSING_TOKEN", id="no-header"),
        pytest.param({"authorization": ""}, "MISSING_TOKEN", id="empty-header"),
        pytest.param({"authorization": "w" * 20}, "MALFORMED_AUTHORIZATION", id="no-scheme"),
        pytest.param({"authorization": "Basic abc"}, "MALFORMED_AUTHORIZATION", id="basic"),
        pytest.param({"authorization": "Token " + "w" * 20}, "MALFORMED_AUTHORIZATION", id="token"),
        pytest.param({"authorization": "Bearer"}, "MALFORMED_AUTHORIZATION", id="no-token"),
        pytest.param(bearer(""), "MALFORMED_AUTHORIZATION", id="empty-token"),
        pytest.param(bearer("nope" * 5), "INVALID_TOKEN", id="unknown"),
    ],
)
def test_missing_malformed_or_unknown_tokens_are_unauthenticated(
    metadata: dict[str, str], reason: str
) -> None:
    error = refusal(lambda: auth.identify(metadata))
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, reason)


def test_a_token_without_bearer_is_told_the_header_form_and_never_echoed() -> None:
    error = refusal(lambda: bearer_token({"authorization": "w" * 20}))
    assert "Authorization header must be `Bearer <token>`" in error.message
    assert "w" * 20 not in error.message
    assert "this call needs a token" not in error.message  # not blamed on a missing token


def test_the_scheme_is_case_insensitive_and_spaces_are_trimmed() -> None:
    assert bearer_token({"authorization": "bearer   abc "}) == "abc"
    assert bearer_token({"authorization": "BEARER abc"}) == "abc"


def test_tokens_grant_their_scope_and_admin_grants_all() -> None:
    assert auth.scopes(bearer("w" * 20)) == {WORKER}
    assert auth.scopes(bearer("c2" * 10)) == {CLIENT}  # a second token: rotation
    assert auth.scopes({"authorization": "bearer " + "c" * 20}) == {CLIENT}
    assert auth.scopes(bearer("a" * 20)) == set(SCOPES)


def test_plain_tokens_are_principals_named_by_a_hash_that_hides_the_token() -> None:
    principal = auth.identify(bearer("w" * 20))
    assert principal.name == derived_name("w" * 20)
    assert principal.name.startswith("sha256:") and len(principal.name) == len("sha256:") + 12
    assert "w" * 20 not in principal.name
    assert auth.identify(bearer("c" * 20)).name != auth.identify(bearer("c2" * 10)).name
    assert is_principal_name(principal.name)


def test_authorize_follows_the_method_table() -> None:
    assert auth.authorize(f"{V1}SystemService/GetHealth", {}).scopes == frozenset()
    assert auth.authorize(f"{V1}RegistryService/Heartbeat", bearer("w" * 20)).scopes == {WORKER}
    error = refusal(lambda: auth.authorize(f"{V1}RegistryService/ListWorkflows", bearer("w" * 20)))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_REQUIRED")
    assert error.metadata == {"required_scope": CLIENT, "granted": WORKER}
    error = refusal(lambda: auth.authorize(f"{V1}RegistryService/DeleteWorkflow", bearer("c" * 20)))
    assert error.metadata["required_scope"] == ADMIN
    assert auth.authorize(f"{V1}RegistryService/DeleteWorkflow", bearer("a" * 20)).admin


def test_unknown_methods_need_admin() -> None:
    assert required_scope("/some.Service/Method") == ADMIN
    assert required_scope("/grpc.health.v1.Health/Check") == PUBLIC


def test_require_reads_the_calls_principal() -> None:
    token = current_principal.set(Principal("c", frozenset({CLIENT})))
    try:
        require(CLIENT)
        assert refusal(lambda: require(ADMIN)).code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        current_principal.reset(token)
    require(ADMIN)  # auth off: the anonymous principal has every scope
    assert current_principal.get() is ANONYMOUS and ANONYMOUS.name == ""


# --- bindings ---------------------------------------------------------------------------------


def registration(task_queue: str, *types: str) -> WorkerRegistration:
    return WorkerRegistration("w1", task_queue, workflows=[WorkflowSpec(t) for t in types])


@pytest.mark.parametrize(
    ("patterns", "value", "expected"),
    [
        ((), "anything", True),
        (("orders",), "orders", True),
        (("orders",), "orders-evil", False),  # no wildcard: exactly one name
        (("orders",), "Orders", False),  # case-sensitive
        (("orders-*",), "orders-eu", True),
        (("order.*",), "order.v1", True),
        (("order.*",), "order", False),
        (("order.*",), "orders.v1", False),
        (("order.v?",), "order.v2", True),
        (("a", "b*"), "bx", True),
    ],
)
def test_bindings_are_whole_name_globs(
    patterns: tuple[str, ...], value: str, expected: bool
) -> None:
    assert matches(patterns, value) is expected


QUEUE_BOUND = Principal("orders", frozenset({WORKER}), task_queues=("orders",))
PREFIX_BOUND = Principal("billing", frozenset({WORKER}), workflow_types=("invoice.*",))


def test_a_queue_bound_token_registers_only_on_its_queues() -> None:
    check_registration_allowed(QUEUE_BOUND, registration("orders", "anything.v1"))
    error = refusal(
        lambda: check_registration_allowed(QUEUE_BOUND, registration("evil", "anything.v1"))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "QUEUE_NOT_ALLOWED")
    assert [(v.field, v.reason) for v in error.violations] == [("task_queue", "queue_not_allowed")]
    assert error.metadata == {"principal": "orders"}


def test_a_prefix_bound_token_registers_only_its_types_naming_each_bad_one() -> None:
    check_registration_allowed(PREFIX_BOUND, registration("any", "invoice.v1", "invoice.v2"))
    error = refusal(
        lambda: check_registration_allowed(
            PREFIX_BOUND, registration("any", "invoice.v1", "order.v1", "refund.v1")
        )
    )
    assert error.reason == "WORKFLOW_TYPE_NOT_ALLOWED"
    assert [v.field for v in error.violations] == [
        "workflows[1].workflow_type",
        "workflows[2].workflow_type",
    ]
    assert error.message.endswith("(and 1 more)")


def test_a_bad_queue_and_bad_types_are_all_named_the_queue_giving_the_reason() -> None:
    both = Principal("x", frozenset({WORKER}), ("q",), ("t.*",))
    error = refusal(lambda: check_registration_allowed(both, registration("r", "u.v1")))
    assert error.reason == "QUEUE_NOT_ALLOWED"
    assert {v.field for v in error.violations} == {"task_queue", "workflows[0].workflow_type"}


def test_admin_and_unbound_principals_register_anything() -> None:
    admin = Principal("ops", frozenset({ADMIN, WORKER}), ("q",), ("t.*",))
    check_registration_allowed(admin, registration("elsewhere", "other.v1"))
    check_registration_allowed(Principal("w", frozenset({WORKER})), registration("a", "b"))
    check_registration_allowed(ANONYMOUS, registration("a", "b"))


# --- configuration ----------------------------------------------------------------------------


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
        AuthConfig.model_validate({"admin_tokens": ["short"]})


def test_named_and_bound_entries_from_json_in_the_environment() -> None:
    entries = [
        {"name": "orders", "token": "o" * 20, "task_queues": ["orders"]},
        {"name": "orders", "token": "n" * 20, "task_queues": ["orders"]},  # rotation
        {"name": "billing", "token": "b" * 20, "workflow_types": ["invoice.*"]},
    ]
    env = {"AUTH_WORKER_TOKENS": json.dumps(entries), "AUTH_ADMIN_TOKENS": "a" * 16}
    principals = load_config(None, env=env).auth.principals()
    assert principals["o" * 20] == principals["n" * 20]
    assert principals["o" * 20] == Principal("orders", frozenset({WORKER}), ("orders",), ())
    assert principals["b" * 20].workflow_types == ("invoice.*",)
    assert principals["a" * 16].name == derived_name("a" * 16)


def test_a_tokens_file_takes_plain_tokens_and_entries(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "worker": ["p" * 16, {"name": "orders", "token": "o" * 16, "task_queues": ["q"]}],
                "admin": [{"name": "ops", "token": "a" * 16}],
            }
        )
    )
    principals = AuthConfig(tokens_file=path).principals()
    assert principals["p" * 16].name == derived_name("p" * 16)
    assert principals["o" * 16] == Principal("orders", frozenset({WORKER}), ("q",), ())
    assert principals["a" * 16].admin and principals["a" * 16].name == "ops"


def test_one_token_in_two_scopes_is_one_principal_with_both() -> None:
    config = AuthConfig.model_validate({"worker_tokens": "x" * 16, "client_tokens": "x" * 16})
    assert config.principals()["x" * 16].scopes == {WORKER, CLIENT}


def config_problem(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(None, env=env)
    return str(raised.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"AUTH_ADMIN_TOKENS": "tiny"},
            "environment variable AUTH_ADMIN_TOKENS (auth.admin_tokens): token 1 has 4 "
            "characters; tokens must be at least 16 characters",
            id="short-admin-token",
        ),
        pytest.param(
            {"AUTH_WORKER_TOKENS": "w" * 16 + ",tiny2", "AUTH_ADMIN_TOKENS": "a" * 16},
            "environment variable AUTH_WORKER_TOKENS (auth.worker_tokens): token 2 has 5",
            id="second-token",
        ),
        pytest.param(
            {"AUTH_WORKER_TOKENS": '[{"token": "tiny"'},
            "environment variable AUTH_WORKER_TOKENS (auth.worker_tokens): a value starting "
            "with [ is read as a JSON list of token entries, and this is not valid JSON",
            id="bad-json",
        ),
        pytest.param(
            {"AUTH_CLIENT_TOKENS": json.dumps([{"token": "c" * 16, "task_queues": ["q"]}])},
            "token 1: task_queues and workflow_types bind worker tokens only",
            id="bound-client",
        ),
        pytest.param(
            {"AUTH_WORKER_TOKENS": json.dumps([{"token": "w" * 16, "name": "has space"}])},
            "(auth.worker_tokens.0.name): must be 1-64 letters",
            id="bad-name",
        ),
        pytest.param(
            {
                "AUTH_WORKER_TOKENS": json.dumps(
                    [
                        {"token": "w" * 16, "name": "n", "task_queues": ["a"]},
                        {"token": "v" * 16, "name": "n", "task_queues": ["b"]},
                    ]
                )
            },
            "the worker tokens of principal n are bound differently",
            id="rotation-with-other-bindings",
        ),
        pytest.param(
            {
                "AUTH_WORKER_TOKENS": json.dumps([{"token": "w" * 16, "name": "a"}]),
                "AUTH_CLIENT_TOKENS": json.dumps([{"token": "w" * 16, "name": "b"}]),
            },
            "one token is configured for two principals (a and b)",
            id="token-with-two-names",
        ),
        pytest.param(
            {"AUTH_WORKER_TOKENS": json.dumps([{"token": "w" * 16, "task_queues": [""]}])},
            "a pattern must be 1-200 printable characters without spaces",
            id="empty-pattern",
        ),
    ],
)
def test_token_problems_name_the_variable_and_key_never_the_token(
    env: dict[str, str], expected: str
) -> None:
    message = config_problem(env)
    assert expected in message
    assert "default_config.yaml" not in message
    for value in env.values():
        for token in ("tiny", "tiny2", "w" * 16, "c" * 16, "v" * 16):
            if token in value:
                assert token not in message


def test_tokens_file_problems_name_the_entry_by_position(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        yaml.safe_dump({"worker": [{"token": "s3cret"}, {"token": "w" * 16, "bogus": 1}]})
    )
    with pytest.raises(ValidationError) as raised:
        AuthConfig(tokens_file=path)
    message = str(raised.value)
    assert "worker token 2 bogus" in message
    assert "s3cret" not in message
    path.write_text(yaml.safe_dump({"worker": [{"token": "s3cret"}]}))
    with pytest.raises(ValidationError, match="worker: token 1 has 6 characters"):
        AuthConfig(tokens_file=path)
    path.write_text(yaml.safe_dump({"workers": ["w" * 16]}))
    with pytest.raises(ValidationError, match="workers: not worker, client or admin"):
        AuthConfig(tokens_file=path)


def test_up_makes_dev_tokens_once(tmp_path: Path) -> None:
    env = dev_token_env({"DEV_DATA_DIR": str(tmp_path)})
    path = Path(env["AUTH_TOKENS_FILE"])
    tokens = yaml.safe_load(path.read_text())
    assert set(tokens) == set(SCOPES) and all(len(t[0]) >= 16 for t in tokens.values())
    assert path.stat().st_mode & 0o077 == 0  # readable by the owner only
    assert dev_token_env({"DEV_DATA_DIR": str(tmp_path)}) == env  # the same file again
    assert yaml.safe_load(path.read_text()) == tokens
    assert AuthConfig(tokens_file=path).principals()  # a valid tokens file
    # configured tokens, or auth off: left alone
    assert "AUTH_TOKENS_FILE" not in dev_token_env({"AUTH_ADMIN_TOKENS": "x" * 16})
    assert "AUTH_TOKENS_FILE" not in dev_token_env({"AUTH_ENABLED": "false"})
