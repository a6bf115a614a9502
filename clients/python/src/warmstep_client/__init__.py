"""Python client for warmstep.

``warmstep_client.v1`` holds the gRPC code generated from ``protos/warmstep/v1`` (never edited by
hand; ``make generate`` rebuilds it). :class:`WarmstepClient` (REST) and
:class:`WarmstepGrpcClient` are thin clients on top that return numpy arrays for curves and
follow jobs with automatic resume.
"""

from warmstep_client.grpc_client import WarmstepGrpcClient
from warmstep_client.rest import Curve, WarmstepClient, WarmstepError

__all__ = ["Curve", "WarmstepClient", "WarmstepError", "WarmstepGrpcClient"]
