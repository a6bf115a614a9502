"""Built-in models. Each builder takes its validated keyword arguments and the data set's
:class:`DataInfo`, and returns a fresh module (initialised from torch's global RNG, which the
loop seeds first)."""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from worker.training._types import ComponentParams, DataInfo, ModelEntry, Task

__all__ = ["BUILTIN_MODELS"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


_Width = Annotated[int, Field(ge=1, le=65_536)]


class LinearParams(ComponentParams):
    bias: bool = True


class MLPParams(ComponentParams):
    hidden_sizes: list[_Width] = Field(default_factory=lambda: [64], max_length=16)
    activation: Literal["relu", "gelu", "tanh", "silu", "sigmoid"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batchnorm: bool = False


class CNNParams(ComponentParams):
    image_size: int = Field(8, ge=4, le=256)
    in_channels: int = Field(1, ge=1, le=16)
    channels: list[_Width] = Field(default_factory=lambda: [16, 32], min_length=1, max_length=4)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class TransformerLMParams(ComponentParams):
    d_model: int = Field(64, ge=8, le=1024)
    nhead: int = Field(4, ge=1, le=16)
    num_layers: int = Field(2, ge=1, le=8)
    dim_feedforward: int = Field(128, ge=8, le=4096)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


def _linear(params: LinearParams, info: DataInfo) -> nn.Module:
    return nn.Linear(info.num_features, info.num_outputs, bias=params.bias)


class MLP(nn.Module):
    """``[Linear -> (BatchNorm1d) -> activation -> (Dropout)] * len(hidden_sizes) -> Linear``.
    Batch norms live under ``norms`` so a ``no_decay: ["norm"]`` pattern finds them."""

    def __init__(self, params: MLPParams, info: DataInfo) -> None:
        super().__init__()
        sizes = [info.num_features, *params.hidden_sizes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(b) if params.batchnorm else nn.Identity() for b in sizes[1:]
        )
        self.activation = _ACTIVATIONS[params.activation]()
        self.dropout = nn.Dropout(params.dropout) if params.dropout > 0 else nn.Identity()
        self.head = nn.Linear(sizes[-1], info.num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, norm in zip(self.layers, self.norms, strict=True):
            x = self.dropout(self.activation(norm(layer(x))))
        out: torch.Tensor = self.head(x)
        return out


class DigitsCNN(nn.Module):
    """Flat ``image_size**2 * in_channels`` features reshaped to images; 3x3 conv + ReLU per
    entry of ``channels`` (a 2x2 max-pool after each but the last), global average pool, linear."""

    def __init__(self, params: CNNParams, info: DataInfo) -> None:
        super().__init__()
        expected = params.in_channels * params.image_size**2
        if info.num_features != expected:
            raise ValueError(f"the data set has {info.num_features} features, not {expected}")
        self.shape = (params.in_channels, params.image_size, params.image_size)
        blocks: list[nn.Module] = []
        previous = params.in_channels
        for i, width in enumerate(params.channels):
            blocks += [nn.Conv2d(previous, width, 3, padding=1), nn.ReLU()]
            if i < len(params.channels) - 1:
                blocks.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(params.dropout) if params.dropout > 0 else nn.Identity()
        self.head = nn.Linear(previous, info.num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.view(-1, *self.shape)).mean(dim=(2, 3))
        out: torch.Tensor = self.head(self.dropout(h))
        return out


class TransformerLM(nn.Module):
    """Causal character model: token + learned position embeddings, pre-norm encoder layers
    with a causal mask, final LayerNorm, linear head to the vocabulary."""

    def __init__(self, params: TransformerLMParams, info: DataInfo) -> None:
        super().__init__()
        if params.d_model % params.nhead:
            raise ValueError("d_model must be divisible by nhead")
        self.token = nn.Embedding(info.num_outputs, params.d_model)
        self.position = nn.Embedding(info.num_features, params.d_model)
        layer = nn.TransformerEncoderLayer(
            params.d_model,
            params.nhead,
            params.dim_feedforward,
            params.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, params.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(params.d_model)
        self.head = nn.Linear(params.d_model, info.num_outputs)
        self.causal_mask: torch.Tensor
        self.positions: torch.Tensor
        mask = nn.Transformer.generate_square_subsequent_mask(info.num_features)
        self.register_buffer("causal_mask", mask, persistent=False)
        self.register_buffer("positions", torch.arange(info.num_features), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        h = self.token(tokens) + self.position(self.positions[:length])
        mask = self.causal_mask[:length, :length]
        h = self.blocks(h, mask=mask, is_causal=True)
        out: torch.Tensor = self.head(self.norm(h))
        return out


_FEATURES: frozenset[Task] = frozenset({"classification", "regression"})
_REGRESSION: frozenset[Task] = frozenset({"regression"})
_CLASSIFICATION: frozenset[Task] = frozenset({"classification"})
_LANGUAGE: frozenset[Task] = frozenset({"language_model"})

BUILTIN_MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "linear_regression",
        _linear,
        LinearParams,
        "y = x W^T + b, trained with mean squared error",
        _REGRESSION,
    ),
    ModelEntry(
        "logistic_regression",
        _linear,
        LinearParams,
        "softmax(x W^T + b), trained with cross-entropy",
        _CLASSIFICATION,
    ),
    ModelEntry(
        "mlp",
        MLP,
        MLPParams,
        "multilayer perceptron: hidden_sizes, activation, dropout, batchnorm",
        _FEATURES,
    ),
    ModelEntry(
        "cnn",
        DigitsCNN,
        CNNParams,
        "small convolutional net for 8x8 digits (flat features reshaped)",
        _FEATURES,
    ),
    ModelEntry(
        "transformer_lm",
        TransformerLM,
        TransformerLMParams,
        "small causal transformer language model (character level)",
        _LANGUAGE,
    ),
)
