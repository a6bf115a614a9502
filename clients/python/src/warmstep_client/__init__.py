"""Python client for warmstep.

``warmstep_client.v1`` holds the gRPC code generated from ``protos/warmstep/v1`` (never edited by
hand; ``make generate`` rebuilds it). :class:`WarmstepClient` is a thin REST client on top that
returns numpy arrays for curves and follows jobs with automatic resume.
"""

from warmstep_client.rest import Curve, WarmstepClient, WarmstepError

__all__ = ["Curve", "WarmstepClient", "WarmstepError"]
