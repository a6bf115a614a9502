"""Every Redis key name of warmstep, in one module. Nothing else spells a key."""

from __future__ import annotations

PREFIX = "warmstep"

WORKERS_SET = f"{PREFIX}:workers"  # ids of workers that registered (pruned by heartbeat expiry)
DISPATCH_GROUP = "workers"  # the consumer group of every dispatch stream
DEAD_LETTER_STREAM = f"{PREFIX}:dead"
JOBS_INDEX = f"{PREFIX}:jobs"  # sorted set: job id by submit time


def worker_heartbeat(worker_id: str) -> str:
    """A JSON worker description with a TTL; its existence is the worker's liveness."""
    return f"{PREFIX}:worker:{worker_id}"


def job_record(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def job_events(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}:events"


def job_checkpoint(job_id: str) -> str:
    """The latest checkpoint of a job (torch.save bytes), for resuming on any worker."""
    return f"{PREFIX}:job:{job_id}:checkpoint"


def job_artifact(job_id: str, name: str) -> str:
    return f"{PREFIX}:job:{job_id}:artifact:{name}"


def idempotency(tenant: str, key: str) -> str:
    return f"{PREFIX}:idem:{tenant}:{key}"


def dispatch_stream(device_class: str) -> str:
    """One dispatch stream per device class (``cuda``, ``cpu``); entries name a job to run."""
    return f"{PREFIX}:dispatch:{device_class}"


REGISTRY = f"{PREFIX}:registry"  # JSON catalog of models, data sets, optimizers (workers write)


def tenant_jobs(tenant: str) -> str:
    """Set of a tenant's job ids not yet seen finished (pruned when counted): the queue bound."""
    return f"{PREFIX}:tenant:{tenant}:jobs"


def tenant_streams(tenant: str) -> str:
    """Sorted set of a tenant's open follows, scored by last refresh time: the stream bound."""
    return f"{PREFIX}:tenant:{tenant}:streams"
