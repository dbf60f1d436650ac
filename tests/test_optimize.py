"""Tests of the generic optimizer: Pareto front, hypervolume, selection, studies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardscope.errors import ParameterError
from rewardscope.optimize import (CategoricalParam, FloatParam, IntParam, SearchSpace, hypervolume,
                                  pareto_mask, run_study, select_point)

SPACE = SearchSpace([FloatParam("x", 0.0, 1.0), IntParam("k", 1, 5), CategoricalParam("c", ("a", "b"))])


def _obj(p):
    shift = 0.0 if p["c"] == "a" else 0.2
    return [p["x"] + 0.01 * p["k"] + shift, (1 - p["x"]) ** 2 + shift]


def test_pareto_mask_known_front():
    pts = [[1, 3], [2, 2], [3, 1], [3, 3], [2, 2], [np.nan, 0]]
    assert pareto_mask(pts).tolist() == [True, True, True, False, True, False]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=25))
def test_pareto_mask_properties(points):
    pts = np.asarray(points, float)
    mask = pareto_mask(pts)
    dominates = lambda a, b: (a <= b).all() and (a < b).any()  # noqa: E731
    for i in range(len(pts)):
        dominated = any(dominates(pts[j], pts[i]) for j in range(len(pts)))
        assert mask[i] == (not dominated)


def test_hypervolume_known_values():
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)
    assert hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4]) == pytest.approx(6.0)
    assert hypervolume([[0, 0, 0.5], [0.5, 0.5, 0]], [1, 1, 1]) == pytest.approx(0.625)
    assert hypervolume([[2, 2]], [1, 1]) == 0.0
    assert hypervolume([[0.5]], 1.0) == pytest.approx(0.5)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(*[st.floats(0, 1)] * 3), min_size=1, max_size=12))
def test_hypervolume_3d_matches_optuna(points):
    from optuna._hypervolume import compute_hypervolume

    pts = np.asarray(points, float)
    ref = np.full(3, 1.1)
    assert hypervolume(pts, ref) == pytest.approx(compute_hypervolume(pts, ref), abs=1e-9)


def test_selection_rules_differ():
    pts = [[0, 1], [1, 0], [0.1, 0.75], [0.6, 0.6]]
    assert select_point(pts, rule="euclidean") == 2
    assert select_point(pts, rule="chebyshev") == 3
    assert select_point([[5, 5], [5, 5]]) == 0  # ties go to the first
    with pytest.raises(ParameterError):
        select_point(pts, rule="manhattan")


def test_search_space_checks():
    with pytest.raises(ParameterError):
        FloatParam("x", 1.0, 0.5)
    with pytest.raises(ParameterError):
        SearchSpace([FloatParam("x", 0, 1), IntParam("x", 0, 2)])
    assert SPACE.clip({"x": 2, "k": 0.2, "c": "b", "y": 1}) == {"x": 1.0, "k": 1, "c": "b"}
    with pytest.raises(ParameterError):
        SPACE.clip({"x": 0.5, "k": 2, "c": "z"})


@pytest.mark.parametrize("sampler", ["tpe", "gp", "nsga2"])
def test_run_study_is_seeded_and_consistent(sampler):
    kw = dict(objective_names=["f1", "f2"], trials=12, sampler=sampler, seed=3, progress=False)
    a = run_study(_obj, SPACE, **kw)
    b = run_study(_obj, SPACE, **kw)
    assert a.trials[["x", "k", "c", "f1", "f2"]].equals(b.trials[["x", "k", "c", "f1", "f2"]])
    assert len(a.trials) == 12 and set(a.trials["c"]) <= {"a", "b"}
    assert a.pareto["selected"].sum() == 1
    # the chosen point is on the front and no front point dominates another
    assert a.best_trial in set(a.pareto["trial"])
    vals = a.values(pareto_only=True)
    assert pareto_mask(vals).all()
    assert 0 < a.hypervolume <= 1.1 ** 2


def test_fixed_parameters_are_not_tuned():
    space = SearchSpace([FloatParam("x", 0.0, 1.0), FloatParam("y", 0.5, 0.5), IntParam("k", 3, 3)])
    res = run_study(lambda p: [p["x"] + p["y"], p["k"] - p["x"]], space, objective_names=["a", "b"],
                    trials=5, progress=False)
    assert (res.trials["y"] == 0.5).all() and (res.trials["k"] == 3).all()
    assert set(res.study.trials[0].params) == {"x"}
    one = run_study(lambda p: [p["a"], p["n"]], SearchSpace.fixed_at({"a": 0.25, "n": 2}),
                    objective_names=["f", "g"], trials=1, progress=False)
    assert one.best_params == {"a": 0.25, "n": 2}


def test_run_study_seed_changes_trials():
    kw = dict(objective_names=["f1", "f2"], trials=6, progress=False)
    a = run_study(_obj, SPACE, seed=0, **kw)
    b = run_study(_obj, SPACE, seed=1, **kw)
    assert not np.allclose(a.trials["x"], b.trials["x"])


def test_tpe_beats_random_search():
    import optuna

    space = SearchSpace([FloatParam("x", 0.0, 1.0), FloatParam("y", 0.0, 1.0)])
    kw = dict(objective_names=["a", "b"], trials=40, progress=False, reference_point=[1.0, 1.0])
    f = lambda p: [p["x"], 1 - p["x"] + 2 * p["y"]]  # noqa: E731  true front: y = 0, hypervolume 0.5
    tpe = run_study(f, space, seed=0, **kw)
    rnd = run_study(f, space, sampler=optuna.samplers.RandomSampler(seed=0), **kw)
    assert tpe.hypervolume > 0.35 > rnd.hypervolume
    assert tpe.hypervolume <= 0.5


def test_resume_stopped_study(tmp_path):
    db = tmp_path / "study.sqlite"
    calls = {"n": 0}

    def flaky(p):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # the user stops the run during trial 4
        return _obj(p)

    with pytest.raises(KeyboardInterrupt):
        run_study(flaky, SPACE, objective_names=["f1", "f2"], trials=8, storage=db, progress=False)
    first = run_study(_obj, SPACE, objective_names=["f1", "f2"], trials=3, storage=db, progress=False)
    assert len(first.trials) == 3  # nothing left to do: 3 trials were completed before the stop
    res = run_study(_obj, SPACE, objective_names=["f1", "f2"], trials=8, storage=db, progress=False)
    assert len(res.trials) == 8
    assert res.trials["x"].iloc[:3].tolist() == first.trials["x"].tolist()
    with pytest.raises(ParameterError):
        run_study(_obj, SPACE, objective_names=["g1", "g2"], trials=9, storage=db, progress=False)


def test_warm_start_and_extras():
    def obj(p):
        return {"f1": p["x"], "f2": 1 - p["x"], "n_found": 7}

    res = run_study(obj, SPACE, objective_names=["f1", "f2"], trials=4, progress=False,
                    warm_start=[{"x": 0.25, "k": 2, "c": "b"}, {"x": 9.0, "k": 3, "c": "a"}])
    assert res.trials.loc[0, ["x", "k", "c"]].tolist() == [0.25, 2, "b"]
    assert res.trials.loc[1, "x"] == 1.0  # clipped into the space
    assert (res.trials["n_found"] == 7).all()


def test_bad_arguments():
    kw = dict(objective_names=["f1", "f2"], progress=False)
    with pytest.raises(ParameterError, match="trials"):
        run_study(_obj, SPACE, trials=0, **kw)
    with pytest.raises(ParameterError, match="sampler"):
        run_study(_obj, SPACE, trials=2, sampler="cmaes", **kw)
    with pytest.raises(ParameterError, match="selection"):
        run_study(_obj, SPACE, trials=2, selection="best", **kw)
    with pytest.raises(ParameterError, match="3 values"):
        run_study(lambda p: [1, 2, 3], SPACE, trials=2, **kw)
    with pytest.raises(ParameterError, match="finite"):
        run_study(lambda p: [np.nan, 1], SPACE, trials=2, **kw)


def test_make_config_routes_study_fields_into_nested_settings():
    from pydantic import BaseModel, Field

    from rewardscope.config import make_config
    from rewardscope.errors import ParameterError
    from rewardscope.optimize.settings import StudySettings

    class W(BaseModel):
        study: StudySettings = Field(default_factory=StudySettings)
        other: int = 1

    cfg = make_config(W, trials=7, sampler="nsga2", other=3)
    assert (cfg.study.trials, cfg.study.sampler, cfg.study.seed, cfg.other) == (7, "nsga2", 0, 3)
    again = make_config(W, cfg, seed=5)
    assert (again.study.trials, again.study.seed) == (7, 5)
    with pytest.raises(ParameterError, match="study.trials"):
        make_config(W, trials=0)


def test_a_gate_keeps_the_choice_among_points_near_the_best_of_one_reward():
    from rewardscope.optimize.select import select_point, selection_distances

    front = np.array([[0.10, 1.0], [0.12, 0.5], [0.19, 0.45], [0.30, 0.2], [0.9, 0.0]])
    assert select_point(front) == 3  # the compromise of min-max normalized rewards
    assert select_point(front, gates=[2.0, np.nan]) == 1  # among rows 0-2, whose first reward is <= 0.2
    assert np.isinf(selection_distances(front, gates=[2.0, np.nan])[3:]).all()
    with pytest.raises(ParameterError, match="factors >= 1"):
        select_point(front, gates=[0.5, np.nan])


def test_run_study_chooses_inside_the_gate():
    space = SearchSpace([FloatParam("x", 0.0, 1.0)])
    study = dict(objective_names=["a", "b"], trials=40, progress=False)
    plain = run_study(lambda p: [p["x"] + 0.1, 1.0 - p["x"]], space, **study)
    gated = run_study(lambda p: [p["x"] + 0.1, 1.0 - p["x"]], space, selection_gates=[2.0, float("nan")], **study)
    assert 0.3 < plain.best_params["x"] < 0.7
    assert gated.best_params["x"] <= 2 * (gated.pareto["a"].min()) - 0.1 + 1e-12
    assert np.isinf(gated.pareto.loc[gated.pareto["a"] > 2 * gated.pareto["a"].min(), "distance"]).all()
