"""The proto messages and the pydantic models they carry must name the same fields: a field
added to one and not the other fails here."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor
from pydantic import BaseModel

from warmstep.job_views import JobEvent, JobPublic, JobTotals
from warmstep.plan import PlanRequest
from warmstep.queries import EvaluateRequest
from warmstep.workers import GpuInfo, WorkerInfo
from warmstep_client.v1 import schedules_pb2, training_pb2, workers_pb2

# Fields that exist on one side only, on purpose.
PROTO_ONLY = {"EvaluateRequest": {"chunk_steps", "raw"}}  # transport options

PAIRS: list[tuple[type[BaseModel], Descriptor]] = [
    (EvaluateRequest, schedules_pb2.EvaluateRequest.DESCRIPTOR),
    (PlanRequest, schedules_pb2.PlanRequest.DESCRIPTOR),
    (JobPublic, training_pb2.Job.DESCRIPTOR),
    (JobTotals, training_pb2.JobTotals.DESCRIPTOR),
    (JobEvent, training_pb2.JobEvent.DESCRIPTOR),
    (WorkerInfo, workers_pb2.Worker.DESCRIPTOR),
    (GpuInfo, workers_pb2.Gpu.DESCRIPTOR),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_and_message_have_the_same_fields(
    model: type[BaseModel], message: Descriptor
) -> None:
    proto_fields = {f.name for f in message.fields} - PROTO_ONLY.get(message.name, set())
    assert set(model.model_fields) == proto_fields


def test_every_servicer_method_is_implemented() -> None:
    from service.grpc.schedules import ScheduleServicer
    from service.grpc.training import TrainingServicer
    from service.grpc.workers import WorkerServicer

    for servicer, module, name in [
        (ScheduleServicer, schedules_pb2, "ScheduleService"),
        (TrainingServicer, training_pb2, "TrainingService"),
        (WorkerServicer, workers_pb2, "WorkerService"),
    ]:
        for method in module.DESCRIPTOR.services_by_name[name].methods:
            assert method.name in vars(servicer), f"{name}.{method.name} is not implemented"
