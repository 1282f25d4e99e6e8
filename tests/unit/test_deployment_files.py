"""The container deployment files agree with the code and with each other.

docker-compose.yml, Dockerfile and .dockerignore cannot be exercised here (no container
engine), so they are checked statically against what the code says:

- compose_layout() (registry/devstack/gateway.py), from which gateway/envoy.yaml is rendered:
  Envoy's port, the registry's service name and ports, the descriptor's path inside the container;
- registry/server/default_config.yaml: the only environment variables the registry reads;
- pyproject.toml: what the wheel built in the image is made of.

- gateway/envoy.yaml is the current rendering of the template for that layout, and its
  clusters reach every registry replica (STRICT_DNS on the service name, health-checked).

The Envoy binary of the dev stack validates gateway/envoy.yaml (integration;
tests/integration/test_gateway_replicas.py runs it in front of two replicas), and
`docker compose config` validates the compose file when a Compose v2 binary is installed
(`docker compose`, `docker-compose`, or the path in $DOCKER_COMPOSE). No JSON Schema of the
current Compose specification ships in a PyPI package (the copies found are from 2021-22 and
reject the top-level `name`), so the structure is checked here by hand.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from registry.devstack.binaries import venv_binary
from registry.devstack.gateway import compose_layout, render_envoy_config
from registry.server.config import RegistrySettings, ServerConfig

COMPOSE_LAYOUT = compose_layout()

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEFAULT_CONFIG = REPO / "registry" / "server" / "default_config.yaml"
ENVOY_CONFIG = REPO / "gateway" / "envoy.yaml"
DESCRIPTOR = REPO / "gen" / "descriptor.binpb"
ENVOY_CONFIG_IN_CONTAINER = "/etc/envoy/envoy.yaml"

EXPECTED_SERVICES = {"postgresql", "temporal", "temporal-ui", "registry", "envoy"}
REGISTRY_REPLICAS = 2
# Retrying these never sends a request a replica may have started on: it never reached one.
SAFE_RETRY_ON = {"connect-failure", "refused-stream", "reset-before-request"}
ENV_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-")


# ---------------------------------------------------------------------------- helpers


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    return document


def services() -> dict[str, dict[str, Any]]:
    found = load_compose().get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml has no services"
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as KEY=VALUE items."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def compose_default(value: str) -> str:
    """What compose makes of value with nothing set in the environment: the default of a
    `${VAR:-default}`, or value itself."""
    match = re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*:-(.*)\}", value)
    return match.group(1) if match else value


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """depends_on as {name: options}; the list form means condition service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return dict(deps)


