"""The compare view's difference page: an amplified heat map of |A − B| with a gain control, a
scale bar, an "only changes outside the mask" toggle, a "seam bands" overlay (the two bands the
seam measure compares, :mod:`core.imaging.seam`) and a readout of the figures
(:mod:`core.imaging.difference`)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsPixmapItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.imaging.difference import (
    MAX_GAIN,
    DifferenceStats,
    difference_stats,
    heat_map_array,
    scale_bar,
)
from core.imaging.seam import seam_band_map, seam_figures
from gui.qt_helpers import named, plain
from gui.qt_images import array_to_qimage, pil_to_qimage

GAINS = tuple(2**i for i in range(MAX_GAIN.bit_length()))  # 1, 2, 4 … 32
DEFAULT_GAIN = 4
SEAM_COLOURS = np.array([[0, 0, 0], [0, 200, 255], [255, 220, 0]], np.float32)  # in, out bands


def readout_text(
    stats: DifferenceStats, has_mask: bool, seam: dict[str, float] | None = None
) -> str:
    """The figures of a comparison in one or two lines."""
    total = stats.width * stats.height
    share = stats.changed_pixels / total if total else 0.0
    line = f"Changed: {stats.changed_pixels} px ({share:.2%})"
    if has_mask:
        line += (
            f" · inside the mask {stats.changed_inside_mask}"
            f" · outside {stats.changed_outside_mask}"
            f" ({stats.changed_outside_mask_fraction:.2%} of it)"
        )
    text = (
        f"{line}\nmean |Δ| {stats.mean_change:.2f} · max {stats.max_change}"
        f" · mean ΔE {stats.delta_e:.2f}"
    )
    if seam:
        text += (
            f"\nseam ΔE {seam['seam_delta_e']:.2f} across the mask's edge"
            f" (the left picture's own step there: {seam['seam_delta_e_original']:.2f})"
        )
    return text


def with_seam_bands(heat: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """``heat`` with the seam measure's bands tinted (inside cyan, outside yellow)."""
    out = heat.astype(np.float32)
    on = bands > 0
    out[on] = 0.35 * out[on] + 0.65 * SEAM_COLOURS[bands[on]]
    return np.rint(out).astype(np.uint8)


class DifferencePage(QWidget):
    """Shows the heat map in ``view``'s pixmap ``item``; ``right`` is already at ``left``'s size."""

    gain_changed = Signal(int)

    def __init__(
        self,
        left: Image.Image,
        right: Image.Image,
        item: QGraphicsPixmapItem,
        view: QWidget,
        title: str,
        mask: Image.Image | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._left, self._right, self._item, self._mask = left, right, item, mask
        self._title_text = title
        self.stats = difference_stats(left, right, mask)
        used = (
            None if mask is None else mask.convert("L").resize(left.size, Image.Resampling.NEAREST)
        )
        self.seam = seam_figures(left.convert("RGB"), right.convert("RGB"), used) if used else {}
        self._bands = seam_band_map(used) if self.seam and used is not None else None

        self.title = plain(
            named(QLabel(alignment=Qt.AlignmentFlag.AlignCenter), "compareDifferenceTitle")
        )
        self.gain_combo = named(QComboBox(), "differenceGain")
        for gain in GAINS:
            self.gain_combo.addItem(f"×{gain}", gain)
        self.gain_combo.setCurrentIndex(GAINS.index(DEFAULT_GAIN))
        self.gain_combo.setToolTip("Amplify the difference: ×32 shows a change of 8 as full scale")
        self.outside_check = named(QCheckBox("Only changes outside the mask"), "differenceOutside")
        self.outside_check.setEnabled(mask is not None)
        self.outside_check.setToolTip(
            "Hide the changes inside the later pass's mask"
            if mask is not None
            else "The later pass used no mask"
        )
        self.seam_check = named(QCheckBox("Seam bands"), "differenceSeam")
        self.seam_check.setEnabled(self._bands is not None)
        self.seam_check.setToolTip(
            "Show the bands the seam figure compares: just inside the mask's edge (cyan) and "
            "just outside it (yellow)"
            if self._bands is not None
            else "The later pass used no mask with an edge"
        )
        self.scale_label = named(QLabel(), "differenceScale")
        self.readout = named(
            QLabel(readout_text(self.stats, mask is not None, self.seam)), "differenceReadout"
        )
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Gain:"))
        controls.addWidget(self.gain_combo)
        controls.addWidget(self.outside_check)
        controls.addWidget(self.seam_check)
        controls.addStretch(1)
        controls.addWidget(self.scale_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(view, 1)
        layout.addLayout(controls)
        layout.addWidget(self.readout)

        self.gain_combo.currentIndexChanged.connect(self._refresh)
        self.outside_check.toggled.connect(self._refresh)
        self.seam_check.toggled.connect(self._refresh)
        self._refresh()

    def gain(self) -> int:
        return int(self.gain_combo.currentData())

    def set_gain(self, gain: int) -> None:
        """One of :data:`GAINS` (ValueError otherwise)."""
        self.gain_combo.setCurrentIndex(GAINS.index(gain))

    def outside_only(self) -> bool:
        return self.outside_check.isChecked()

    def set_outside_only(self, on: bool) -> None:
        """Show only the changes outside the mask (ignored without a mask)."""
        self.outside_check.setChecked(on and self._mask is not None)

    def _refresh(self) -> None:
        gain, outside = self.gain(), self.outside_only()
        heat = heat_map_array(self._left, self._right, gain, self._mask, outside)
        if self._bands is not None and self.seam_check.isChecked():
            heat = with_seam_bands(heat, self._bands)
        self._item.setPixmap(QPixmap.fromImage(array_to_qimage(heat)))
        self.scale_label.setPixmap(QPixmap.fromImage(pil_to_qimage(scale_bar(220, gain))))
        where = " (outside the mask only)" if outside else ""
        self.title.setText(f"{self._title_text} × {gain}{where}")
        self.gain_changed.emit(gain)
