"""Client commands of `temporal-registry`: daily use of a running registry over gRPC
(settings from registry.client: REGISTRY_ADDRESS, REGISTRY_TOKEN, ...)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands to the `temporal-registry` parser."""
