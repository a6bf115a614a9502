"""The client package installs alone (no torch, no FastAPI) and talks to a running front end."""

from __future__ import annotations

import subprocess
import textwrap
import venv
from pathlib import Path

import numpy as np

from tests.processes import ROOT, Stack
from warmstep_client import WarmstepClient, WarmstepGrpcClient


def test_rest_and_grpc_clients_give_the_same_numpy_curves(stack: Stack) -> None:
    spec = {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 300}
    with WarmstepClient(stack.base_url) as rest, WarmstepGrpcClient(stack.grpc_target) as rpc:
        a = rest.evaluate(spec, 300, base_lr=[0.1, 0.1])
        b = rpc.evaluate(spec, 300, base_lr=[0.1, 0.1])
        assert a.lr.shape == (2, 300) and a.momentum is not None
        np.testing.assert_array_equal(a.lr, b.lr)
        np.testing.assert_array_equal(a.momentum, b.momentum)
        small = rpc.evaluate(spec, 300, base_lr=0.1, points=10)
        assert small.index is not None and len(small.index) == small.lr.shape[1] < 300


def test_client_package_installs_in_a_clean_venv_without_torch_or_fastapi(
    tmp_path: Path, stack: Stack
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT / "clients" / "python")],
        check=True,
    )
    script = textwrap.dedent(f"""
        import importlib.util, sys
        assert importlib.util.find_spec("torch") is None
        assert importlib.util.find_spec("fastapi") is None
        from warmstep_client import WarmstepClient
        with WarmstepClient("{stack.base_url}") as client:
            curve = client.evaluate({{"type": "StepLR", "step_size": 2}}, 6, base_lr=1.0)
        print(curve.lr.tolist())
    """)
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True)
    assert (
        out.stdout.strip() == "[[1.0, 1.0, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002]]"
    )
