"""Submit-time validation: everything that can be checked before a job is queued is checked here,
so that a bad spec answers 422 naming its field and never reaches a worker.

The models, data sets and optimizers a worker can run are known only to workers (plugins are
installed there); each worker publishes its catalog to Redis at start (``keys.REGISTRY``), and
this module checks names, argument names and simple argument types against it. Before any worker
has published, names cannot be checked here; the worker then refuses the job with the same
error, recorded on the job."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from service.redis_store import live_workers
from warmstep import keys
from warmstep.errors import InvalidArgument
from warmstep.job_schedule import job_curve
from warmstep.job_views import JobTotals
from warmstep.jobs import JobSpec, plan_training


async def load_registry(redis: aioredis.Redis) -> dict[str, Any] | None:
    raw = await redis.get(keys.REGISTRY)
    return None if raw is None else dict(orjson.loads(raw))


def check_components(spec: JobSpec, registry: dict[str, Any]) -> None:
    _check_named("model", spec.model.name, spec.model.kwargs, registry["models"])
    _check_named("data", spec.data.name, spec.data.kwargs, registry["datasets"])
    optimizers: dict[str, Any] = registry["optimizers"]
    if spec.optimizer.type not in optimizers:
        raise InvalidArgument(
            _unknown("optimizer", spec.optimizer.type, optimizers), field="optimizer.type"
        )
    allowed = set(optimizers[spec.optimizer.type]["params"])
    for name in spec.optimizer.kwargs:
        if name not in allowed:
            raise InvalidArgument(
                f"{spec.optimizer.type} takes no argument {name!r}", field=f"optimizer.{name}"
            )


def _unknown(what: str, name: str, table: dict[str, Any]) -> str:
    return f"unknown {what} {name!r}; one of {', '.join(sorted(table))}"


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _check_named(section: str, name: str, kwargs: dict[str, Any], table: dict[str, Any]) -> None:
    if name not in table:
        raise InvalidArgument(_unknown(section, name, table), field=f"{section}.name")
    properties: dict[str, Any] = table[name]["params"].get("properties", {})
    for arg, value in kwargs.items():
        if arg not in properties:
            raise InvalidArgument(f"{name} takes no argument {arg!r}", field=f"{section}.{arg}")
        if not _type_ok(value, properties[arg]):
            raise InvalidArgument(f"wrong type for {arg!r}", field=f"{section}.{arg}")


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    for option in options:
        kind = option.get("type")
        if kind is None or (kind == "null" and value is None):
            return True
        types = _JSON_TYPES.get(kind)
        if (
            types
            and isinstance(value, types)
            and not (kind != "boolean" and isinstance(value, bool))
        ):
            return True
    return False


def train_examples(spec: JobSpec, registry: dict[str, Any]) -> int | None:
    """Training examples after the validation split, when knowable without loading the data."""
    entry = registry["datasets"][spec.data.name]
    examples = entry.get("examples")
    size_param = entry.get("examples_param")
    if size_param and size_param in spec.data.kwargs:
        examples = int(spec.data.kwargs[size_param])
    if examples is None or any(p in spec.data.kwargs for p in entry.get("size_params", [])):
        return None
    return int(examples) - round(spec.data.validation_fraction * int(examples))


async def device_class_for(redis: aioredis.Redis, spec: JobSpec) -> str:
    if spec.device != "auto":
        return spec.device
    workers = await live_workers(redis)
    return "cuda" if any(w.device_kind == "cuda" for w in workers) else "cpu"


async def prepare(redis: aioredis.Redis, spec: JobSpec) -> tuple[JobTotals | None, str]:
    """Validate ``spec`` as far as possible and resolve its totals (None: known at start)."""
    registry = await load_registry(redis)
    totals: JobTotals | None = None
    if registry is not None:
        check_components(spec, registry)
        examples = train_examples(spec, registry)
        if examples is not None:
            plan = plan_training(spec, examples)
            totals = JobTotals.model_validate(plan, from_attributes=True)
            job_curve(spec, plan)  # the schedule's own errors surface now, naming the field
    return totals, await device_class_for(redis, spec)
