"""The settings of sliding windows, :class:`WindowConfig`, in a light module (pydantic and units only).

The single source of defaults of ``window=`` in the API and of ``--window`` / ``--overlap`` /
``--scheduler`` / ``--workers``; the command line imports it without the window machinery
(:mod:`rewardscope.workflows.windows`, which re-exports both names).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardscope.parallel import ParallelConfig
from rewardscope.units import LengthOrPixels, Pixels


class WindowConfig(BaseModel):
    """Settings of the sliding window (defaults shared by the API and ``--window``/``--overlap``/``--scheduler``).

    Examples
    --------
    >>> from rewardscope.config import make_config
    >>> cfg = make_config(WindowConfig, window="10nm", overlap="64px")
    >>> cfg.window.nm, cfg.overlap.value, cfg.parallel.scheduler
    (10.0, 64.0, 'local')
    """

    model_config = ConfigDict(extra="forbid")

    window: LengthOrPixels = Field(Pixels(512.0), description="Side of a sliding window: px (512px) or a length "
                                   "(10nm); at least 4 unit cells.")
    overlap: LengthOrPixels = Field(Pixels(64.0), description="Overlap of neighbouring windows: px or a length; "
                                    "below the window side.")
    min_columns: int = Field(16, ge=1, description="A window whose chosen point has fewer columns (or a count "
                             "reward above 0.5, or detections that do not form the lattice) borrows its nearest "
                             "good neighbour's parameters.")
    parallel: ParallelConfig = Field(default_factory=ParallelConfig, description="Where the windows run.")

    @model_validator(mode="before")
    @classmethod
    def _route_parallel(cls, data: Any) -> Any:
        """``scheduler=`` and ``workers=`` given at the top level go into ``parallel``."""
        if isinstance(data, dict) and ({"scheduler", "workers"} & set(data)):
            data = dict(data)
            par = data.get("parallel") or {}
            par = par.model_dump() if isinstance(par, BaseModel) else dict(par)
            for key in ("scheduler", "workers"):
                if key in data:
                    value = data.pop(key)
                    if value is not None or key == "workers":
                        par[key] = value
            data["parallel"] = par
        return data


def window_config(base: WindowConfig | None = None, *, window: Any = None, overlap: Any = None,
                  scheduler: str | None = None, workers: int | None = None) -> WindowConfig:
    """A :class:`WindowConfig` from ``base`` (or defaults) and the given values (numbers are px).

    ``window`` may itself be a :class:`WindowConfig` (then it is the base).

    Examples
    --------
    >>> window_config(window=256, overlap="2nm", scheduler="serial").model_dump(mode="json")["window"]
    '256px'
    """
    from rewardscope.config import make_config

    if isinstance(window, WindowConfig):
        base, window = window, None

    def px(value: Any) -> Any:
        return Pixels(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    overrides: dict[str, Any] = {}
    for key, value in (("window", px(window)), ("overlap", px(overlap)), ("scheduler", scheduler),
                       ("workers", workers)):
        if value is not None:
            overrides[key] = value
    return make_config(WindowConfig, base, **overrides)


__all__ = ["WindowConfig", "window_config"]
