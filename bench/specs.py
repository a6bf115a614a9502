"""One representative spec per registered kind, sized for an ``n``-step curve.

Parameters follow the parity tables under tests/ (tests/fixtures/schedules/*.json and the torch /
transformers test modules), stretched so the schedule's interesting part spans the ``n`` steps.
Every registered kind must appear here: the engine benchmark refuses to run with one missing."""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]


def _torch(n: int) -> dict[str, Spec]:
    h = max(n // 10, 1)
    return {
        "StepLR": {"type": "StepLR", "step_size": h, "gamma": 0.5},
        "MultiStepLR": {"type": "MultiStepLR", "milestones": [3 * h, 7 * h]},
        "ConstantLR": {"type": "ConstantLR", "factor": 0.5, "total_iters": h},
        "LinearLR": {"type": "LinearLR", "start_factor": 0.1, "total_iters": h},
        "ExponentialLR": {"type": "ExponentialLR", "gamma": 0.999999},
        "PolynomialLR": {"type": "PolynomialLR", "total_iters": n, "power": 2.0},
        "CosineAnnealingLR": {"type": "CosineAnnealingLR", "T_max": n, "eta_min": 0.001},
        "CosineAnnealingWarmRestarts": {
            "type": "CosineAnnealingWarmRestarts",
            "T_0": h,
            "T_mult": 2,
            "eta_min": 0.001,
        },
        "CyclicLR": {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": h // 2},
        "OneCycleLR": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": n},
        "SWALR": {"type": "SWALR", "swa_lr": 0.05, "anneal_epochs": h},
        "LambdaLR": {"type": "LambdaLR", "lr_lambda": f"min(1.0, (step + 1) / {h})"},
        "MultiplicativeLR": {"type": "MultiplicativeLR", "lr_lambda": "0.999999"},
        "SequentialLR": {
            "type": "SequentialLR",
            "milestones": [h],
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.01, "total_iters": h},
                {"type": "CosineAnnealingLR", "T_max": n - h},
            ],
        },
        "ChainedScheduler": {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.5, "total_iters": h},
                {"type": "ExponentialLR", "gamma": 0.999999},
            ],
        },
        "ReduceLROnPlateau": {"type": "ReduceLROnPlateau", "patience": 10, "factor": 0.5},
    }


