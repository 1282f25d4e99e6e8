"""The `temporal-registry` command.

temporal-registry up [-f config.yaml]    Temporal dev server + registry + Envoy, foreground
temporal-registry serve -f config.yaml   only the registry, against an existing Temporal
temporal-registry render-envoy [...]     the Envoy config for a config (or compose defaults)
temporal-registry export -o FILE         all of a registry's state, to a JSON file
temporal-registry import FILE [--replace]   restore it (into any layout)

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
from typing import NoReturn

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
    export = commands.add_parser(
        "export",
        help="write all of a registry's state to a JSON file (reads Temporal, as serve does)",
        description="Write all of the registry's state (workflow types with their schemas, "
        "workers and leases, readable-id counters and request records, the root's record) "
        "to one JSON file, by kind, so it can be imported into any layout. Reads the "
        "registry's workflows in Temporal with the configuration `serve` uses (-f, env); a "
        "registry no process serves, or one an operator terminated, is read from its "
        "history. See docs/operations.md, Backup and restore.",
    )
    export.add_argument("-f", "--config", type=Path, help="the registry's YAML config")
    export.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write it (- for stdout)"
    )
    restore = commands.add_parser(
        "import",
        help="restore a registry's state from an export (--replace to overwrite one)",
        description="Restore a registry from a file `temporal-registry export` wrote, into "
        "the registry, namespace and shard layout of the configuration (-f, env), which may "
        "differ from the exported one. Every shard's state is built and checked against "
        "registry.shard_max_bytes first: a file that does not fit is refused, naming the "
        "shard and how many shards would hold it, before anything changes. When the "
        "registry exists (running or closed) the import is refused unless --replace: then "
        "its workflows are terminated (the reason names this import) and new runs started "
        "with the file's state; running registry processes reload it. Exit 1 when refused.",
    )
    restore.add_argument("file", metavar="FILE", help="an export")
    restore.add_argument("-f", "--config", type=Path, help="the registry's YAML config")
    restore.add_argument(
        "--replace",
        action="store_true",
        help="terminate the existing registry's workflows and replace all of its state",
    )
    restore.add_argument(
        "--reason", default="", help="why, recorded in the terminated workflows' histories"
    )
    for module in CLIENT_COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)
    return parser


# Modules whose add_commands(subparsers) adds commands that run against a registry; each
# command sets `handler` (args -> exit code) and needs no server configuration.
CLIENT_COMMAND_MODULES = (
    "registry.client.commands",
    "registry.client.manifest",
    "registry.client.schemas",
)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None) is not None:
        code: int = args.handler(args)
        return code
    env: dict[str, str] | None = None
    if args.command == "up":
        from registry.devstack.stack import dev_token_env  # the dev stack imports the whole server

        env = dev_token_env(os.environ)
    elif args.command in ("render-envoy", "export", "import"):
        # Envoy's config holds no tokens, and export and import serve no client: auth is moot
        env = {**os.environ, "AUTH_ENABLED": os.environ.get("AUTH_ENABLED") or "false"}
    try:
        config = load_config(args.config, env)
    except ConfigError as error:
        print(f"temporal-registry: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "render-envoy":
        return _render_envoy(args, config)
    if args.command in ("export", "import"):
        _exit_without_finalizing(_transfer(args, config))
    configure_logging(
        config.logging.level,
        config.logging.json_format,
        # `up` keeps the registry's log beside temporal.log and envoy.log.
        log_file=config.dev.data_dir / "registry.log" if args.command == "up" else None,
    )
    _exit_without_finalizing(_run_service(args.command, config))


def _exit_without_finalizing(code: int) -> NoReturn:
    """Leave a process that held a Temporal client, its work done and flushed, without
    interpreter finalization: the Temporal SDK's and gRPC's native (tokio) threads may still
    call into Python while it finalizes, which aborts (SIGABRT) or crashes (SIGSEGV) a process
    that finished cleanly (temporalio/sdk-python#300; an `import` that had printed its success
    once exited -11)."""
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


def _transfer(args: argparse.Namespace, config: Config) -> int:
    """export or import: one line on stderr saying what was done, or why not (exit 1)."""
    from temporalio.exceptions import TemporalError

    from registry.catalog.transfer import TransferError, run_export, run_import
    from registry.server.errors import RegistryError

    configure_logging("WARNING", json_format=False)
    try:
        if args.command == "export":
            done = asyncio.run(run_export(config, args.output))
        else:
            done = asyncio.run(
                run_import(config, args.file, replace=args.replace, reason=args.reason)
            )
    except RegistryError as error:  # a registry workflow Temporal does not answer for
        print(f"temporal-registry {args.command}: {error.message}", file=sys.stderr)
        return EXIT_RUNTIME
    except (TransferError, RuntimeError, TemporalError) as error:  # refused; Temporal's error
        print(f"temporal-registry {args.command}: {error}", file=sys.stderr)
        return EXIT_RUNTIME
    print(done, file=sys.stderr)
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
