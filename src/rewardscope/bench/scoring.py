"""The row of scores a benchmark records per image: one call of :func:`rewardscope.metrics.score_atoms`."""

from __future__ import annotations

from typing import Any

from rewardscope.metrics import score_atoms

#: LoG parameters a benchmark records for LoG*'s chosen point.
LOG_PARAMS = ("min_sigma", "max_sigma", "num_sigma", "threshold", "overlap")


def score(predicted: Any, sim: Any) -> dict[str, float]:
    """F1, precision, recall, RMSE and counts of detections against a simulation's truth.

    Parameters
    ----------
    predicted : numpy.ndarray (n, 2) or DataFrame with x, y columns
        Detections, (x, y) pixels.
    sim : simulation
        :func:`rewardscope.simulate.simulate_haadf`'s result (or anything with ``image``,
        ``positions``, ``crystal`` and ``pixel_size``): the truth and the matching rule's
        radius (0.3 x the smallest ideal column distance, 2 px border ignored).

    Returns
    -------
    dict
        ``f1``, ``precision``, ``recall``, ``rmse_px`` (pixels), ``tp``, ``fp``, ``fn``.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("srtio3-001", size=64, pixel_size="0.35A", noise=0.0, seed=0)
    >>> row = score(sim.positions, sim)
    >>> row["f1"], row["fp"], row["rmse_px"]
    (1.0, 0, 0.0)
    """
    m = score_atoms(predicted, sim)
    return {"f1": m.f1, "precision": m.precision, "recall": m.recall, "rmse_px": m.rmse_px,
            "tp": m.tp, "fp": m.fp, "fn": m.fn}
