"""The `temporal-registry` command.

temporal-registry up [-f config.yaml]    Temporal dev server + registry + Envoy, foreground
temporal-registry serve -f config.yaml   only the registry, against an existing Temporal
temporal-registry render-envoy [...]     the Envoy config for a config (or compose defaults)

Client commands (workflows, workers, start, schedules, ...) talk to a running registry
over gRPC; `temporal-registry --help` lists them all.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path

from registry.server.config import Config, ConfigError, load_config
from registry.server.logs import configure_logging
from registry.server.ports import PortInUseError
from registry.server.tracing import TracingUnavailable

EXIT_CONFIG = 2
EXIT_RUNTIME = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="temporal-registry", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("up", "run Temporal dev server, registry and Envoy in the foreground"),
        ("serve", "run the registry against an existing Temporal (production mode)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "-f", "--config", type=Path, help="YAML config file (default: built-in defaults + env)"
        )
    render = commands.add_parser("render-envoy", help="render gateway/envoy.template.yaml")
    source = render.add_mutually_exclusive_group()
    source.add_argument("-f", "--config", type=Path, help="render for this registry config")
    source.add_argument("--defaults", action="store_true", help="render the docker-compose layout")
    target = render.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    target.add_argument(
        "--check", type=Path, metavar="FILE", help="fail when FILE differs from the rendering"
    )
    for module in CLIENT_COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)
    return parser


# Modules whose add_commands(subparsers) adds commands that run against a registry; each
# command sets `handler` (args -> exit code) and needs no server configuration.
CLIENT_COMMAND_MODULES = ("registry.client.commands", "registry.client.manifest")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None) is not None:
        code: int = args.handler(args)
        return code
    env: dict[str, str] | None = None
    if args.command == "up":
        from registry.devstack.stack import dev_token_env  # the dev stack imports the whole server

        env = dev_token_env(os.environ)
    elif args.command == "render-envoy":  # Envoy's config holds no tokens: auth is moot here
        env = {**os.environ, "AUTH_ENABLED": os.environ.get("AUTH_ENABLED") or "false"}
    try:
        config = load_config(args.config, env)
    except ConfigError as error:
        print(f"temporal-registry: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "render-envoy":
        return _render_envoy(args, config)
    configure_logging(
        config.logging.level,
        config.logging.json_format,
        # `up` keeps the registry's log beside temporal.log and envoy.log.
        log_file=config.dev.data_dir / "registry.log" if args.command == "up" else None,
    )
    code = _run_service(args.command, config)
    # Everything is stopped and flushed here. Leave without interpreter
    # finalization: the Temporal SDK's and gRPC's native threads may still call
    # into Python while it finalizes, which aborts (SIGABRT) a process that shut
    # down cleanly.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_service(command: str, config: Config) -> int:
    try:
        if command == "up":
            from registry.devstack.stack import run_dev_stack

            asyncio.run(run_dev_stack(config))
        else:
            from registry.app import serve

            asyncio.run(serve(config))
    except TracingUnavailable as error:  # the configuration asks for what isn't installed
        print(f"temporal-registry: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except (PortInUseError, RuntimeError, TimeoutError) as error:
        # a taken port, or a dev-stack child that failed to start or died
        print(f"temporal-registry: {error}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        pass
    return 0


def _render_envoy(args: argparse.Namespace, config: Config) -> int:
    from registry.devstack.gateway import compose_layout, layout_for, render_envoy_config

    rendered = render_envoy_config(compose_layout() if args.defaults else layout_for(config))
    if args.check is not None:
        if args.check.read_text() != rendered:
            print(f"{args.check} is stale: run `make gen`", file=sys.stderr)
            return 1
        print(f"{args.check} matches the template")
    elif args.output is not None:
        args.output.write_text(rendered)
    else:
        sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
