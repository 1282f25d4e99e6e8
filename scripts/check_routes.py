"""Guard the public HTTP contract: `google.api.http` routes may be added, never
changed or removed. buf breaking (FILE) does not look at these annotations.

    python scripts/check_routes.py --against main          # working tree vs a git ref
    python scripts/check_routes.py --against-file OLD.binpb # working tree vs a descriptor file
    python scripts/check_routes.py --current NEW.binpb --against-file OLD.binpb

Both sides are descriptor sets (a buf image built with --exclude-source-info
parses as a FileDescriptorSet); only files whose package starts with
`temporal_registry.` are read. The ref side is `git show REF:gen/descriptor.binpb`;
a ref that does not exist or has no descriptor yet is skipped (exit 0).
Exit 1 lists one problem per line; exit 2 means a descriptor could not be read.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = "gen/descriptor.binpb"
PACKAGE_PREFIX = "temporal_registry."
VERBS = ("get", "put", "post", "delete", "patch")


class Route(NamedTuple):
    """One HTTP binding of a method: the primary rule or an additional binding."""

    verb: str
    path: str
    body: str = ""
    response_body: str = ""

    def __str__(self) -> str:
        return f"{self.verb} {self.path}"


Routes = dict[str, list[Route]]


def _rules(rule: http_pb2.HttpRule) -> list[Route]:
    pattern = rule.WhichOneof("pattern")
    out: list[Route] = []
    if pattern in VERBS:
        out.append(Route(pattern.upper(), getattr(rule, pattern), rule.body, rule.response_body))
    elif pattern == "custom":
        out.append(Route(rule.custom.kind, rule.custom.path, rule.body, rule.response_body))
    for binding in rule.additional_bindings:
        out += _rules(binding)
    return out


def routes_from_set(fds: descriptor_pb2.FileDescriptorSet) -> Routes:
    """Full method name -> its HTTP routes, for every temporal_registry.* method
    (methods without a `google.api.http` option map to an empty list)."""
    routes: Routes = {}
    for file in fds.file:
        if not file.package.startswith(PACKAGE_PREFIX):
            continue
        for service in file.service:
            for method in service.method:
                # Re-parse the options now that the google.api.http extension is
                # registered (annotations_pb2 is imported), so it is never left
                # behind as an unknown field.
                options = descriptor_pb2.MethodOptions.FromString(
                    method.options.SerializeToString()
                )
                rules: list[Route] = []
                if options.HasExtension(annotations_pb2.http):
                    rules = _rules(options.Extensions[annotations_pb2.http])
                routes[f"{file.package}.{service.name}.{method.name}"] = rules
    return routes


def routes_from_bytes(data: bytes) -> Routes:
    return routes_from_set(descriptor_pb2.FileDescriptorSet.FromString(data))


def _describe(routes: list[Route]) -> str:
    return ", ".join(str(r) for r in routes) if routes else "no route"


def route_problems(before: Routes, after: Routes) -> list[str]:
    """One line per route of `before` that `after` removed or changed.

    A route is identified by method + verb + path; its body and response_body
    must stay the same. Added methods and added routes are fine."""
    served_by = {(r.verb, r.path): name for name, rules in after.items() for r in rules}
    problems: list[str] = []
    for name, old_rules in sorted(before.items()):
        if not old_rules:
            continue
        if name not in after:
            problems.append(f"{name}: method removed (had {_describe(old_rules)})")
            continue
        new_rules = {(r.verb, r.path): r for r in after[name]}
        for old in old_rules:
            new = new_rules.get((old.verb, old.path))
            if new is None:
                elsewhere = served_by.get((old.verb, old.path))
                now = f"now served by {elsewhere}" if elsewhere else f"now {_describe(after[name])}"
                problems.append(f"{name}: route {old} removed ({now})")
                continue
            for field in ("body", "response_body"):
                was, now_value = getattr(old, field), getattr(new, field)
                if was != now_value:
                    problems.append(
                        f"{name}: route {old} {field} changed from {was!r} to {now_value!r}"
                    )
    return problems


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)


def descriptor_at_ref(ref: str) -> bytes | None:
    """The committed descriptor at `ref`, or None when the ref or the file is missing."""
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        return None
    shown = _git("show", f"{ref}:{DESCRIPTOR}")
    return shown.stdout if shown.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    against = parser.add_mutually_exclusive_group()
    against.add_argument("--against", metavar="REF", default="main", help="git ref (default main)")
    against.add_argument("--against-file", metavar="PATH", type=Path, help="old descriptor set")
    parser.add_argument(
        "--current", metavar="PATH", type=Path, default=ROOT / DESCRIPTOR, help="new descriptor set"
    )
    args = parser.parse_args(argv)

    if args.against_file is not None:
        label = str(args.against_file)
        try:
            old_bytes = args.against_file.read_bytes()
        except OSError as exc:
            print(f"routes: cannot read {label}: {exc.strerror}", file=sys.stderr)
            return 2
    else:
        label = args.against
        found = descriptor_at_ref(args.against)
        if found is None:
            print(f"routes: {label} has no descriptor yet, skipped")
            return 0
        old_bytes = found

    try:
        before = routes_from_bytes(old_bytes)
    except DecodeError as exc:
        print(f"routes: {label}: not a descriptor set ({exc})", file=sys.stderr)
        return 2
    try:
        after = routes_from_bytes(args.current.read_bytes())
    except (OSError, DecodeError) as exc:
        print(f"routes: cannot read {args.current}: {exc}", file=sys.stderr)
        return 2

    problems = route_problems(before, after)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"routes: {len(problems)} problem(s) against {label}", file=sys.stderr)
        return 1
    count = sum(len(rules) for rules in after.values())
    print(
        f"routes: {len(after)} methods, {count} routes, nothing removed or changed against {label}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
