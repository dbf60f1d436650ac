"""Small helpers shared by the figure modules."""

from __future__ import annotations

from typing import Any


def pin_to_image(ax: Any, shape: tuple[int, ...]) -> None:
    """Limit ``ax`` to the image extent (scatter points just outside the frame must not widen it)."""
    rows, cols = shape[-2], shape[-1]
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
