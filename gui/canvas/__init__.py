"""The canvas: the picture view, mask and strength-map painting, and their toolbars."""
