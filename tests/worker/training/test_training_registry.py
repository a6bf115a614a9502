"""Built-in models and data sets, errors naming the field, and entry-point plugins."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from warmstep.errors import InvalidArgument
from warmstep.jobs import JobSpec
from worker.training import (
    DataInfo,
    build_model,
    dataset_names,
    get_model,
    load_dataset,
    model_names,
    plugin_errors,
    reload_plugins,
    run_training,
)
from worker.training.optim import assign_groups

PLUGIN = Path(__file__).parents[2] / "plugins" / "warmstep_test_plugin"

CASES = [
    ("linear_regression", {}, "diabetes", {}),
    ("linear_regression", {}, "synthetic_regression", {"n_targets": 2, "n_samples": 40}),
    ("logistic_regression", {}, "breast_cancer", {}),
    (
        "mlp",
        {"hidden_sizes": [8, 8], "activation": "gelu", "dropout": 0.1, "batchnorm": True},
        "wine",
        {},
    ),
    ("mlp", {"hidden_sizes": []}, "synthetic_classification", {"n_samples": 40}),
    ("cnn", {"channels": [4, 8]}, "digits", {}),
    (
        "transformer_lm",
        {"d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 32},
        "tiny_corpus",
        {"block_size": 16},
    ),
]


@pytest.mark.parametrize(("model", "model_kwargs", "data", "data_kwargs"), CASES)
def test_every_builtin_trains_a_few_updates(
    make_spec: SpecFactory,
    model: str,
    model_kwargs: dict[str, Any],
    data: str,
    data_kwargs: dict[str, Any],
) -> None:
    spec = make_spec(
        model={"name": model, **model_kwargs},
        data={"name": data, "validation_fraction": 0.2, **data_kwargs},
        optimizer={"type": "Adam", "lr": 1e-3},
        max_steps=2,
        batch_size=8,
        eval_every_steps=2,
    )
    result = run_training(spec, np.full((1, 2), 1e-3))
    assert result.steps == 2 and result.last_loss is not None and np.isfinite(result.last_loss)
    assert result.last_eval is not None and np.isfinite(result.last_eval.val_loss)


SpecFactory = Callable[..., JobSpec]
LrsFactory = Callable[[JobSpec, float], npt.NDArray[np.float64]]


def test_names_listed_for_the_front_end() -> None:
    assert {"linear_regression", "logistic_regression", "mlp", "cnn", "transformer_lm"} <= set(
        model_names()
    )
    assert {
        "digits",
        "iris",
        "wine",
        "breast_cancer",
        "diabetes",
        "synthetic_regression",
        "synthetic_classification",
        "tiny_corpus",
    } <= set(dataset_names())


def test_split_is_fixed_by_the_seed_and_standardised_on_train() -> None:
    a = load_dataset("wine", {}, 0.25, seed=3)
    b = load_dataset("wine", {}, 0.25, seed=3)
    c = load_dataset("wine", {}, 0.25, seed=4)
    assert (a.train_size, a.val_size) == (134, 44)  # round(0.25 * 178) = 44
    assert torch.equal(a.val_x, b.val_x) and not torch.equal(a.val_x, c.val_x)
    torch.testing.assert_close(a.train_x.mean(0), torch.zeros(13), atol=1e-5, rtol=0)
    corpus = load_dataset("tiny_corpus", {"block_size": 8}, 0.0, seed=0)
    assert torch.equal(corpus.train_x[:, 1:], corpus.train_y[:, :-1])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: get_model("resnet9000"), "model.name"),
        (lambda: load_dataset("imagenet", {}, 0.2, 0), "data.name"),
        (lambda: load_dataset("digits", {"n_samples": 3}, 0.2, 0), "data.n_samples"),
        (lambda: build_model("mlp", {"hidden_sizes": [-1]}, _info()), "model.hidden_sizes.0"),
        (lambda: build_model("mlp", {"widht": 3}, _info()), "model.widht"),
        (lambda: build_model("transformer_lm", {}, _info()), "model.name"),
        (lambda: build_model("cnn", {}, _info()), "model"),
    ],
)
def test_errors_name_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert caught.value.field == field


def _info() -> DataInfo:
    return DataInfo("classification", 5, 3)


def test_param_groups_by_pattern(make_spec: SpecFactory) -> None:
    names = ["layers.0.weight", "layers.0.bias", "norms.0.weight", "head.weight", "head.bias"]
    spec = make_spec(
        optimizer={
            "type": "AdamW",
            "groups": [{"params": ["head.*"], "lr": 0.5}],
            "no_decay": ["bias", "norm"],
        }
    ).optimizer
    assert assign_groups(names, spec) == [[0], [3, 4], [1, 2]]
    assert spec.group_lrs() == [0.001, 0.5, 0.001]
    with pytest.raises(InvalidArgument) as caught:
        assign_groups(
            names,
            make_spec(optimizer={"type": "SGD", "groups": [{"params": ["nothing"]}]}).optimizer,
        )
    assert caught.value.field == "optimizer.groups[0].params"


@pytest.mark.parametrize(
    ("optimizer", "field"),
    [
        ({"type": "LBFGS"}, "optimizer.type"),
        ({"type": "SGD", "momentun": 0.9}, "optimizer"),
    ],
)
def test_optimizer_errors(make_spec: SpecFactory, optimizer: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        run_training(make_spec(optimizer=optimizer, max_steps=1), [[0.1]])
    assert caught.value.field == field


def test_plugin_package_registers_its_model_and_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_spec: SpecFactory
) -> None:
    """pip-installs the plugin package into a temporary target (not the venv) and puts that on
    sys.path: importlib.metadata then finds its entry points as on a worker."""
    source = shutil.copytree(PLUGIN, tmp_path / "src")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(target))
    try:
        reload_plugins()
        assert "plugin_tiny_mlp" in model_names() and "plugin_xor" in dataset_names()
        assert plugin_errors() == []
        spec = make_spec(
            model={"name": "plugin_tiny_mlp", "width": 3},
            data={"name": "plugin_xor", "validation_fraction": 0.0},
            max_steps=2,
        )
        assert run_training(spec, [[0.1, 0.1]]).steps == 2
    finally:
        monkeypatch.undo()
        reload_plugins()
    assert "plugin_tiny_mlp" not in model_names()
