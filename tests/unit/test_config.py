"""registry.server.config: defaults, merging, interpolation, validation and error messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from registry.server.config import DEFAULT_CONFIG_PATH, AuthConfig, Config, ConfigError, load_config

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}")

# Auth fails closed without a token; tests about other keys give it one.
TOKEN = "test-admin-token-0123456789"
BASE_ENV = {"AUTH_ADMIN_TOKENS": TOKEN}


def defaults() -> Config:
    return Config(auth=AuthConfig(admin_tokens=[TOKEN]))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={**BASE_ENV, **(env or {})})
    return str(caught.value)


def schema_keys(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The key tree of a JSON schema object: {key: subtree or None}."""
    tree: dict[str, Any] = {}
    for key, prop in schema["properties"].items():
        ref = prop.get("$ref")
        tree[key] = schema_keys(defs[ref.rsplit("/", 1)[1]], defs) if ref else None
    return tree


def key_tree(data: dict[str, Any]) -> dict[str, Any]:
    return {key: key_tree(v) if isinstance(v, dict) else None for key, v in data.items()}


def leaves(tree: dict[str, Any]) -> list[Any]:
    return [
        leaf
        for value in tree.values()
        for leaf in (leaves(value) if isinstance(value, dict) else [value])
    ]


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_equal_model_defaults() -> None:
    assert load_config(None, env=BASE_ENV) == defaults()


def test_default_yaml_documents_every_field_as_a_placeholder() -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    schema = Config.model_json_schema()
    assert key_tree(data) == schema_keys(schema, schema["$defs"])

    matches = [PLACEHOLDER.fullmatch(value) for value in leaves(data)]
    assert all(matches), "every value is a ${VAR:-default} placeholder"
    names = [match.group(1) for match in matches if match]
    assert len(names) == len(set(names)), "an environment variable is used twice"
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert [name for name in names if name not in comments] == []


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        defaults().logging.level = "DEBUG"


def test_json_schema_describes_every_key() -> None:
    schema = Config.model_json_schema()
    for definition in [schema, *schema["$defs"].values()]:
        assert definition.get("description"), definition["title"]
        for key, prop in definition["properties"].items():
            assert prop.get("description") or prop.get("$ref"), key  # sections: their $def's
    assert "json" in schema["$defs"]["LoggingConfig"]["properties"]


# --- environment ------------------------------------------------------------------------------


def test_env_overrides_defaults() -> None:
    env = {
        "TEMPORAL_ADDRESS": "temporal.example:7233",
        "REGISTRY_GRPC_PORT": "6000",
        "REGISTRY_QUERY_TIMEOUT_SECONDS": "2.5",
        "LOG_JSON": "false",
        "DEV_DATA_DIR": "/tmp/dev",
    }
    config = load_config(None, env={**BASE_ENV, **env})
    assert config.temporal.address == "temporal.example:7233"
    assert config.server.grpc_port == 6000
    assert config.registry.query_timeout_seconds == 2.5
    assert config.logging.json_format is False
    assert config.dev.data_dir == Path("/tmp/dev")


def test_env_set_but_empty_takes_the_default() -> None:
    assert (
        load_config(None, env={**BASE_ENV, "REGISTRY_GRPC_PORT": "", "TEMPORAL_NAMESPACE": ""})
        == defaults()
    )


def test_variable_without_default_unset_names_key_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "temporal:\n  namespace: ${MY_NAMESPACE}\n")
    message = load_error(path)
    assert message.startswith(f"{path}: temporal.namespace: ")
    assert "MY_NAMESPACE" in message
    assert load_config(path, env={**BASE_ENV, "MY_NAMESPACE": "prod"}).temporal.namespace == "prod"


def test_dollar_dollar_escapes_a_placeholder(tmp_path: Path) -> None:
    path = write(tmp_path, "registry:\n  workflow_id: 'a-$${NOT_A_VAR}'\n")
    assert load_config(path, env=BASE_ENV).registry.workflow_id == "a-${NOT_A_VAR}"


def test_lowercase_log_level() -> None:
    assert load_config(None, env={**BASE_ENV, "LOG_LEVEL": "debug"}).logging.level == "DEBUG"


# --- the user's file --------------------------------------------------------------------------


def test_partial_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server:\n  grpc_port: 6000\ntemporal:\n  tls:\nlogging:\n  json: no\n",
    )
    config = load_config(path, env={**BASE_ENV, "REGISTRY_HTTP_PORT": "9999"})
    assert config.server.grpc_port == 6000
    assert config.server.http_port == 9999  # untouched key: default placeholder, from env
    assert config.temporal == defaults().temporal  # an empty section keeps the defaults
    assert config.logging.json_format is False
    assert config.logging.access_log is True


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing here\n"), env=BASE_ENV) == defaults()


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  grpc_portt: 1\n")
    assert load_error(path) == f"{path}: server.grpc_portt: unknown key (did you mean grpc_port?)"


