"""Regenerate the Python gRPC code from ``protos/`` into the client package.

Run through ``make generate`` (pinned grpcio-tools and mypy-protobuf from pyproject's ``test``
extra). The proto package is ``warmstep.v1``, so protoc writes imports such as
``from warmstep.v1 import schedules_pb2``; the generated modules live in
``warmstep_client.v1`` (the name ``warmstep`` is the domain library), so those imports are
rewritten, the way temporalio's ``scripts/gen_protos.py`` does. Nothing else is edited.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT = ROOT / "clients" / "python" / "src" / "warmstep_client" / "v1"
IMPORT_FIXES = [
    (re.compile(r"^from warmstep\.v1 import", re.M), "from warmstep_client.v1 import"),
    (re.compile(r"^import warmstep\.v1\.", re.M), "import warmstep_client.v1."),
    (re.compile(r"\bwarmstep\.v1\.(\w+_pb2)\b"), r"warmstep_client.v1.\1"),
]


def generate(out: Path) -> None:
    bin_dir = Path(sys.executable).parent
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
                f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
                f"--python_out={tmp}",
                f"--grpc_python_out={tmp}",
                f"--mypy_out={tmp}",
                f"--mypy_grpc_out={tmp}",
                *protos,
            ],
            check=True,
        )
        generated = Path(tmp) / "warmstep" / "v1"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for path in sorted(generated.iterdir()):
            text = path.read_text()
            for pattern, replacement in IMPORT_FIXES:
                text = pattern.sub(replacement, text)
            (out / path.name).write_text(text)
    (out / "__init__.py").write_text(
        '"""Generated from protos/warmstep/v1 by `make generate`."""\n'
    )


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
