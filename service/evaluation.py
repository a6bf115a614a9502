"""The evaluate call both transports make: bounds first, then the engine, off the event loop for
long curves so other requests keep flowing."""

from __future__ import annotations

import anyio

from service.bounds import check_evaluate
from warmstep.config import Settings
from warmstep.queries import EvaluateRequest, Evaluation, evaluate

THREAD_ABOVE_STEPS = 50_000


async def evaluate_bounded(request: EvaluateRequest, settings: Settings) -> Evaluation:
    check_evaluate(request, settings)
    limit = settings.max_steps_per_query
    if request.steps > THREAD_ABOVE_STEPS:
        return await anyio.to_thread.run_sync(lambda: evaluate(request, max_steps=limit))
    return evaluate(request, max_steps=limit)