def published_container_ports(service: dict[str, Any]) -> set[int]:
    """The container side of every `ports` entry (short "[ip:][host:]container[/proto]"
    syntax or long syntax)."""
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def bind_mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{container path: (host source, mode)} of the service's short-syntax volumes."""
    mounts = {}
    for entry in service.get("volumes") or []:
        assert isinstance(entry, str), f"use the short volume syntax: {entry!r}"
        source, target, *mode = entry.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def image_tag(image: str) -> str | None:
    """The tag of an image reference, None when it has none."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]  # a registry host may carry a :port
    return last.rsplit(":", 1)[1] if ":" in last else None


def default_config_env_names() -> set[str]:
    return set(ENV_REFERENCE.findall(DEFAULT_CONFIG.read_text(encoding="utf-8")))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "Dockerfile ends with a continuation line"
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def healthcheck_python(test: list[str]) -> str:
    """The program of a healthcheck [CMD,] python -c PROGRAM (compose's test has the CMD)."""
    argv = test[1:] if test[0] == "CMD" else test
    assert argv[:2] == ["python", "-c"] and len(argv) == 3, f"not python -c PROGRAM: {test}"
    return argv[2]


def dockerignore_rules() -> list[tuple[bool, str]]:
    """(excludes, pattern) of every .dockerignore line, in order."""
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        rules.append((not negated, pattern.strip("/")))
    return rules


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, pattern in dockerignore_rules():
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            excluded = excludes
    return excluded


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or a v2 `docker-compose` (on PATH, or the binary named by
    $DOCKER_COMPOSE), when one is installed."""
    override = os.environ.get("DOCKER_COMPOSE")
    if override:
        return [override]
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is not None:
        probe = subprocess.run(
            [standalone, "version", "--short"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2"):
            return [standalone]
    return None


# ----------------------------------------------------------------- docker-compose.yml


def test_compose_file_parses_and_has_the_stack() -> None:
    assert set(services()) == EXPECTED_SERVICES


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_service_image_is_pinned_or_built(name: str) -> None:
    service = services()[name]
    if "build" in service:
        build = service["build"]
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (context / dockerfile).is_file(), f"{name}: {context / dockerfile} is missing"
        return
    image = service.get("image")
    assert image, f"{name} has neither an image nor a build"
    tag = image_tag(image)
    assert tag is not None or "@" in image, f"{name}: {image} has no tag"
    if tag is not None:
        assert tag != "latest" and not tag.endswith("-latest"), f"{name}: {image} floats"
        assert re.search(r"\d", tag), f"{name}: {image} names no version"


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_service_has_a_healthcheck(name: str) -> None:
    healthcheck = services()[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False), f"{name}: healthcheck disabled"
    test = healthcheck.get("test")
    assert isinstance(test, list) and len(test) >= 2, f"{name}: healthcheck test {test!r}"
    assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test starts with {test[0]}"


def test_depends_on_waits_for_healthy_existing_services() -> None:
    all_services = services()
    for name, service in all_services.items():
        for dependency, options in depends_on(service).items():
            assert dependency in all_services, f"{name} depends on unknown {dependency}"
            assert dependency != name, f"{name} depends on itself"
            assert options.get("condition") == "service_healthy", (
                f"{name} should wait for {dependency} to be healthy, not {options}"
            )
            assert all_services[dependency].get("healthcheck"), (
                f"{name} waits for {dependency} to be healthy, which has no healthcheck"
            )


def test_start_order_is_postgresql_temporal_registry_envoy() -> None:
    all_services = services()
    assert set(depends_on(all_services["temporal"])) == {"postgresql"}
    assert set(depends_on(all_services["temporal-ui"])) == {"temporal"}
    assert set(depends_on(all_services["registry"])) == {"temporal"}
    assert set(depends_on(all_services["envoy"])) == {"registry"}


def test_operations_guide_names_the_pinned_images() -> None:
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    for name, service in services().items():
        if "image" in service:
            assert f"`{service['image']}`" in guide, f"docs/operations.md: {name} image"


def test_named_volumes_are_declared() -> None:
    declared = set(load_compose().get("volumes") or {})
    for name, service in services().items():
        for source, _mode in bind_mounts(service).values():
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert bind_mounts(services()["postgresql"]).get("/var/lib/postgresql/data"), (
        "PostgreSQL data must live in a volume"
    )


def test_envoy_mounts_the_committed_config_and_descriptor() -> None:
    envoy = services()["envoy"]
    mounts = bind_mounts(envoy)
    expected = {
        ENVOY_CONFIG_IN_CONTAINER: ENVOY_CONFIG,
        COMPOSE_LAYOUT.descriptor_path: DESCRIPTOR,
    }
    for target, repo_file in expected.items():
        assert target in mounts, f"envoy does not mount anything at {target}"
        source, mode = mounts[target]
        assert (REPO / source).resolve() == repo_file, f"{target} comes from {source}"
        assert repo_file.is_file(), f"{repo_file.relative_to(REPO)} is not in the repository"
        assert mode == "ro", f"{target} should be mounted read-only"
    # The committed config loads the descriptor from where it is mounted...
    assert f'proto_descriptor: "{COMPOSE_LAYOUT.descriptor_path}"' in ENVOY_CONFIG.read_text(
        encoding="utf-8"
    )
    # ...and Envoy is started on the mounted config.
    command = envoy.get("command")
    if command is not None:
        assert command[command.index("-c") + 1] == ENVOY_CONFIG_IN_CONTAINER


def test_published_ports_match_the_compose_layout() -> None:
    all_services = services()
    assert published_container_ports(all_services["envoy"]) == {COMPOSE_LAYOUT.listen_port}
    assert COMPOSE_LAYOUT.listen_host == "0.0.0.0"
    # Envoy's admin interface is never published.
    for name, service in all_services.items():
        assert COMPOSE_LAYOUT.admin_port not in published_container_ports(service), name


def test_envoy_upstreams_are_the_registry_service() -> None:
    all_services = services()
    assert COMPOSE_LAYOUT.registry_grpc_host in all_services
    assert COMPOSE_LAYOUT.registry_http_host in all_services
    registry = all_services[COMPOSE_LAYOUT.registry_grpc_host]
    exposed = {int(port) for port in registry.get("expose") or []}
    assert {COMPOSE_LAYOUT.registry_grpc_port, COMPOSE_LAYOUT.registry_http_port} <= exposed
    env = environment(registry)
    assert env.get("REGISTRY_GRPC_PORT", "50051") == str(COMPOSE_LAYOUT.registry_grpc_port)
    assert env.get("REGISTRY_HTTP_PORT", "9464") == str(COMPOSE_LAYOUT.registry_http_port)


def test_registry_env_vars_are_ones_the_config_reads() -> None:
    known = default_config_env_names()
    assert {"REGISTRY_HOST", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"} <= known
    env = environment(services()["registry"])
    unknown = sorted(set(env) - known)
    assert not unknown, f"registry/server/default_config.yaml does not read {unknown}"
    assert env["REGISTRY_HOST"] == "0.0.0.0", "the registry must listen on all interfaces"
    assert env["TEMPORAL_NAMESPACE"] == "default"


def test_temporal_clients_point_at_the_temporal_service() -> None:
    all_services = services()
    for name in ("registry", "temporal-ui"):
        host, _, port = environment(all_services[name])["TEMPORAL_ADDRESS"].rpartition(":")
        assert host == "temporal" and port == "7233", name
    assert environment(all_services["temporal"])["POSTGRES_SEEDS"] == "postgresql"


def test_registry_can_be_scaled() -> None:
    registry = services()["registry"]
    assert "container_name" not in registry, "a fixed container name prevents replicas"
    assert not registry.get("ports"), "a published host port prevents replicas"
    assert registry.get("deploy", {}).get("replicas", 1) >= 1
    assert registry.get("command") == ["serve"]


def test_registry_healthcheck_is_valid_python() -> None:
    program = healthcheck_python(services()["registry"]["healthcheck"]["test"])
    compile(program, "<registry healthcheck>", "exec")
    assert "HealthStub" in program


def test_registry_healthcheck_is_the_images() -> None:
    """One readiness check: the compose healthcheck runs the image's HEALTHCHECK program."""
    compose_program = healthcheck_python(services()["registry"]["healthcheck"]["test"])
    healthcheck = dict(final_stage(dockerfile_instructions()))["HEALTHCHECK"]
    image_program = healthcheck_python(
        json.loads(healthcheck[healthcheck.index("CMD ") + len("CMD ") :])
    )
    assert " ".join(compose_program.split()) == " ".join(image_program.split())
    # The whole server's status (""), which the registry reports SERVING only when ready.
    assert "HealthCheckRequest(service='')" in image_program


def test_registry_runs_as_replicas_of_one_service() -> None:
    registry = services()["registry"]
    assert registry.get("deploy", {}).get("replicas") == REGISTRY_REPLICAS
    # Each replica's Temporal identity is temporal-registry@<hostname>:<pid>, and the pid is
    # the same in every container: a fixed hostname would give every replica one identity.
    assert "hostname" not in registry, "replicas need their own hostnames (the container id)"
    assert "container_name" not in registry


def test_registry_replicas_share_one_registry_workflow() -> None:
    env = environment(services()["registry"])
    # Set explicitly: every replica, and any second deployment, must name the same one.
    assert env.get("REGISTRY_WORKFLOW_ID") == RegistrySettings().workflow_id


def test_registry_replicas_stay_under_temporals_updates_in_flight() -> None:
    """Temporal accepts 10 updates in flight per workflow; every replica keeps one batch in
    flight per shard (registry.catalog.shards.ShardWriter)."""
    assert REGISTRY_REPLICAS <= 9


def test_registry_requires_an_admin_token_from_the_environment() -> None:
    env = environment(services()["registry"])
    assert re.fullmatch(r"\$\{REGISTRY_ADMIN_TOKENS:\?[^}]+\}", env["AUTH_ADMIN_TOKENS"]), (
        "AUTH_ADMIN_TOKENS must be ${REGISTRY_ADMIN_TOKENS:?message}: no default token"
    )
    for name in ("AUTH_CLIENT_TOKENS", "AUTH_WORKER_TOKENS"):
        value = env.get(name, "")
        assert value in ("", f"${{REGISTRY_{name.removeprefix('AUTH_')}:-}}"), (
            f"{name} must come from the environment, with no default token: {value!r}"
        )


def test_registry_stop_grace_period_outlasts_its_drain_and_shutdown_grace() -> None:
    registry = services()["registry"]
    env = environment(registry)
    drain = float(env.get("REGISTRY_SHUTDOWN_DRAIN_SECONDS") or 0)
    grace = float(
        env.get("REGISTRY_SHUTDOWN_GRACE_SECONDS") or ServerConfig().shutdown_grace_seconds
    )
    # The drain must outlast Envoy's health-check interval, or requests still arrive after
    # the listener closed (gateway/envoy.template.yaml checks every 5 s).
    assert drain > 5, "REGISTRY_SHUTDOWN_DRAIN_SECONDS must exceed Envoy's check interval"
    # Docker kills the container stop_grace_period (default 10s) after SIGTERM.
    period = str(registry.get("stop_grace_period", "10s"))
    assert period.endswith("s") and float(period[:-1]) > drain + grace, period


# ------------------------------------------------------------- gateway/envoy.yaml


def envoy_clusters() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(ENVOY_CONFIG.read_text(encoding="utf-8"))
    return {cluster["name"]: cluster for cluster in config["static_resources"]["clusters"]}


def cluster_address(cluster: dict[str, Any]) -> tuple[str, int]:
    (locality,) = cluster["load_assignment"]["endpoints"]
    (endpoint,) = locality["lb_endpoints"]
    socket_address = endpoint["endpoint"]["address"]["socket_address"]
    return socket_address["address"], int(socket_address["port_value"])


def test_committed_envoy_config_is_the_current_rendering() -> None:
    assert ENVOY_CONFIG.read_text(encoding="utf-8") == render_envoy_config(COMPOSE_LAYOUT), (
        "gateway/envoy.yaml is stale: run `make gen`"
    )


def test_envoy_clusters_resolve_every_replica_of_the_registry_service() -> None:
    clusters = envoy_clusters()
    expected = {
        "registry_grpc": (COMPOSE_LAYOUT.registry_grpc_host, COMPOSE_LAYOUT.registry_grpc_port),
        "registry_http": (COMPOSE_LAYOUT.registry_http_host, COMPOSE_LAYOUT.registry_http_port),
    }
    assert set(clusters) == set(expected)
    for name, (host, port) in expected.items():
        cluster = clusters[name]
        # STRICT_DNS keeps one endpoint per A record; LOGICAL_DNS would use only the first.
        assert cluster["type"] == "STRICT_DNS", name
        assert cluster_address(cluster) == (host, port), name
        assert host in services(), f"{name} points at {host}, which is no compose service"
        # Docker's DNS TTLs are long: replicas that come and go are seen within seconds.
        assert cluster.get("respect_dns_ttl") is False, name
        assert cluster.get("dns_refresh_rate", "5s").endswith("s"), name
        assert float(cluster.get("dns_refresh_rate", "5s")[:-1]) <= 10, name


def test_envoy_skips_replicas_that_are_not_ready_or_unreachable() -> None:
    clusters = envoy_clusters()
    grpc_checks = clusters["registry_grpc"]["health_checks"]
    # The same readiness as the container healthcheck: the whole server ("") SERVING.
    assert [check.get("grpc_health_check") for check in grpc_checks] == [{"service_name": ""}]
    assert clusters["registry_http"]["health_checks"], "registry_http is not health-checked"
    for name, cluster in clusters.items():
        for check in cluster["health_checks"]:
            # Checked before the first request too (Envoy's default there is 60 s).
            assert "no_traffic_interval" in check, name
        outlier = cluster["outlier_detection"]
        # Only failures to reach a replica eject it; the registry's own UNAVAILABLE (Temporal
        # down) is an answer, and would otherwise eject every replica at once.
        assert outlier["split_external_local_origin_errors"] is True, name
        assert outlier["enforcing_consecutive_5xx"] == 0, name
        assert outlier["enforcing_consecutive_gateway_failure"] == 0, name
        assert outlier["enforcing_consecutive_local_origin_failure"] > 0, name
        # Below the panic threshold Envoy uses every replica: /ready still says why.
        assert "healthy_panic_threshold" not in cluster.get("common_lb_config", {}), name


def test_envoy_retries_only_requests_no_replica_saw() -> None:
    config = yaml.safe_load(ENVOY_CONFIG.read_text(encoding="utf-8"))
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (virtual_host,) = manager["route_config"]["virtual_hosts"]
    retry_on = set(virtual_host["retry_policy"]["retry_on"].split(","))
    assert retry_on <= SAFE_RETRY_ON, retry_on - SAFE_RETRY_ON
    for route in virtual_host["routes"]:
        assert "retry_policy" not in route["route"], route["match"]
    # ...and on another replica than the one that failed.
    predicates = virtual_host["retry_policy"]["retry_host_predicate"]
    assert [p["name"] for p in predicates] == ["envoy.retry_host_predicates.previous_hosts"]


def run_compose_config(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 (`docker compose`, `docker-compose`, $DOCKER_COMPOSE)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "POSTGRES_"))}
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        cwd=REPO,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_docker_compose_config_accepts_the_file() -> None:
    result = run_compose_config({"REGISTRY_ADMIN_TOKENS": "compose-config-admin-token"})
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["services"]["registry"]["deploy"]["replicas"] == REGISTRY_REPLICAS
    registry_env = resolved["services"]["registry"]["environment"]
    assert registry_env["AUTH_ADMIN_TOKENS"] == "compose-config-admin-token"


