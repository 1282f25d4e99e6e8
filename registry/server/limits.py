"""Limits the registry's gRPC server and the Envoy in front of it must agree on."""

from typing import Final

# Envoy refuses a request whose headers (the URL included) pass this many KiB (HTTP 431).
MAX_REQUEST_HEADERS_KB: Final = 32
# What the registry's gRPC server accepts as metadata (registry/app.py): all that Envoy
# lets through, twice over, since the transcoder forwards the original path again as
# x-envoy-original-path, plus Envoy's own headers and gRPC's 32 bytes per entry.
UPSTREAM_MAX_METADATA_BYTES: Final = 2 * MAX_REQUEST_HEADERS_KB * 1024 + 32 * 1024
