"""Sampling: schedulers under their A1111 names, per-step hooks (cancel, previews), previewers."""
