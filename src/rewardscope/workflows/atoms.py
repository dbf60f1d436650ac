"""Reward-driven atom finding: the one call :func:`find_atoms` and the registry of methods.

:func:`find_atoms` takes an image, a lattice (preset, CIF + zone axis, or a
:class:`~rewardscope.physics.ProjectedCrystal`) and a pixel size, loads the image
(:func:`~rewardscope.io.load_input`), builds the physics prior (expected column count,
ideal 4-NN distance sum), makes the method's workflow and runs it through
:func:`~rewardscope.workflows.base.run_workflow`. :func:`find_atoms_with_oracle` first
counts the columns with the DCNN and uses that count as the expected one.

Methods are workflow factories in one registry (:func:`register_atom_method`):
``factory(config, context, *, crystal, sigma_scale, rewards) -> Workflow``.

==============  ================================================================  ==========================================
method          what                                                              workflow
==============  ================================================================  ==========================================
``log-star``    LoG, its five parameters tuned against QC and ER (the default)    :mod:`~rewardscope.workflows.atoms_log`
``log``         LoG once at the config's fixed ``log_params``                     :mod:`~rewardscope.workflows.atoms_log`
``dcnn``        the shipped network's peaks, scored by QC and ER                  :mod:`~rewardscope.workflows.atoms_dcnn`
==============  ================================================================  ==========================================

Every method is an :class:`~rewardscope.workflows.atoms_base.AtomWorkflow` and shares its
input checks, finishing step (Gaussian refinement or, with ``lattice_prior=True``, the
lattice prior; centres kept inside the image; plausibility checks, warned or with
``strict=True`` raised) and result (:class:`AtomsResult`). :class:`AtomsConfig` is the
single source of defaults for this API and the ``rewardscope atoms`` command.

Modules below this one import nothing from it: ``atoms_base`` <- ``atoms_log``,
``atoms_dcnn`` <- ``atoms`` (no import cycle, not even inside functions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.io.load import load_input
from rewardscope.progress import ProgressArg, progress_scope
from rewardscope.rewards.atoms import AtomReward, AtomRewardContext
from rewardscope.units import Length
from rewardscope.workflows.atoms_base import AtomsConfig, AtomsResult
from rewardscope.workflows.atoms_dcnn import dcnn_oracle, dcnn_workflow, f1_against_oracle
from rewardscope.workflows.atoms_log import log_star_workflow, log_workflow
from rewardscope.workflows.base import Workflow, run_workflow

# ---------------------------------------------------------------------------------------
# methods: workflow factories in one registry


class AtomMethod(Protocol):
    """A workflow factory: ``factory(config, context, *, crystal, sigma_scale, rewards) -> AtomWorkflow``."""

    def __call__(self, config: AtomsConfig, context: AtomRewardContext, *, crystal: Any, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None) -> Workflow: ...


_METHODS: dict[str, AtomMethod] = {}


def register_atom_method(name: str, factory: AtomMethod) -> None:
    """Make a workflow factory available as ``find_atoms(..., method=name)`` and ``--method name``.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"dcnn"``.
    factory : callable
        ``factory(config, context, *, crystal, sigma_scale, rewards) -> Workflow``, usually an
        :class:`AtomWorkflow` (its output: a table of atoms with ``x``, ``y`` in px).

    Examples
    --------
    >>> register_atom_method("log-coarse", lambda config, context, **kw: log_workflow(config, context, **kw))
    >>> "log-coarse" in atom_methods()
    True
    >>> _METHODS.pop("log-coarse") is not None
    True
    """
    _METHODS[name] = factory


def atom_methods() -> list[str]:
    """Names of the registered atom-finding methods."""
    return list(_METHODS)


def atom_method(name: str) -> AtomMethod:
    """The factory registered as ``name``; a :class:`ParameterError` naming the others if none is."""
    if name not in _METHODS:
        raise ParameterError(f"unknown method {name!r}; use one of {', '.join(_METHODS)}")
    return _METHODS[name]


register_atom_method("log-star", log_star_workflow)
register_atom_method("log", log_workflow)
register_atom_method("dcnn", dcnn_workflow)


# ---------------------------------------------------------------------------------------
# inputs and the calls


def atoms_config(config: AtomsConfig | None = None, *, lattice: Any = None, pixel_size: str | Length | None = None,
                 **overrides: Any) -> AtomsConfig:
    """The config of one call: ``config`` (or defaults) with a lattice name, pixel size and overrides.

    Examples
    --------
    >>> atoms_config(lattice="srtio3-001", pixel_size="0.35A", trials=9, selection="chebyshev").study.selection
    'chebyshev'
    """
    if isinstance(lattice, str):
        overrides["lattice"] = lattice
    if pixel_size is not None:
        overrides["pixel_size"] = pixel_size
    return make_config(AtomsConfig, config, **overrides)


def resolve_crystal(config: AtomsConfig, lattice: Any = None) -> Any:
    """The projected crystal from ``lattice`` (object or name) or the config's lattice / CIF."""
    from rewardscope.physics import ProjectedCrystal, from_cif, get_lattice

    if isinstance(lattice, ProjectedCrystal):
        return lattice
    if config.lattice and config.cif:
        raise ParameterError("give either a lattice name or a CIF file, not both")
    if config.lattice:
        return get_lattice(config.lattice)
    if config.cif:
        if config.zone is None:
            raise ParameterError("a CIF file needs a zone axis: --zone U V W")
        return from_cif(config.cif, zone=config.zone)  # a missing file is a FileFormatError
    raise ParameterError("atom finding needs a lattice: pass --lattice NAME (e.g. ybco-100) "
                         "or --cif FILE --zone U V W")


