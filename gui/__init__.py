"""The PySide6 front end, in the order data flows: canvas → params → run → history → window.

Imports go down only: ``window`` may import everything; ``run`` and ``history`` may import
``params``, ``canvas`` and the shared ``qt_helpers`` / ``qt_images``; those import no other part.
"""
