"""The model library: files read without loading them (detect), the curated catalog, the hub
downloads, and the registry of model folders scanned in place (A1111, ComfyUI). Imports no torch,
so the window may use it directly."""
