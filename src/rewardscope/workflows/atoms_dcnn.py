"""The DCNN as an atom-finding method of :func:`rewardscope.workflows.atoms.find_atoms`, and as an oracle.

As a workflow (:class:`DcnnWorkflow`, ``method="dcnn"``): ``prepare`` runs the network
once (the probability maps, all test-time views), ``run`` picks the peaks above a
threshold (milliseconds), and the atom rewards (QC, ER) score the result like any LoG*
trial; the finishing step, checks and result are :class:`~rewardscope.workflows.atoms.AtomWorkflow`'s.
The threshold is fixed (one evaluation); the workflow could tune it like LoG*'s parameters.

As an oracle (:func:`dcnn_oracle`, used by
:func:`~rewardscope.workflows.atoms.find_atoms_with_oracle`): the network's count replaces
the lattice's expected count in QC (as the LoG* paper's code did), and its positions give
LoG* an F1 without truth (:func:`f1_against_oracle`).

Over many files without a lattice: :func:`find_atoms_dcnn_files` (the ``atoms-dcnn``
command), batching frames of equal shape and calibration. This module loads without torch;
the network loads when it first runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.config import make_config
from rewardscope.detect.dcnn import DEFAULT_THRESHOLD
from rewardscope.optimize import SearchSpace
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent
from rewardscope.rewards.atoms import AtomReward, AtomRewardContext
from rewardscope.units import Length
from rewardscope.workflows.atoms_base import AtomsConfig, AtomWorkflow
from rewardscope.workflows.atoms_dcnn_config import DcnnFilesConfig  # noqa: F401  (re-exported)


class DcnnWorkflow(AtomWorkflow):
    """Network maps once (prepare), peaks per threshold (run), scored by the atom rewards.

    Parameters are those of :class:`~rewardscope.workflows.atoms.AtomWorkflow` plus the
    peak ``threshold`` (default :data:`~rewardscope.detect.dcnn.DEFAULT_THRESHOLD`); the
    test-time views are the config's ``ensemble``.

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> ctx = AtomRewardContext(n_expected=100, ideal_nn_sum_px=20.0)
    >>> wf = DcnnWorkflow(config=AtomsConfig(), context=ctx, crystal=get_lattice("ybco-100"), sigma_scale=1.0)
    >>> wf.search_space().tunable_names, wf.stage
    ([], 'DCNN peaks')
    """

    stage = "DCNN peaks"

    def __init__(self, *, config: AtomsConfig, context: AtomRewardContext, crystal: Any, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None = None, threshold: float | None = None) -> None:
        super().__init__(config=config, context=context, crystal=crystal, sigma_scale=sigma_scale, rewards=rewards)
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold

    def search_space(self) -> SearchSpace:
        """The peak threshold, fixed."""
        return SearchSpace.fixed_at({"threshold": self.threshold})

    def prepare(self, image: np.ndarray, *, progress: ProgressCallback = silent) -> Any:
        """Probability maps of all test-time views (the network's forward passes, reported to ``progress``)."""
        from rewardscope.detect.dcnn import dcnn_maps

        return dcnn_maps([image], pixel_size=self.context.pixel_size, ensemble=self.config.ensemble,
                         progress=progress)

    def run(self, state: Any, params: dict[str, Any]) -> pd.DataFrame:
        """Atoms above ``params["threshold"]``, input pixels."""
        return state.atoms(0, threshold=float(params["threshold"])).atoms


def dcnn_workflow(config: AtomsConfig, context: AtomRewardContext, *, crystal: Any, sigma_scale: float,
                  rewards: Mapping[str, AtomReward] | None = None) -> DcnnWorkflow:
    """``find_atoms(..., method="dcnn")``: the shipped network, scored by QC and ER."""
    return DcnnWorkflow(config=config, context=context, crystal=crystal, sigma_scale=sigma_scale, rewards=rewards)


def dcnn_oracle(image: np.ndarray, *, pixel_size: Any, ensemble: int = 1, progress: ProgressArg = None) -> pd.DataFrame:
    """Atoms found by the network (x, y, probability, ...), to serve as an oracle; heat-map progress to ``progress``."""
    from rewardscope.detect.dcnn import find_atoms_dcnn

    return find_atoms_dcnn(image, pixel_size=pixel_size, ensemble=ensemble, progress=progress).atoms


def f1_against_oracle(atoms: pd.DataFrame, oracle: pd.DataFrame, *, shape: tuple[int, int], crystal: Any,
                      pixel_size: Any) -> dict[str, float]:
    """F1, precision and recall of ``atoms`` taking the oracle's positions as truth.

    Matching is one-to-one within 0.3 x the smallest ideal column distance, with the
    2 px border rule of :func:`rewardscope.metrics.score_atoms`.

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> xy = pd.DataFrame({"x": [10.0, 20.0, 30.0], "y": [10.0, 10.0, 10.0]})
    >>> f1_against_oracle(xy.iloc[:2], xy, shape=(40, 40), crystal=get_lattice("srtio3-001"), pixel_size="0.35A")
    {'oracle_f1': 0.8, 'oracle_precision': 1.0, 'oracle_recall': 0.6666666666666666, 'oracle_count': 3}
    """
    from rewardscope.metrics import score_atoms

    m = score_atoms(atoms, oracle, shape=shape, crystal=crystal, pixel_size=pixel_size)
    return {"oracle_f1": m.f1, "oracle_precision": m.precision, "oracle_recall": m.recall,
            "oracle_count": int(len(oracle))}


def find_atoms_dcnn_files(paths: Sequence[str | Path], *, config: DcnnFilesConfig | None = None,
                          progress: ProgressArg = None, **overrides: Any) -> dict[str, pd.DataFrame]:
    """Run the DCNN over many files, batching images of equal shape and calibration.

    Parameters
    ----------
    paths : sequence of str or Path
        Images (any size; large ones are tiled) or stacks (every frame is analysed).
    config : DcnnFilesConfig, optional
        ``pixel_size`` (overrides the files' calibration), ``ensemble``, ``threshold``,
        ``device``, ``batch_size``; keyword ``overrides`` replace fields.
    progress : bool or callable, optional
        The heat map of every batch of images, as stage ``"DCNN heat map"`` (:mod:`rewardscope.progress`).

    Returns
    -------
    dict of str to pandas.DataFrame
        File path -> atoms (``frame``, ``x``, ``y``, ``probability``, ...; input pixels).

    Examples
    --------
    >>> import tempfile
    >>> from rewardscope.io import write_tiff
    >>> from rewardscope.simulate import simulate_haadf
    >>> path = Path(tempfile.mkdtemp()) / "sto.tif"
    >>> sim = simulate_haadf("srtio3-001", size=64, seed=0)
    >>> _ = write_tiff(path, sim.image, pixel_size=sim.pixel_size)
    >>> tables = find_atoms_dcnn_files([path], ensemble=2)
    >>> list(tables[str(path)].columns[:3]), len(tables[str(path)]) >= 0.95 * len(sim.truth)
    (['frame', 'x', 'y'], True)
    """
    cfg = make_config(DcnnFilesConfig, config, **overrides)
    groups = _frames_by_shape_and_calibration(paths, cfg.pixel_size)
    tables: dict[str, list[pd.DataFrame]] = defaultdict(list)
    with progress_scope(progress) as report:
        for (_, ps), items in groups.items():
            for start in range(0, len(items), cfg.batch_size):
                chunk = items[start:start + cfg.batch_size]
                for (path, frame, _), atoms in zip(chunk, _dcnn_batch([f for _, _, f in chunk], ps, cfg, report)):
                    tables[path].append(atoms.assign(frame=frame))
    return {p: pd.concat(tables[p], ignore_index=True)[["frame", *tables[p][0].columns.drop("frame")]]
            for p in dict.fromkeys(str(p) for p in paths)}


def _frames_by_shape_and_calibration(paths: Sequence[str | Path], pixel_size: Length | None
                                     ) -> dict[tuple, list[tuple[str, int, np.ndarray]]]:
    """(frame shape, pixel size in Å) -> [(path, frame index, frame)] over every frame of every file.

    Files are read whole with :func:`~rewardscope.io.read_image` (a stack gives all its
    frames, in the file's own dtype), so one batch holds frames of many files.
    """
    from rewardscope.io import read_image

    groups: dict[tuple, list[tuple[str, int, np.ndarray]]] = defaultdict(list)
    for path in paths:
        img = read_image(path, pixel_size=pixel_size)
        frames = img.data if img.is_stack else img.data[None]
        ps = img.pixel_size
        groups[(frames.shape[1:], None if ps is None else round(ps.angstrom, 9))] += [
            (str(path), k, f) for k, f in enumerate(frames)]
    return groups


def _dcnn_batch(frames: list[np.ndarray], pixel_size: float | None, cfg: DcnnFilesConfig,
                progress: ProgressCallback) -> list[pd.DataFrame]:
    """Atoms of equal-shape frames of one calibration (Å or None), in one batched call of the network."""
    from rewardscope.detect.dcnn import find_atoms_dcnn

    found = find_atoms_dcnn(frames, pixel_size=pixel_size, ensemble=cfg.ensemble, device=cfg.device,
                            threshold=cfg.threshold, batch_size=cfg.batch_size, progress=progress)
    return [f.atoms for f in found]


__all__ = ["DcnnFilesConfig", "DcnnWorkflow", "dcnn_oracle", "dcnn_workflow", "f1_against_oracle",
           "find_atoms_dcnn_files"]
