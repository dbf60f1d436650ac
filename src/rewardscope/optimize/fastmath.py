"""Vectorised normal-distribution functions for Optuna's TPE sampler, while a study runs.

Optuna (since it dropped its scipy dependency) evaluates the normal CDF and ``erf`` of
its truncated-normal Parzen estimators in pure Python, element by element
(``optuna.samplers._tpe._truncnorm._log_ndtr`` and ``_erf.erf``). For our studies,
where one trial of the objective costs a few milliseconds, that made TPE's own sampling
the largest cost of a 200-trial LoG* run (about 5 ms per trial). scipy computes the
same functions (``scipy.special.log_ndtr``, ``scipy.special.erf``) as compiled ufuncs;
:func:`vectorised_tpe_math` swaps them in for the duration of a study and restores
Optuna's own afterwards. Optuna's copies are ports of scipy's, so the values agree to
rounding (a test checks 1e-12 relative or 1e-15 absolute on a grid; where
they differ, in the right tail, scipy is the more accurate); if a future Optuna renames these private
functions, nothing is patched and Optuna simply runs at its own speed.

Nothing here is a new algorithm; it is a speed fix that belongs upstream, kept small and
reversible until it lands there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
from scipy import special

_LOCK = threading.Lock()


def _log_ndtr(a: np.ndarray) -> np.ndarray:
    return special.log_ndtr(np.asarray(a, dtype=float))


def _erf(x: np.ndarray) -> np.ndarray:
    return special.erf(np.asarray(x, dtype=float))


def _targets() -> list[tuple[object, str, object]]:
    """(module, attribute, replacement) triples that exist in the installed Optuna."""
    try:
        from optuna.samplers._tpe import _truncnorm
    except ImportError:  # pragma: no cover - other Optuna layouts
        return []
    wanted = [(_truncnorm, "_log_ndtr", _log_ndtr), (_truncnorm, "erf", _erf)]
    return [(mod, name, fn) for mod, name, fn in wanted if callable(getattr(mod, name, None))]


_ACTIVE = 0
_SAVED: list[tuple[object, str, object]] = []


@contextlib.contextmanager
def vectorised_tpe_math() -> Iterator[int]:
    """Use scipy's ufuncs inside Optuna's TPE sampler within the ``with`` block.

    Nested and concurrent blocks share one patch (reference-counted); Optuna's functions
    come back when the last block exits.

    Yields
    ------
    int
        How many of Optuna's functions are replaced (0 if this Optuna lacks them).

    Examples
    --------
    >>> with vectorised_tpe_math() as n:
    ...     n >= 0
    True
    """
    global _ACTIVE
    with _LOCK:
        if _ACTIVE == 0:
            targets = _targets()
            _SAVED[:] = [(mod, name, getattr(mod, name)) for mod, name, _ in targets]
            for mod, name, fn in targets:
                setattr(mod, name, fn)
        _ACTIVE += 1
        n = len(_SAVED)
    try:
        yield n
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0:
                for mod, name, original in _SAVED:
                    setattr(mod, name, original)
                _SAVED.clear()
