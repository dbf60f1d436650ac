"""CachedTPESampler: exactly Optuna's TPE trials, with per-trial bookkeeping remembered."""

from __future__ import annotations

import optuna
import pytest

from rewardscope.optimize import FloatParam, SearchSpace, make_sampler, run_study
from rewardscope.optimize.fastmath import vectorised_tpe_math
from rewardscope.optimize.tpe import CachedTPESampler, cached_tpe_available


def _objective(trial):
    x = trial.suggest_float("x", 0.1, 3.0, log=True)
    y = trial.suggest_float("y", 0.0, 1.0)
    k = trial.suggest_int("k", 1, 9)
    c = trial.suggest_categorical("c", ["a", "b"])
    return (x - 1) ** 2 + y * k, (y - 0.3) ** 2 + (c == "a") + 1 / k


def _trials(sampler, n=60):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(_objective, n_trials=n)
    return [(t.params, t.values) for t in study.trials]


def test_hooks_present_in_installed_optuna():
    assert cached_tpe_available()


@pytest.mark.parametrize("kwargs", [{"multivariate": True}, {"multivariate": True, "constant_liar": True},
                                    {"multivariate": False}])
def test_same_trials_as_optuna_tpe(kwargs):
    ref = _trials(optuna.samplers.TPESampler(seed=3, **kwargs))
    got = _trials(CachedTPESampler(seed=3, **kwargs))
    assert got == ref  # every parameter and objective value bit for bit


def test_reused_on_a_second_study_forgets_the_first():
    cached, plain = CachedTPESampler(seed=1, multivariate=True), optuna.samplers.TPESampler(seed=1, multivariate=True)
    assert _trials(cached, n=30) == _trials(plain, n=30)
    assert _trials(cached, n=40) == _trials(plain, n=40)  # the same sampler objects on a new study


def test_make_sampler_uses_it_and_run_study_is_deterministic():
    assert isinstance(make_sampler("tpe", seed=0), CachedTPESampler)
    space = SearchSpace([FloatParam("x", 0.0, 1.0), FloatParam("y", 0.0, 2.0)])

    def f(p):
        return [p["x"] + p["y"], (1 - p["x"]) ** 2 + abs(p["y"] - 1)]

    a = run_study(f, space, objective_names=["a", "b"], trials=40, seed=4, progress=False)
    b = run_study(f, space, objective_names=["a", "b"], trials=40, seed=4, progress=False)
    assert a.trials[["x", "y", "a", "b"]].equals(b.trials[["x", "y", "a", "b"]])
    with vectorised_tpe_math():  # run_study's normal functions (scipy's): then the same bits
        ref = _trials_space(f, 40, 4)
    assert a.trials[["x", "y"]].to_numpy().tolist() == ref


def _trials_space(f, n, seed):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["minimize"] * 2,
                                sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True))
    study.optimize(lambda t: f({"x": t.suggest_float("x", 0.0, 1.0), "y": t.suggest_float("y", 0.0, 2.0)}),
                   n_trials=n)
    return [[t.params["x"], t.params["y"]] for t in study.trials]


def test_batch_sampler_is_seeded_in_bounds_and_still_learns():
    """batch=k: deterministic, inside the space, and (on a 2-objective toy) near the front as batch=1 is."""
    a = _trials(CachedTPESampler(seed=5, multivariate=True, batch=8), n=80)
    b = _trials(CachedTPESampler(seed=5, multivariate=True, batch=8), n=80)
    assert a == b
    assert a != _trials(CachedTPESampler(seed=5, multivariate=True), n=80)  # the batches do change the draws
    for params, _ in a:
        assert 0.1 <= params["x"] <= 3.0 and 0.0 <= params["y"] <= 1.0 and params["k"] in range(1, 10)
    # the model still steers: the later half is better on the first objective than random search
    late = sorted(v[0] for _, v in a[40:])[:10]
    rand = sorted(v[0] for _, v in _trials(optuna.samplers.RandomSampler(seed=5), n=80)[40:])[:10]
    assert sum(late) <= sum(rand)


def test_batch_must_be_positive():
    with pytest.raises(ValueError, match="batch"):
        CachedTPESampler(seed=0, batch=0)


def test_tpe_batch_setting_reaches_the_sampler():
    from rewardscope.optimize import StudySettings

    assert StudySettings(tpe_batch=4).study_kwargs()["sampler_options"] == {"batch": 4}
    assert StudySettings(tpe_batch=4, sampler="nsga2").study_kwargs()["sampler_options"] is None
    assert make_sampler("tpe", seed=0, options={"batch": 4})._batch == 4