def test_docker_compose_refuses_to_run_without_an_admin_token() -> None:
    result = run_compose_config({})
    assert result.returncode != 0
    assert "REGISTRY_ADMIN_TOKENS" in result.stderr


# ------------------------------------------------------------------------ Dockerfile


def test_dockerfile_is_multi_stage() -> None:
    stages = [args for keyword, args in dockerfile_instructions() if keyword == "FROM"]
    assert len(stages) >= 2, stages


def test_dockerfile_installs_from_the_lock_file_without_dev_dependencies() -> None:
    syncs = [
        args
        for keyword, args in dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in args
    ]
    assert syncs, "no `uv sync` in the Dockerfile"
    for args in syncs:
        assert "--frozen" in args, args
        assert "--no-dev" in args, args
        assert "--no-editable" in args, args
        assert "--extra" not in args and "--all-extras" not in args, args


def test_dockerfile_pins_its_base_image_and_uv() -> None:
    instructions = dockerfile_instructions()
    args = dict(
        value.split("=", 1) for keyword, value in instructions if keyword == "ARG" and "=" in value
    )
    for keyword, value in instructions:
        if keyword != "FROM":
            continue
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value.split()[0])
        tag = image_tag(image)
        assert tag is not None and re.search(r"\d", tag), f"FROM {image} is not pinned"
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["UV_VERSION"]), args["UV_VERSION"]
    installs = [v for k, v in instructions if k == "RUN" and "pip install" in v]
    assert installs and all("uv==${UV_VERSION}" in v for v in installs), installs


