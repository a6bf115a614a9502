"""Generated from protos/warmstep/v1 by `make generate`."""