def test_bad_value_names_dotted_key_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "temporal:\n  namespace_retention_days: 0\n")
    assert load_error(path) == (
        f"{path}: temporal.namespace_retention_days: "
        "Input should be greater than or equal to 1 (got 0)"
    )


def test_bad_env_value_names_the_variable() -> None:
    message = load_error(None, {"GATEWAY_PORT": "http"})
    assert message.startswith(
        "environment variable GATEWAY_PORT (gateway.port): Input should be a valid integer"
    )
    assert message.endswith("(got 'http')")


def test_a_variable_a_file_names_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: ${MY_PORT}\n")
    message = load_error(path, {"MY_PORT": "http"})
    assert message.startswith(f"{path}: gateway.port: Input should be a valid integer")
    assert message.endswith("(got 'http' from $MY_PORT)")


def test_a_bad_secret_from_the_environment_names_the_variable_not_the_value() -> None:
    message = load_error(None, {"AUTH_ADMIN_TOKENS": "s3cret"})
    assert message == (
        "environment variable AUTH_ADMIN_TOKENS (auth.admin_tokens): token 1 has 6 characters; "
        "tokens must be at least 16 characters"
    )


def test_several_problems_one_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  grpc_port: 0\n  bogus: 1\n")
    lines = load_error(path, {"TEMPORAL_ADDRESS": "no-port"}).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}: server.grpc_port: ")
    assert lines[1].startswith(f"{path}: server.bogus: unknown key")
    assert lines[2].startswith(
        "environment variable TEMPORAL_ADDRESS (temporal.address): must be host:port"
    )


@pytest.mark.parametrize("address", ["", "temporal.example", ":7233", "host:http", "host:70000"])
def test_temporal_address_needs_a_port(address: str, tmp_path: Path) -> None:
    path = write(tmp_path, f"temporal:\n  address: '{address}'\n")
    assert f"{path}: temporal.address: must be host:port" in load_error(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  grpc_port: 1\n   http_port: 2\n")
    message = load_error(path)
    assert message.startswith(f"{path}: line 3: invalid YAML: ")


def test_non_mapping_file(tmp_path: Path) -> None:
    path = write(tmp_path, "- server\n")
    assert load_error(path).startswith(f"{path}: the top level must be a mapping")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert load_error(path).startswith(f"{path}: cannot read the file")


# --- cross-field rules ------------------------------------------------------------------------


def test_api_key_requires_tls() -> None:
    message = load_error(None, {"TEMPORAL_API_KEY": "s3cret"})
    assert message.startswith(
        "environment variable TEMPORAL_API_KEY (temporal): api_key requires tls.enabled"
    )
    assert "s3cret" not in message
    config = load_config(
        None, env={**BASE_ENV, "TEMPORAL_API_KEY": "s3cret", "TEMPORAL_TLS": "true"}
    )
    assert config.temporal.api_key == "s3cret"
    assert "s3cret" not in repr(config)


def test_client_cert_and_key_come_together(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("cert", encoding="utf-8")
    env = {"TEMPORAL_TLS": "true", "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert)}
    assert "client_cert_path and client_key_path must be given together" in load_error(None, env)
    config = load_config(None, env={**BASE_ENV, **env, "TEMPORAL_TLS_CLIENT_KEY_PATH": str(cert)})
    assert config.temporal.tls.client_key_path == cert


def test_tls_path_must_be_an_existing_file(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    env = {"TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(missing)}
    assert load_error(None, env).startswith(
        "environment variable TEMPORAL_TLS_SERVER_CA_CERT_PATH (temporal.tls.server_ca_path): "
        "Path does not point to a file"
    )


def test_tls_paths_without_tls_enabled(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("ca", encoding="utf-8")
    path = write(tmp_path, f"temporal:\n  tls:\n    server_ca_path: {ca}\n")
    assert load_error(path) == (
        f"{path}: temporal.tls: server_ca_path given but enabled is false "
        "(set enabled: true or remove them)"
    )


def test_empty_string_means_none(tmp_path: Path) -> None:
    path = write(tmp_path, "temporal:\n  api_key: ''\n  tls:\n    server_name: ''\n")
    assert (
        load_config(path, env={**BASE_ENV, "TEMPORAL_API_KEY": "ignored"}).temporal
        == defaults().temporal
    )