def find_atoms(image: Any, *, config: AtomsConfig | None = None, lattice: Any = None,
               pixel_size: str | Length | None = None, rewards: Mapping[str, AtomReward] | None = None,
               warm_start: Sequence[Mapping[str, Any]] | pd.DataFrame | AtomsResult | None = None,
               progress: ProgressArg = False, window: Any = None, overlap: Any = None, scheduler: Any = None,
               workers: int | None = None, **overrides: Any) -> AtomsResult:
    """Find atomic columns in a HAADF-STEM image without labels.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), ImageData, Input, HyperSpy-like signal, or path
        The image (bright columns); anything :func:`rewardscope.io.load_input` takes.
    config : AtomsConfig, optional
        All settings; keyword ``overrides`` (e.g. ``trials=100, sampler="nsga2"``) replace fields.
    lattice : str or ProjectedCrystal, optional
        Preset name or crystal (overrides ``config.lattice`` / ``config.cif``).
    pixel_size : str or Length, optional
        E.g. ``"0.35A"`` (default: the config's, then the file's).
    rewards : mapping of str to callable, optional
        ``name -> reward(atoms, context)``, all minimised; default ``{"qc": ..., "er": ...}``.
    warm_start : list of dict, DataFrame of parameters, or AtomsResult, optional
        Parameter sets tried first, e.g. the Pareto set of the previous frame or tile.
    progress : bool or callable
        ``True``: progress of every stage (scale space, trials, refinement, lattice
        prior) on stderr, as bars on a terminal and log lines elsewhere; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).
    window : str, Length or Pixels, optional
        Sliding windows of this side (``"512px"``, ``"10nm"``): one study per window,
        warm-started from its neighbours, stitched (:mod:`rewardscope.workflows.windows`);
        ``overlap`` (default ``"64px"``), ``scheduler`` (``"local"``, ``"serial"``,
        ``"tcp://HOST:PORT"`` or a ``distributed.Client``) and ``workers`` go with it.

    Returns
    -------
    AtomsResult
        ``summary["best_values"]`` holds the rewards at the chosen point,
        ``summary["warnings"]`` the plausibility warnings given; with ``window`` also the
        table ``windows`` (parameters and rewards per window).

    Raises
    ------
    CalibrationError
        No pixel size.
    ParameterError
        No lattice, bad settings, or nothing found.
    PlausibilityError
        With ``strict=True``: an implausible pixel size (before any work) or result.

    Warns
    -----
    PlausibilityWarning
        Without ``strict``, for each implausible input or result.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("srtio3-001", size=96, noise=0.1, seed=0)
    >>> res = find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=30)
    >>> abs(len(res.atoms) - len(sim.truth)) < 10, res.summary["objectives"]
    (True, ['qc', 'er'])
    """
    cfg = atoms_config(config, lattice=lattice, pixel_size=pixel_size, **overrides)
    crystal = resolve_crystal(cfg, None if isinstance(lattice, str) else lattice)
    inp = load_input(image, cfg.pixel_size)
    if window is not None:
        from rewardscope.workflows.windows import sliding_atoms, window_config

        inp.require_pixel_size("atom finding")
        windows = window_config(window=window, overlap=overlap, scheduler=scheduler, workers=workers)
        return sliding_atoms(inp, cfg, crystal=crystal, factory=atom_method(cfg.method), windows=windows,
                             rewards=rewards, progress=progress,
                             engine=None if isinstance(scheduler, str) or scheduler is None else _client_engine(scheduler))
    wf = _workflow(inp, cfg, crystal, rewards)
    warm = _warm_start_sets(warm_start, [p.name for p in wf.search_space().params])
    return run_workflow(wf, inp, cfg, warm_start=warm, progress=progress)