def _transformers(n: int) -> dict[str, Spec]:
    w = max(n // 10, 1)
    train = {"num_warmup_steps": w, "num_training_steps": n}
    return {
        "get_constant_schedule": {},
        "get_constant_schedule_with_warmup": {"num_warmup_steps": w},
        "get_cosine_schedule_with_warmup": train,
        "get_cosine_with_hard_restarts_schedule_with_warmup": train | {"num_cycles": 3},
        "get_cosine_with_min_lr_schedule_with_warmup": train | {"min_lr_rate": 0.1},
        "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": train
        | {"min_lr_rate": 0.1, "warmup_lr_rate": 0.01},
        "get_inverse_sqrt_schedule": {"num_warmup_steps": w},
        "get_linear_schedule_with_warmup": train,
        "get_polynomial_decay_schedule_with_warmup": train | {"lr_end": 1e-4, "power": 2.0},
        "get_wsd_schedule": {"num_warmup_steps": w, "num_decay_steps": w, "num_training_steps": n},
        "get_scheduler": {"name": "cosine"} | train,
        "get_reduce_on_plateau_schedule": {"patience": 10, "factor": 0.5},
        "get_greedy_schedule": {"patience": 10, "factor": 0.8, "smooth": True, "window_size": 7},
    }


def _others(n: int) -> dict[str, Spec]:
    h = max(n // 10, 1)
    fv_cos = {"type": "CosineParamScheduler", "start_value": 1.0, "end_value": 0.01}
    return {
        "detectron2:LRMultiplier": {
            "max_iter": n,
            "multiplier": {
                "type": "WarmupParamScheduler",
                "warmup_factor": 0.001,
                "warmup_length": 0.1,
                "scheduler": {
                    "type": "MultiStepParamScheduler",
                    "values": [1, 0.1, 0.01],
                    "milestones": [6 * h, 8 * h],
                    "num_updates": n,
                },
            },
        },
        "detectron2:WarmupParamScheduler": {
            "scheduler": fv_cos,
            "warmup_factor": 0.01,
            "warmup_length": 0.2,
            "max_iter": n,
        },
        "detectron2:WarmupMultiStepLR": {"milestones": [5 * h, 8 * h], "warmup_iters": h},
        "detectron2:WarmupCosineLR": {"max_iters": n, "warmup_iters": h},
        "maskrcnn_benchmark:WarmupMultiStepLR": {"milestones": [5 * h, 8 * h], "warmup_iters": h},
        "fairseq:inverse_sqrt": {"warmup_updates": h},
        "fairseq:tri_stage": {"warmup_steps": h, "hold_steps": 4 * h, "decay_steps": 5 * h},
        "fvcore:ConstantParamScheduler": {"value": 0.5, "max_iter": n},
        "fvcore:CosineParamScheduler": fv_cos | {"max_iter": n},
        "fvcore:ExponentialParamScheduler": {"start_value": 2.0, "decay": 0.02, "max_iter": n},
        "fvcore:LinearParamScheduler": {"start_value": 1e-4, "end_value": 0.01, "max_iter": n},
        "fvcore:MultiStepParamScheduler": {
            "values": [1, 0.1, 0.01],
            "num_updates": n,
            "max_iter": n,
        },
        "fvcore:PolynomialDecayParamScheduler": {"base_value": 0.1, "power": 0.9, "max_iter": n},
        "fvcore:StepParamScheduler": {
            "num_updates": n,
            "values": [0.1, 0.01, 0.001, 1e-4],
            "max_iter": n + 1,
        },
        "fvcore:StepWithFixedGammaParamScheduler": {
            "base_value": 0.1,
            "num_decays": 3,
            "gamma": 0.1,
            "num_updates": n,
            "max_iter": n + 1,
        },
        "fvcore:CompositeParamScheduler": {
            "schedulers": [
                {"type": "ConstantParamScheduler", "value": 0.42},
                {"type": "CosineParamScheduler", "start_value": 0.42, "end_value": 1e-4},
            ],
            "lengths": [0.3, 0.7],
            "interval_scaling": ["rescaled", "rescaled"],
            "max_iter": n,
        },
        "keras:ExponentialDecay": {
            "initial_learning_rate": 0.1,
            "decay_steps": h,
            "decay_rate": 0.9,
        },
        "keras:PiecewiseConstantDecay": {
            "boundaries": [h, 5 * h, 8 * h],
            "values": [1.0, 0.5, 0.1, 0.01],
        },
        "keras:PolynomialDecay": {"initial_learning_rate": 0.1, "decay_steps": n},
        "keras:InverseTimeDecay": {
            "initial_learning_rate": 0.1,
            "decay_steps": h,
            "decay_rate": 0.5,
        },
        "keras:CosineDecay": {"initial_learning_rate": 0.1, "decay_steps": n},
        "keras:CosineDecayRestarts": {"initial_learning_rate": 0.1, "first_decay_steps": h},
        "mxnet:FactorScheduler": {"step": h, "factor": 0.5, "base_lr": 0.1},
        "mxnet:MultiFactorScheduler": {"step": [h, 5 * h, 8 * h], "factor": 0.5, "base_lr": 0.2},
        "mxnet:PolyScheduler": {"max_update": n, "base_lr": 0.1, "warmup_steps": h},
        "mxnet:CosineScheduler": {"max_update": n, "base_lr": 0.1, "warmup_steps": h},
        **_optax(n, h),
        "pytorch_transformers:ConstantLRSchedule": {},
        "pytorch_transformers:WarmupConstantSchedule": {"warmup_steps": h},
        "pytorch_transformers:WarmupLinearSchedule": {"warmup_steps": h, "t_total": n},
        "pytorch_transformers:WarmupCosineSchedule": {"warmup_steps": h, "t_total": n},
        "pytorch_transformers:WarmupCosineWithHardRestartsSchedule": {
            "warmup_steps": h,
            "t_total": n,
            "cycles": 3.0,
        },
        "tensorflow:polynomial_decay": {"learning_rate": 0.1, "decay_steps": n},
        "tensorflow:bert_polynomial_decay_with_warmup": {
            "init_lr": 1e-4,
            "num_train_steps": n,
            "num_warmup_steps": h,
        },
        "timm:CosineLRScheduler": {"t_initial": n, "warmup_t": h, "t_in_epochs": False},
        "timm:TanhLRScheduler": {"t_initial": n, "t_in_epochs": False},
        "timm:StepLRScheduler": {"decay_t": h, "decay_rate": 0.5, "t_in_epochs": False},
        "timm:MultiStepLRScheduler": {
            "decay_t": [h, 5 * h, 8 * h],
            "decay_rate": 0.5,
            "t_in_epochs": False,
        },
        "timm:PolyLRScheduler": {"t_initial": n, "t_in_epochs": False},
        "timm:WSDLRScheduler": {"t_initial": n, "decay_t": h, "warmup_t": h, "t_in_epochs": False},
        "timm:PlateauLRScheduler": {"patience_t": 10, "decay_rate": 0.5},
        "warmstep:WarmupMultiFactorScheduler": {
            "factor": 0.1,
            "warmup_epochs": h,
            "milestones": [3 * h, 6 * h, 9 * h],
            "warmup_lr": 0.001,
        },
    }


def _optax(n: int, h: int) -> dict[str, Spec]:
    return {
        "optax:constant_schedule": {"value": 0.1},
        "optax:linear_schedule": {"init_value": 0.1, "end_value": 0.001, "transition_steps": n},
        "optax:polynomial_schedule": {
            "init_value": 0.7,
            "end_value": 0.01,
            "power": 2.0,
            "transition_steps": n,
        },
        "optax:piecewise_constant_schedule": {
            "init_value": 0.1,
            "boundaries_and_scales": {str(h): 0.5, str(5 * h): 0.1, str(8 * h): 0.3},
        },
        "optax:exponential_decay": {"init_value": 0.1, "transition_steps": h, "decay_rate": 0.9},
        "optax:cosine_decay_schedule": {"init_value": 0.1, "decay_steps": n},
        "optax:piecewise_interpolate_schedule": {
            "interpolate_type": "linear",
            "init_value": 0.01,
            "boundaries_and_scales": {str(h): 10.0, str(5 * h): 0.5, str(8 * h): 0.1},
        },
        "optax:linear_onecycle_schedule": {"transition_steps": n, "peak_value": 0.1},
        "optax:cosine_onecycle_schedule": {"transition_steps": n, "peak_value": 0.4},
        "optax:warmup_constant_schedule": {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": h},
        "optax:warmup_cosine_decay_schedule": {
            "init_value": 0.0,
            "peak_value": 0.1,
            "warmup_steps": h,
            "decay_steps": n,
            "end_value": 1e-4,
        },
        "optax:warmup_exponential_decay_schedule": {
            "init_value": 1e-5,
            "peak_value": 0.01,
            "warmup_steps": h,
            "transition_steps": h,
            "decay_rate": 0.8,
            "end_value": 0.003,
        },
        "optax:sgdr_schedule": {
            "cosine_kwargs": [
                {
                    "init_value": 0.0,
                    "peak_value": 0.1,
                    "warmup_steps": h // 2,
                    "decay_steps": 3 * h,
                },
                {"init_value": 0.01, "peak_value": 0.05, "warmup_steps": 0, "decay_steps": 3 * h},
                {
                    "init_value": 0.0,
                    "peak_value": 0.02,
                    "warmup_steps": h // 2,
                    "decay_steps": 4 * h,
                },
            ]
        },
        "optax:join_schedules": {
            "boundaries": [h, 5 * h],
            "schedules": [
                {
                    "type": "linear_schedule",
                    "init_value": 0.0,
                    "end_value": 0.1,
                    "transition_steps": h,
                },
                {"type": "constant_schedule", "value": 0.1},
                {"type": "cosine_decay_schedule", "init_value": 0.1, "decay_steps": 5 * h},
            ],
        },
    }


def spec_for(library: str, name: str, n: int) -> Spec:
    """The full spec (``type`` and ``library`` set) for kind ``library:name`` at ``n`` steps."""
    if library == "torch":
        body = dict(_torch(n)[name])
        body.pop("type")
    elif library == "transformers":
        body = dict(_transformers(n)[name])
    else:
        body = dict(_others(n)[f"{library}:{name}"])
    return {"type": name, "library": library, **body}
