"""The DCNN as an atom-finding method of :func:`rewardscope.workflows.atoms.find_atoms`, and as an oracle.

As a workflow: ``prepare`` runs the network once (the probability maps, all test-time
views), ``run`` picks the peaks above a threshold (milliseconds), and the atom rewards
(QC, ER) score the result like any LoG* trial. By default the threshold is fixed (one
evaluation); the workflow could tune it like LoG*'s parameters.

As an oracle (:func:`dcnn_oracle`): the network's count replaces the lattice's expected
count in QC (as the LoG* paper's code did), and its positions give LoG* an F1 without
truth (:func:`f1_against_oracle`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rewardscope.optimize import SearchSpace
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent
from rewardscope.rewards.atoms import ATOM_REWARDS
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.base import Workflow, optimize



class DcnnWorkflow(Workflow):
    """Network maps once (prepare), peaks per threshold (run), scored by the atom rewards."""

    def __init__(self, *, context: Any, pixel_size: Any, ensemble: int = 1, threshold: float | None = None,
                 rewards: Any = None) -> None:
        super().__init__(rewards=dict(rewards or ATOM_REWARDS), context=context,
                         reference_point=[1.0] * len(rewards or ATOM_REWARDS))
        from rewardscope.detect.dcnn import DEFAULT_THRESHOLD

        self.pixel_size = pixel_size
        self.ensemble = ensemble
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold

    def search_space(self) -> SearchSpace:
        """The peak threshold, fixed."""
        return SearchSpace.fixed_at({"threshold": self.threshold})

    def prepare(self, image: np.ndarray, *, progress: ProgressCallback = silent) -> Any:
        """Probability maps of all test-time views (the network's forward passes, reported to ``progress``)."""
        from rewardscope.detect.dcnn import dcnn_maps

        return dcnn_maps([image], pixel_size=self.pixel_size, ensemble=self.ensemble, progress=progress)

    def run(self, state: Any, params: dict[str, Any]) -> pd.DataFrame:
        """Atoms above ``params["threshold"]``, input pixels."""
        return state.atoms(0, threshold=float(params["threshold"])).atoms

    def describe(self, output: pd.DataFrame) -> dict[str, float]:
        """Record the number of atoms."""
        return {"n_atoms": float(len(output))}


def dcnn_method(image: np.ndarray, config: Any, context: Any, options: Any) -> Any:
    """``find_atoms(..., method="dcnn")``: the shipped network, scored by QC and ER."""
    from rewardscope.workflows.atoms import MethodOutput

    wf = DcnnWorkflow(context=context, pixel_size=context.pixel_size, ensemble=int(getattr(config, "ensemble", 1)),
                      rewards=options.rewards)
    out = optimize(wf, image, StudySettings(trials=1, seed=config.seed, selection=config.select), progress=options.progress,
                   stage="DCNN peaks")
    return MethodOutput(atoms=out.output, study=out.study, seconds=out.seconds)


def dcnn_oracle(image: np.ndarray, *, pixel_size: Any, ensemble: int = 1, progress: ProgressArg = None) -> pd.DataFrame:
    """Atoms found by the network (x, y, probability, ...), to serve as an oracle; heat-map progress to ``progress``."""
    from rewardscope.detect.dcnn import find_atoms_dcnn

    return find_atoms_dcnn(image, pixel_size=pixel_size, ensemble=ensemble, progress=progress).atoms


def f1_against_oracle(atoms: pd.DataFrame, oracle: pd.DataFrame, *, shape: tuple[int, int], crystal: Any,
                      pixel_size: Any) -> dict[str, float]:
    """F1, precision and recall of ``atoms`` taking the oracle's positions as truth.

    Matching is one-to-one within 0.3 x the smallest ideal column distance, with the
    2 px border rule of :func:`rewardscope.metrics.score_atoms`.
    """
    from rewardscope.metrics import score_atoms

    m = score_atoms(atoms, oracle, shape=shape, crystal=crystal, pixel_size=pixel_size)
    return {"oracle_f1": m.f1, "oracle_precision": m.precision, "oracle_recall": m.recall,
            "oracle_count": int(len(oracle))}


def find_atoms_with_oracle(image: Any, *, oracle: str = "dcnn", ensemble: int = 1, **kwargs: Any) -> Any:
    """:func:`~rewardscope.workflows.atoms.find_atoms` with the DCNN's count as ``n_expected``.

    Parameters
    ----------
    image : numpy.ndarray, ImageData or path
        As for ``find_atoms``.
    oracle : str
        Only ``"dcnn"``.
    ensemble : int
        Test-time views of the oracle network.
    **kwargs
        Passed on to ``find_atoms`` (``lattice``, ``pixel_size``, ``trials``, ``progress``, ...);
        the oracle's heat map reports to the same ``progress``.

    Returns
    -------
    AtomsResult
        With table ``oracle_atoms`` and, in ``summary``, ``oracle``, ``oracle_count``,
        ``oracle_f1``, ``oracle_precision``, ``oracle_recall`` (LoG* scored against the
        network's positions).

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=0)
    >>> res = find_atoms_with_oracle(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=20)
    >>> res.summary["n_expected"] == res.summary["oracle_count"]
    True
    """
    from rewardscope.config import make_config
    from rewardscope.errors import ParameterError
    from rewardscope.workflows.atoms import AtomsConfig, _resolve_image, find_atoms

    if oracle != "dcnn":
        raise ParameterError(f"unknown oracle {oracle!r}; the only oracle is dcnn")
    if kwargs.pop("n_expected", None) is not None:
        raise ParameterError("give either an oracle or n_expected, not both")
    given = kwargs.get("pixel_size")
    cfg = make_config(AtomsConfig, pixel_size=given if given is None or isinstance(given, str)
                      else given.text)
    arr, ps = _resolve_image(image, cfg)
    with progress_scope(kwargs.pop("progress", False)) as report:
        atoms = dcnn_oracle(arr, pixel_size=ps, ensemble=ensemble, progress=report)
        if len(atoms) == 0:
            raise ParameterError("the DCNN oracle found no atoms; it cannot set the expected count")
        kwargs["pixel_size"] = kwargs.get("pixel_size") or ps
        res = find_atoms(arr, n_expected=float(len(atoms)), ensemble=ensemble, progress=report, **kwargs)
    res.summary.update({"oracle": oracle, "oracle_ensemble": ensemble,
                        **f1_against_oracle(res.atoms, atoms, shape=arr.shape, crystal=res.extras["crystal"],
                                            pixel_size=ps)})
    res.tables["oracle_atoms"] = atoms
    return res


def find_atoms_dcnn_files(paths: list[Any], *, pixel_size: str | None = None, ensemble: int = 1,
                          threshold: float | None = None, device: str = "cpu", batch_size: int = 16,
                          progress: ProgressArg = None) -> dict[str, pd.DataFrame]:
    """Run the DCNN over many files, batching images of equal shape and calibration.

    Parameters
    ----------
    paths : list of str or Path
        Images (any size; large ones are tiled) or stacks (every frame is analysed).
    pixel_size : str, optional
        Overrides the files' calibration, e.g. ``"0.35A"``.
    ensemble, threshold, device, batch_size
        As for :func:`rewardscope.detect.dcnn.find_atoms_dcnn`.
    progress : bool or callable, optional
        The heat map of every batch of images, as stage ``"DCNN heat map"`` (:mod:`rewardscope.progress`).

    Returns
    -------
    dict of str to pandas.DataFrame
        File path -> atoms (``frame``, ``x``, ``y``, ``probability``, ...; input pixels).
    """
    from collections import defaultdict

    from rewardscope.detect.dcnn import DEFAULT_THRESHOLD, check_batch_size, find_atoms_dcnn
    from rewardscope.io import read_image

    check_batch_size(batch_size)

    groups: dict[tuple, list[tuple[str, int, np.ndarray]]] = defaultdict(list)
    for path in paths:
        img = read_image(path, pixel_size=pixel_size)
        frames = img.data if img.is_stack else img.data[None]
        ps = img.pixel_size
        key = (frames.shape[1:], None if ps is None else round(ps.angstrom, 9))
        groups[key] += [(str(path), k, f) for k, f in enumerate(frames)]
    tables: dict[str, list[pd.DataFrame]] = defaultdict(list)
    with progress_scope(progress) as report:
        for (_, ps), items in groups.items():
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                found = find_atoms_dcnn([f for _, _, f in chunk], pixel_size=ps, ensemble=ensemble, device=device,
                                        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                                        batch_size=batch_size, progress=report)
                for (path, frame, _), f in zip(chunk, found):
                    tables[path].append(f.atoms.assign(frame=frame))
    order = [str(p) for p in paths]
    return {p: pd.concat(tables[p], ignore_index=True)[["frame", *tables[p][0].columns.drop("frame")]]
            for p in dict.fromkeys(order)}
