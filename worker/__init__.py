"""warmstep's worker: consumes the dispatch stream and runs training jobs (torch)."""
