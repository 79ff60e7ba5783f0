"""Running work beyond one process: batch folders on a Ray cluster (``ray_batch``).

The only part of ``core`` that imports Ray (an optional extra: ``pip install .[ray]``), and only
when a ``--ray`` run starts.
"""
