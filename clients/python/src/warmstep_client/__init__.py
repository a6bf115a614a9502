"""Python client for warmstep.

``warmstep_client.v1`` holds the gRPC code generated from ``protos/warmstep/v1`` (never edited by
hand; ``make generate`` rebuilds it). The thin clients on top return numpy arrays.
"""

__all__: list[str] = []
