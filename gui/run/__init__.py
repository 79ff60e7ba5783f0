"""Running passes: the worker thread, workflow jobs, and filing results in the pass tree."""
