"""warmstep's domain library: pure (no I/O, no web, no queue imports), shared by every edge."""

__version__ = "0.1.0"