def test_dockerfile_runtime_stage_runs_as_non_root() -> None:
    users = [args for keyword, args in final_stage(dockerfile_instructions()) if keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]


def test_dockerfile_entrypoint_ports_and_healthcheck() -> None:
    runtime = final_stage(dockerfile_instructions())
    args_of = {keyword: args for keyword, args in runtime}
    assert json.loads(args_of["ENTRYPOINT"]) == ["/app/.venv/bin/temporal-registry"]
    assert json.loads(args_of["CMD"]) == ["serve"]
    exposed = {int(port) for port in args_of["EXPOSE"].split()}
    assert exposed == {COMPOSE_LAYOUT.registry_grpc_port, COMPOSE_LAYOUT.registry_http_port}
    healthcheck = args_of["HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD ") + len("CMD ") :])
    compile(healthcheck_python(command), "<Dockerfile HEALTHCHECK>", "exec")


def test_dockerfile_copies_what_the_wheel_is_built_from() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied = [
        source.rstrip("/")
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    needed = [
        "pyproject.toml",
        "uv.lock",
        pyproject["project"]["readme"],
        *pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
    ]
    for path in needed:
        assert any(path == source or path.startswith(source + "/") for source in copied), (
            f"the Dockerfile does not copy {path}"
        )
    # ...and .dockerignore lets every copied path into the build context.
    for source in copied:
        assert (REPO / source).exists(), f"COPY source {source} does not exist"
        assert not dockerignore_excludes(source), f".dockerignore leaves out {source}"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    for path in (".venv", ".git", "tests", ".temporal-registry", "registry/__pycache__"):
        assert dockerignore_excludes(path), f".dockerignore lets {path} in"


# ------------------------------------------------------------------ Envoy, for real


@pytest.mark.integration
def test_envoy_validates_the_committed_config(tmp_path: Path) -> None:
    text = ENVOY_CONFIG.read_text(encoding="utf-8")
    assert COMPOSE_LAYOUT.descriptor_path in text
    config = tmp_path / "envoy.yaml"
    config.write_text(text.replace(COMPOSE_LAYOUT.descriptor_path, str(DESCRIPTOR)))
    result = subprocess.run(
        [venv_binary("envoy"), "--mode", "validate", "-c", str(config), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
