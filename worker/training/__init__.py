"""The worker's training loop and its model / data-set registry (torch; no queue code)."""

from worker.training._types import (
    ComponentParams,
    DataInfo,
    Dataset,
    DatasetEntry,
    ModelEntry,
    RawData,
)
from worker.training.events import (
    EvalEvent,
    Hooks,
    NonFiniteError,
    RuntimeLimitExceeded,
    StepEvent,
    TrainingCancelled,
    TrainingResult,
    TrainingStopped,
)
from worker.training.loop import run_training
from worker.training.registry import (
    build_model,
    dataset_names,
    get_dataset,
    get_model,
    load_dataset,
    model_names,
    plugin_errors,
    register_dataset,
    register_model,
    reload_plugins,
)
from worker.training.setup import plan_job

__all__ = [
    "ComponentParams",
    "DataInfo",
    "Dataset",
    "DatasetEntry",
    "EvalEvent",
    "Hooks",
    "ModelEntry",
    "NonFiniteError",
    "RawData",
    "RuntimeLimitExceeded",
    "StepEvent",
    "TrainingCancelled",
    "TrainingResult",
    "TrainingStopped",
    "build_model",
    "dataset_names",
    "get_dataset",
    "get_model",
    "load_dataset",
    "model_names",
    "plan_job",
    "plugin_errors",
    "register_dataset",
    "register_model",
    "reload_plugins",
    "run_training",
]
