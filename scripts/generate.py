"""Generate everything derived from proto/: vendored googleapis protos, the
descriptor set Envoy loads, the Python stubs under gen/python, and the OpenAPI
document derived from that descriptor set.

    python scripts/generate.py            # write into the repository
    python scripts/generate.py --check    # fail when committed files drift

buf and grpc_tools come from the project's venv (buf-bin, grpcio-tools);
google/api and google/rpc come from the googleapis-common-protos wheel.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import google.api
from grpc_tools import protoc

from registry.server.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
VENDORED = {
    "google/api": ["annotations.proto", "http.proto", "field_behavior.proto", "httpbody.proto"],
    "google/rpc": ["status.proto", "error_details.proto", "code.proto"],
}
GENERATED_TREES = ("gen", "third_party/googleapis")
DESCRIPTOR = "gen/descriptor.binpb"
OPENAPI = "gen/python/temporal_registry/v1/openapi.json"
VENV_BIN = Path(sys.executable).parent  # buf-bin installs `buf` beside the interpreter


def vendor_googleapis(dest: Path) -> None:
    """Copy the google/api and google/rpc protos out of the installed wheel."""
    google_root = Path(next(iter(google.api.__path__))).parent
    for package, names in VENDORED.items():
        target = dest / "third_party/googleapis" / package
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(google_root / package.split("/", 1)[1] / name, target / name)


def build_descriptor(workspace: Path, output: Path) -> None:
    """buf builds one image of every file in both modules, imports included,
    so google/rpc/error_details.proto is always there for Envoy. Source info (the
    comments) stays in: the OpenAPI document's descriptions come from it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(VENV_BIN / "buf"),
            "build",
            str(workspace),
            "-o",
            str(output),
        ],
        check=True,
    )


def generate_python(descriptor: Path, out_dir: Path, proto_root: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"--descriptor_set_in={descriptor}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("grpc_tools.protoc failed")
    for stub in out_dir.rglob("*_pb2.py"):
        for package in stub.relative_to(out_dir).parents[:-1]:
            (out_dir / package / "__init__.py").touch()


def generate(dest: Path) -> None:
    """Generate into dest, which mirrors the repository layout."""
    for tree in GENERATED_TREES:
        shutil.rmtree(dest / tree, ignore_errors=True)
    vendor_googleapis(dest)
    if dest != ROOT:
        shutil.copytree(ROOT / "proto", dest / "proto", dirs_exist_ok=True)
        shutil.copyfile(ROOT / "buf.yaml", dest / "buf.yaml")
    build_descriptor(dest, dest / DESCRIPTOR)
    generate_python(dest / DESCRIPTOR, dest / "gen/python", dest / "proto")
    write_openapi(dest / DESCRIPTOR, dest / OPENAPI)


def write_openapi(descriptor: Path, output: Path) -> None:
    """The OpenAPI document, beside the stubs so it ships in the wheel."""
    document = openapi_document(descriptor.read_bytes(), title="temporal-registry", version="v1")
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def drift(fresh: Path) -> list[str]:
    """Paths that differ between a fresh generation and the committed trees."""
    problems: list[str] = []
    for tree in GENERATED_TREES:
        problems += tree_drift(fresh / tree, ROOT / tree, tree)
    return problems


def tree_drift(fresh: Path, committed: Path, label: str) -> list[str]:
    """How the committed tree differs from a fresh generation, a line per file."""
    if not committed.exists():
        return [f"{label}: missing"]
    cmp = filecmp.dircmp(fresh, committed, ignore=["__pycache__"])
    out = [f"{label}/{n}: not generated any more" for n in cmp.right_only]
    out += [f"{label}/{n}: missing" for n in cmp.left_only]
    out += [f"{label}/{n}: differs" for n in cmp.diff_files]
    for sub in cmp.common_dirs:
        out += tree_drift(fresh / sub, committed / sub, f"{label}/{sub}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if not args.check:
        generate(ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        problems = drift(Path(tmp))
    if problems:
        print("generated code drifted from proto/ (run `make gen` and commit):", file=sys.stderr)
        print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 1
    print("generated code matches proto/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
