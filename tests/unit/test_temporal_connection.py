"""How the Temporal connection options are built from config (no server needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.service import TLSConfig

from registry.server.config import load_config
from registry.server.temporal_connection import tls_options

# Auth fails closed without a token; tests about other keys give it one.
TOKEN = "test-admin-token-0123456789"
BASE_ENV = {"AUTH_ADMIN_TOKENS": TOKEN}


def test_plaintext_by_default() -> None:
    assert asyncio.run(tls_options(load_config(None, env=BASE_ENV).temporal)) is False


def test_mtls_reads_ca_certificate_and_key(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_bytes(f"-----{name}-----".encode())
    config = load_config(
        None,
        env={
            **BASE_ENV,
            "TEMPORAL_TLS": "true",
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(files["ca"]),
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(files["cert"]),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(files["key"]),
            "TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
            "TEMPORAL_API_KEY": "k",
        },
    )
    tls = asyncio.run(tls_options(config.temporal))
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"-----ca-----"
    assert tls.client_cert == b"-----cert-----"
    assert tls.client_private_key == b"-----key-----"
    assert tls.domain == "temporal.internal"
    assert config.temporal.api_key == "k"


def test_tls_with_system_roots_only() -> None:
    config = load_config(None, env={**BASE_ENV, "TEMPORAL_TLS": "true"})
    tls = asyncio.run(tls_options(config.temporal))
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert is None and tls.client_cert is None
