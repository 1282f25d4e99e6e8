"""The Envoy gateway: render gateway/envoy.template.yaml and build Envoy's command line.

Envoy's static YAML has no variable substitution, so the template's `${NAME}`
placeholders are filled from a GatewayLayout with registry.interpolate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf import descriptor_pb2

from registry.binaries import venv_binary
from registry.interpolate import interpolate

if TYPE_CHECKING:
    from registry.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "gateway" / "envoy.template.yaml"
DEFAULT_DESCRIPTOR = REPO_ROOT / "gen" / "descriptor.binpb"
TRANSCODED_PACKAGE_PREFIX = "temporal_registry."


@dataclass(frozen=True)
class GatewayLayout:
    """Where Envoy listens and where it sends requests."""

    listen_host: str  # Envoy's HTTP+gRPC listener
    listen_port: int
    admin_host: str  # Envoy admin (loopback only in dev/tests)
    admin_port: int
    registry_grpc_host: str  # upstream: the registry's gRPC server (HTTP/2 cleartext)
    registry_grpc_port: int
    registry_http_host: str  # upstream: the registry's plain-HTTP listener
    registry_http_port: int
    descriptor_path: str  # absolute path of the descriptor set Envoy loads
    max_request_bytes: int
    max_response_bytes: int
    services: tuple[str, ...]  # fully-qualified services to transcode

    def template_env(self) -> dict[str, str]:
        """The template's placeholder values, as strings."""
        return {
            "LISTEN_HOST": self.listen_host,
            "LISTEN_PORT": str(self.listen_port),
            "ADMIN_HOST": self.admin_host,
            "ADMIN_PORT": str(self.admin_port),
            "REGISTRY_GRPC_HOST": self.registry_grpc_host,
            "REGISTRY_GRPC_PORT": str(self.registry_grpc_port),
            "REGISTRY_HTTP_HOST": self.registry_http_host,
            "REGISTRY_HTTP_PORT": str(self.registry_http_port),
            "DESCRIPTOR_PATH": self.descriptor_path,
            "MAX_REQUEST_BYTES": str(self.max_request_bytes),
            "MAX_RESPONSE_BYTES": str(self.max_response_bytes),
            # A JSON array of strings is a valid YAML flow list.
            "SERVICES": json.dumps(list(self.services)),
        }


def transcoded_services(descriptor_path: Path) -> tuple[str, ...]:
    """Every service of the descriptor set's temporal_registry.* packages, fully qualified."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    return tuple(
        f"{file.package}.{service.name}"
        for file in descriptor_set.file
        if file.package.startswith(TRANSCODED_PACKAGE_PREFIX)
        for service in file.service
    )


def render_envoy_config(layout: GatewayLayout, template: Path | None = None) -> str:
    """The Envoy static config for layout (default template: gateway/envoy.template.yaml)."""
    text = (template or DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    return interpolate(text, layout.template_env())


def layout_for(config: Config) -> GatewayLayout:
    """The layout of the dev stack: Envoy and the registry on this machine, per config."""
    # A wildcard listen address is not something Envoy can connect to.
    registry_host = config.server.host
    if registry_host in ("", "0.0.0.0", "::"):
        registry_host = "127.0.0.1"
    return GatewayLayout(
        listen_host=config.gateway.host,
        listen_port=config.gateway.port,
        admin_host="127.0.0.1",
        admin_port=config.gateway.admin_port,
        registry_grpc_host=registry_host,
        registry_grpc_port=config.server.grpc_port,
        registry_http_host=registry_host,
        registry_http_port=config.server.http_port,
        descriptor_path=str(DEFAULT_DESCRIPTOR),
        max_request_bytes=config.gateway.max_request_bytes,
        max_response_bytes=config.gateway.max_response_bytes,
        services=transcoded_services(DEFAULT_DESCRIPTOR),
    )


def envoy_command(config_path: Path, *, log_level: str = "warning") -> list[str]:
    """argv that runs Envoy with config_path (no hot restart, so several can run at once)."""
    return [
        venv_binary("envoy"),
        "-c",
        str(config_path),
        "--disable-hot-restart",
        "--log-level",
        log_level,
    ]


def compose_layout() -> GatewayLayout:
    """The layout of docker-compose.yml, from which gateway/envoy.yaml is rendered."""
    return GatewayLayout(
        listen_host="0.0.0.0",
        listen_port=8080,
        admin_host="127.0.0.1",
        admin_port=9901,
        registry_grpc_host="registry",
        registry_grpc_port=50051,
        registry_http_host="registry",
        registry_http_port=9464,
        descriptor_path="/etc/envoy/descriptor.binpb",
        max_request_bytes=1024 * 1024,
        max_response_bytes=4 * 1024 * 1024,
        services=transcoded_services(DEFAULT_DESCRIPTOR),
    )
