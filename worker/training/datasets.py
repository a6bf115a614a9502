"""Built-in data sets: scikit-learn's bundled ones (no download), seeded synthetic sets, and a
small character-level text corpus shipped with the package."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from pydantic import Field
from sklearn import datasets as skd

from worker.training._types import ComponentParams, DataInfo, DatasetEntry, RawData

__all__ = ["BUILTIN_DATASETS", "split_and_standardize"]


class TabularParams(ComponentParams):
    standardize: bool = True


class SyntheticRegressionParams(TabularParams):
    n_samples: int = Field(512, ge=2, le=1_000_000)
    n_features: int = Field(8, ge=1, le=10_000)
    n_targets: int = Field(1, ge=1, le=1_000)
    noise: float = Field(0.1, ge=0.0)
    random_state: int | None = Field(None, ge=0, le=2**32 - 1)


class SyntheticClassificationParams(TabularParams):
    n_samples: int = Field(512, ge=2, le=1_000_000)
    n_features: int = Field(8, ge=2, le=10_000)
    n_informative: int = Field(4, ge=1, le=10_000)
    n_classes: int = Field(3, ge=2, le=1_000)
    class_sep: float = Field(1.0, gt=0.0)
    random_state: int | None = Field(None, ge=0, le=2**32 - 1)


class CorpusParams(ComponentParams):
    block_size: int = Field(32, ge=2, le=1024)
    stride: int | None = Field(None, ge=1, le=1024)


def _tabular(x: npt.ArrayLike, y: npt.ArrayLike, classification: bool) -> RawData:
    features = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if classification:
        labels = torch.as_tensor(np.asarray(y, dtype=np.int64))
        info = DataInfo("classification", features.shape[1], int(labels.max()) + 1)
        return RawData(features, labels, info)
    targets = torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(len(features), -1))
    return RawData(features, targets, DataInfo("regression", features.shape[1], targets.shape[1]))


def _sklearn_loader(loader: Any, classification: bool) -> Any:
    def load(params: TabularParams, seed: int) -> RawData:
        bunch = loader()
        return _tabular(bunch.data, bunch.target, classification)

    return load


def _load_synthetic_regression(params: SyntheticRegressionParams, seed: int) -> RawData:
    x, y = skd.make_regression(
        n_samples=params.n_samples,
        n_features=params.n_features,
        n_targets=params.n_targets,
        noise=params.noise,
        random_state=seed if params.random_state is None else params.random_state,
    )
    return _tabular(x, y, classification=False)


def _load_synthetic_classification(params: SyntheticClassificationParams, seed: int) -> RawData:
    if params.n_informative > params.n_features:
        raise ValueError("n_informative is at most n_features")
    x, y = skd.make_classification(
        n_samples=params.n_samples,
        n_features=params.n_features,
        n_informative=params.n_informative,
        n_redundant=0,
        n_classes=params.n_classes,
        class_sep=params.class_sep,
        random_state=seed if params.random_state is None else params.random_state,
    )
    return _tabular(x, y, classification=True)


def _load_corpus(params: CorpusParams, seed: int) -> RawData:
    """Windows of ``block_size`` characters (every ``stride``, default ``block_size // 2``);
    the target is the window shifted by one character. Vocabulary: the sorted characters."""
    text = resources.files("worker.training").joinpath("corpus.txt").read_text("utf-8")
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text], dtype=torch.int64)
    stride = params.stride or max(1, params.block_size // 2)
    starts = torch.arange(0, len(ids) - params.block_size - 1, stride)
    offsets = torch.arange(params.block_size)
    x = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return RawData(x, y, DataInfo("language_model", params.block_size, len(vocab)))


def split_and_standardize(
    raw: RawData, validation_fraction: float, seed: int, standardize: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle rows with ``numpy.random.default_rng(seed)``; the first
    ``round(fraction * n)`` rows are validation. Standardisation uses train mean / std only
    (features always; regression targets too), a zero std counting as 1."""
    n = raw.x.shape[0]
    order = torch.as_tensor(np.random.default_rng(seed).permutation(n))
    n_val = round(validation_fraction * n)
    val, train = order[:n_val], order[n_val:]
    x_tr, y_tr, x_val, y_val = raw.x[train], raw.y[train], raw.x[val], raw.y[val]
    if standardize and raw.info.task != "language_model":
        x_tr, x_val = _standardize(x_tr, x_val)
        if raw.info.task == "regression":
            y_tr, y_val = _standardize(y_tr, y_val)
    return x_tr, y_tr, x_val, y_val


def _standardize(train: torch.Tensor, val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = train.mean(dim=0)
    std = train.std(dim=0, correction=0) if train.shape[0] > 1 else torch.ones_like(mean)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (val - mean) / std


def _entry(name: str, load: Any, params: type[ComponentParams], doc: str) -> DatasetEntry:
    return DatasetEntry(name=name, load=load, params=params, doc=doc)


BUILTIN_DATASETS: tuple[DatasetEntry, ...] = (
    _entry(
        "digits",
        _sklearn_loader(skd.load_digits, True),
        TabularParams,
        "scikit-learn digits: 1797 8x8 images (64 features), 10 classes",
    ),
    _entry(
        "iris",
        _sklearn_loader(skd.load_iris, True),
        TabularParams,
        "scikit-learn iris: 150 samples, 4 features, 3 classes",
    ),
    _entry(
        "wine",
        _sklearn_loader(skd.load_wine, True),
        TabularParams,
        "scikit-learn wine: 178 samples, 13 features, 3 classes",
    ),
    _entry(
        "breast_cancer",
        _sklearn_loader(skd.load_breast_cancer, True),
        TabularParams,
        "scikit-learn breast cancer: 569 samples, 30 features, 2 classes",
    ),
    _entry(
        "diabetes",
        _sklearn_loader(skd.load_diabetes, False),
        TabularParams,
        "scikit-learn diabetes: 442 samples, 10 features, 1 regression target",
    ),
    _entry(
        "synthetic_regression",
        _load_synthetic_regression,
        SyntheticRegressionParams,
        "sklearn.datasets.make_regression, seeded by the job seed unless random_state",
    ),
    _entry(
        "synthetic_classification",
        _load_synthetic_classification,
        SyntheticClassificationParams,
        "sklearn.datasets.make_classification, seeded by the job seed unless random_state",
    ),
    _entry(
        "tiny_corpus",
        _load_corpus,
        CorpusParams,
        "a few KB of English about learning-rate schedules, character level",
    ),
)
