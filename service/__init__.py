"""warmstep's front end: REST (FastAPI) and gRPC (grpc.aio) in one process and one event loop."""