def _workflow(inp: Any, cfg: AtomsConfig, crystal: Any, rewards: Mapping[str, AtomReward] | None) -> Any:
    """The config's atom-finding workflow for one loaded image (its reward context from the lattice)."""
    ps = inp.require_pixel_size("atom finding")
    context = AtomRewardContext.from_lattice(crystal, shape=inp.image.shape, pixel_size=ps, k=cfg.k_neighbours,
                                             er_factor=cfg.er_factor, n_expected=cfg.n_expected)
    return atom_method(cfg.method)(cfg, context, crystal=crystal,
                                   sigma_scale=cfg.reference_pixel_size.angstrom / ps.angstrom, rewards=rewards)


def _client_engine(client: Any) -> Any:
    """An engine on a ``distributed.Client`` the caller holds (used as is, not closed)."""
    from rewardscope.parallel import Engine

    return Engine(client)


def find_atoms_with_oracle(image: Any, *, oracle: str = "dcnn", config: AtomsConfig | None = None,
                           lattice: Any = None, pixel_size: str | Length | None = None,
                           rewards: Mapping[str, AtomReward] | None = None, warm_start: Any = None,
                           progress: ProgressArg = False, **overrides: Any) -> AtomsResult:
    """:func:`~rewardscope.workflows.atoms.find_atoms` with the DCNN's count as ``n_expected``.

    Parameters
    ----------
    image : numpy.ndarray, ImageData, Input or path
        As for ``find_atoms``.
    oracle : str
        Only ``"dcnn"``.
    config, lattice, pixel_size, rewards, warm_start, **overrides
        As for ``find_atoms`` (``ensemble=N``: test-time views of the network, for the
        oracle and a DCNN method alike); ``n_expected`` is the oracle's, not to be given.
    progress : bool or callable
        As for ``find_atoms``; the oracle's heat map reports to it too.

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
    if oracle != "dcnn":
        raise ParameterError(f"unknown oracle {oracle!r}; the only oracle is dcnn")
    cfg = atoms_config(config, lattice=lattice, pixel_size=pixel_size, **overrides)
    if cfg.n_expected is not None:
        raise ParameterError("give either an oracle or n_expected, not both")
    crystal = resolve_crystal(cfg, None if isinstance(lattice, str) else lattice)
    inp = load_input(image, cfg.pixel_size)
    ps = inp.require_pixel_size("atom finding")
    with progress_scope(progress) as report:
        atoms = dcnn_oracle(inp.image, pixel_size=ps, ensemble=cfg.ensemble, progress=report)
        if len(atoms) == 0:
            raise ParameterError("the DCNN oracle found no atoms; it cannot set the expected count")
        res = find_atoms(inp, config=make_config(AtomsConfig, cfg, n_expected=float(len(atoms))), lattice=crystal,
                         rewards=rewards, warm_start=warm_start, progress=report)
    res.summary.update({"oracle": oracle, "oracle_ensemble": cfg.ensemble,
                        **f1_against_oracle(res.atoms, atoms, shape=inp.image.shape, crystal=crystal, pixel_size=ps)})
    res.tables["oracle_atoms"] = atoms
    return res


def find_atoms_batch(images: Iterable[Any], *, config: AtomsConfig | None = None, lattice: Any = None,
                     pixel_size: str | Length | None = None, rewards: Mapping[str, AtomReward] | None = None,
                     progress: ProgressArg = False, scheduler: Any = None, workers: int | None = None,
                     **overrides: Any) -> Iterator[AtomsResult]:
    """:func:`find_atoms` on many images, each warm-started from an earlier one.

    The first image gets the config's ``study.trials``; every later one ``warm_trials``
    trials, the first of which are an earlier result's Pareto set (a movie's frames, a
    series of tiles: the parameters change little from one image to the next). The crystal
    is resolved once. Results are yielded one by one, in input order, so a long series is
    not held in memory.

    Without ``scheduler`` the images form one chain in this process, each starting from the
    previous one (an image's finish, the lattice prior, runs in a second thread while the next
    image's study runs; the results are those of one image after the other). With a ``scheduler`` (``"serial"``, ``"local"``, ``"tcp://HOST:PORT"`` or a
    ``distributed.Client``, :class:`~rewardscope.parallel.Engine`) the first image runs
    here and every later one is a dask task that starts from the *first* image's Pareto set:
    the images are then independent, and serial, local and a cluster give the same results.

    Parameters
    ----------
    images : iterable of images, paths, ImageData or Input
        Anything :func:`find_atoms` takes, one per item (sent to the workers with a scheduler).
    config, lattice, pixel_size, rewards, progress, **overrides
        As for :func:`find_atoms` (with a scheduler, ``progress`` covers the first image).
    scheduler : str or distributed.Client, optional
        Run the images after the first as dask tasks (see above).
    workers : int, optional
        Workers of a ``"local"`` cluster (default: one per core).

    Yields
    ------
    AtomsResult
        One per image, in order; ``summary["warm_started"]`` says whether it started from an earlier one.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> frames = [simulate_haadf("srtio3-001", size=64, noise=0.05, seed=s).image for s in (0, 1)]
    >>> runs = list(find_atoms_batch(frames, lattice="srtio3-001", pixel_size="0.35A", trials=20, warm_trials=8))
    >>> [len(r.trials) for r in runs], [r.summary["warm_started"] for r in runs]
    ([20, 8], [False, True])
    """
    cfg = atoms_config(config, lattice=lattice, pixel_size=pixel_size, **overrides)
    crystal = resolve_crystal(cfg, None if isinstance(lattice, str) else lattice)
    warm_cfg = make_config(AtomsConfig, cfg, trials=cfg.warm_trials)
    if scheduler is not None:
        yield from _batch_as_tasks(iter(images), cfg, warm_cfg, crystal=crystal, rewards=rewards,
                                   progress=progress, scheduler=scheduler, workers=workers)
        return
    yield from _chain(iter(images), cfg, warm_cfg, crystal=crystal, rewards=rewards, progress=progress)


def _chain(images: Iterator[Any], cfg: AtomsConfig, warm_cfg: AtomsConfig, *, crystal: Any,
           rewards: Mapping[str, AtomReward] | None, progress: ProgressArg) -> Iterator[AtomsResult]:
    """Each image warm-started from the previous one's study; an image finishes while the next one's study runs.

    The finish (Gaussian fits, lattice prior) of image k runs in a second thread while
    image k + 1 is prepared and optimized: the next study needs only this one's Pareto set,
    so the results are those of one image after the other. The two overlap where numpy
    releases the interpreter (the fits are array work, the study is mostly Python).
    """
    import contextvars
    from concurrent.futures import Future, ThreadPoolExecutor

    from rewardscope.workflows.base import finish_workflow, start_workflow

    def finished(started: Any, warm: bool, report: Any) -> AtomsResult:
        res = finish_workflow(started, progress=report)
        res.summary["warm_started"] = warm
        return res

    previous: pd.DataFrame | None = None
    pending: Future | None = None
    with progress_scope(progress) as report, ThreadPoolExecutor(1, thread_name_prefix="rewardscope-finish") as pool:
        for image in images:
            inp = load_input(image, cfg.pixel_size)
            config = cfg if previous is None else warm_cfg
            wf = _workflow(inp, config, crystal, rewards)
            warm = _warm_start_sets(previous, [p.name for p in wf.search_space().params])
            started = start_workflow(wf, inp, config, warm_start=warm, progress=report)
            future = pool.submit(contextvars.copy_context().run, finished, started, previous is not None, report)
            previous = started.study.pareto
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def _batch_as_tasks(images: Iterator[Any], cfg: AtomsConfig, warm_cfg: AtomsConfig, *, crystal: Any,
                    rewards: Mapping[str, AtomReward] | None, progress: ProgressArg, scheduler: Any,
                    workers: int | None) -> Iterator[AtomsResult]:
    """The first image here, the others as tasks warm-started from its Pareto set; yielded in input order."""
    from rewardscope.parallel import Engine

    with Engine(scheduler, workers=workers) as engine:  # connects (or fails) before any work
        first = next(images, None)
        if first is None:
            return
        res = find_atoms(first, config=cfg, lattice=crystal, rewards=rewards, progress=progress)
        res.summary["warm_started"] = False
        yield res
        waiting: dict[int, AtomsResult] = {}  # finished out of order (at most the tasks in flight, usually)
        following = 0
        for i, out in engine.map(warm_started_atoms, images, config=warm_cfg, crystal=crystal, rewards=rewards,
                                 warm_start=res.pareto):
            waiting[i] = out
            while following in waiting:
                yield waiting.pop(following)
                following += 1


def warm_started_atoms(image: Any, *, config: AtomsConfig, crystal: Any, rewards: Mapping[str, AtomReward] | None,
                       warm_start: Any) -> AtomsResult:
    """Task of :func:`find_atoms_batch` with a scheduler: one image from a given warm start (module level: picklable)."""
    res = find_atoms(image, config=config, lattice=crystal, rewards=rewards, warm_start=warm_start, progress=False)
    res.summary["warm_started"] = True
    return res


def _warm_start_sets(warm: Any, names: Sequence[str]) -> list[dict[str, Any]] | None:
    """Parameter sets (dicts) from a list, a table with a column per parameter ``names``, or a result's Pareto set."""
    if warm is None:
        return None
    if isinstance(warm, AtomsResult):
        warm = warm.pareto
    if isinstance(warm, pd.DataFrame):
        missing = [k for k in names if k not in warm.columns]
        if missing:
            raise ParameterError(f"warm-start table lacks columns {missing}")
        return warm[list(names)].to_dict("records")
    return [dict(w) for w in warm]




__all__ = ["AtomMethod", "AtomsConfig", "AtomsResult", "atom_method", "atom_methods", "atoms_config", "find_atoms",
           "find_atoms_batch", "find_atoms_with_oracle", "register_atom_method", "resolve_crystal",
           "warm_started_atoms"]
