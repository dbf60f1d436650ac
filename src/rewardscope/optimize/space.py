"""Search spaces: named float, integer and categorical parameters with bounds.

A :class:`SearchSpace` is the optimizer-independent description of what a workflow may
tune. It asks an Optuna trial for one value per parameter, checks and clips user-supplied
parameter sets (warm starts), and can rescale length-like bounds. We keep our own small
classes instead of passing Optuna distributions around so that workflows, the CLI and
the result tables never depend on Optuna's types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rewardscope.errors import ParameterError


@dataclass(frozen=True)
class _RangeParam:
    """Shared checks of a numeric parameter with inclusive bounds."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not float(self.low) <= float(self.high):
            raise ParameterError(f"parameter {self.name!r}: low ({self.low}) must not exceed high ({self.high})")
        if self.log and self.low <= 0:
            raise ParameterError(f"parameter {self.name!r}: a log-scale range needs low > 0, got {self.low}")

    @property
    def fixed(self) -> bool:
        """True when the range is a single value."""
        return self.low == self.high


@dataclass(frozen=True)
class FloatParam(_RangeParam):
    """A real parameter in ``[low, high]``.

    Parameters
    ----------
    name : str
        Parameter name (a column of the trials table).
    low, high : float
        Inclusive bounds, ``low <= high``; ``low == high`` fixes the parameter (the
        optimizer does not see it).
    log : bool
        Sample on a log scale (requires ``low > 0``).

    Examples
    --------
    >>> FloatParam("threshold", 0.01, 0.4).clip(0.9)
    0.4
    """

    def suggest(self, trial: Any) -> float:
        """Ask an Optuna trial for a value (a fixed parameter is not asked)."""
        if self.fixed:
            return float(self.low)
        return float(trial.suggest_float(self.name, self.low, self.high, log=self.log))

    def clip(self, value: Any) -> float:
        """Return ``value`` as a float inside the bounds."""
        return float(min(max(float(value), self.low), self.high))


@dataclass(frozen=True)
class IntParam(_RangeParam):
    """An integer parameter in ``[low, high]`` (inclusive; ``low == high`` fixes it).

    Examples
    --------
    >>> IntParam("num_sigma", 2, 20).clip(3.6)
    4
    """

    def suggest(self, trial: Any) -> int:
        """Ask an Optuna trial for a value (a fixed parameter is not asked)."""
        if self.fixed:
            return int(self.low)
        return int(trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log))

    def clip(self, value: Any) -> int:
        """Return ``value`` rounded to an integer inside the bounds."""
        return int(min(max(round(float(value)), self.low), self.high))


@dataclass(frozen=True)
class CategoricalParam:
    """A parameter taking one of a few values (str, int, float, bool or None).

    Examples
    --------
    >>> CategoricalParam("cov", ("full", "tied")).clip("tied")
    'tied'
    """

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise ParameterError(f"parameter {self.name!r}: needs at least one choice")

    @property
    def fixed(self) -> bool:
        """True when there is a single choice."""
        return len(self.choices) == 1

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for a value (a fixed parameter is not asked)."""
        if self.fixed:
            return self.choices[0]
        return trial.suggest_categorical(self.name, self.choices)

    def clip(self, value: Any) -> Any:
        """Return ``value`` if it is one of the choices, else raise ParameterError."""
        if value not in self.choices:
            raise ParameterError(f"parameter {self.name!r}: {value!r} is not one of {list(self.choices)}")
        return value


Param = FloatParam | IntParam | CategoricalParam


class SearchSpace:
    """An ordered set of parameters to tune.

    Parameters
    ----------
    params : iterable of FloatParam, IntParam or CategoricalParam
        Names must be unique.

    Examples
    --------
    >>> space = SearchSpace([FloatParam("threshold", 0.01, 0.4), IntParam("num_sigma", 2, 20)])
    >>> space.names
    ['threshold', 'num_sigma']
    >>> space.clip({"threshold": 1.0, "num_sigma": 5, "other": 1})
    {'threshold': 0.4, 'num_sigma': 5}
    """

    def __init__(self, params: Iterable[Param]) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        if not self.params:
            raise ParameterError("a search space needs at least one parameter")
        names = [p.name for p in self.params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ParameterError(f"duplicate parameter names in search space: {dupes}")

    @property
    def names(self) -> list[str]:
        """Parameter names, in order."""
        return [p.name for p in self.params]

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r})"

    @property
    def tunable_names(self) -> list[str]:
        """Names of the parameters that are not fixed."""
        return [p.name for p in self.params if not p.fixed]

    @classmethod
    def fixed_at(cls, params: Mapping[str, Any]) -> SearchSpace:
        """A space where every parameter is fixed at the given value (ints stay ints).

        Examples
        --------
        >>> SearchSpace.fixed_at({"a": 1.5, "n": 3}).tunable_names
        []
        """
        def one(name: str, value: Any) -> Param:
            if isinstance(value, (bool, str)) or value is None:
                return CategoricalParam(name, (value,))
            if isinstance(value, (int, np.integer)):
                return IntParam(name, int(value), int(value))
            return FloatParam(name, float(value), float(value))

        return cls([one(k, v) for k, v in params.items()])

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna trial for one value of every parameter."""
        return {p.name: p.suggest(trial) for p in self.params}

    def clip(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the known parameters of ``params``, clipped into their bounds.

        Raises
        ------
        ParameterError
            If a parameter of the space is missing or a categorical value is unknown.
        """
        missing = [n for n in self.names if n not in params]
        if missing:
            raise ParameterError(f"parameter set {dict(params)} lacks {missing}")
        return {p.name: p.clip(params[p.name]) for p in self.params}

    def replace(self, name: str, **changes: Any) -> SearchSpace:
        """Return a copy with parameter ``name`` changed (e.g. new ``low``/``high``)."""
        if name not in self.names:
            raise ParameterError(f"no parameter {name!r} in search space {self.names}")
        return SearchSpace([replace(p, **changes) if p.name == name else p for p in self.params])
