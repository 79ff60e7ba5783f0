"""The pass history: the history panel, the compare view and the sweep contact sheet."""
