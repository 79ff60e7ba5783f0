"""Live mode (passes follow the canvas's edits) and candidates (N seeds to pick from)."""
