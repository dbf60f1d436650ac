"""The scipy ufuncs swapped into Optuna's TPE agree with Optuna's own and are restored."""

import numpy as np
import pytest

from rewardscope.optimize import FloatParam, SearchSpace, run_study
from rewardscope.optimize.fastmath import vectorised_tpe_math

_truncnorm = pytest.importorskip("optuna.samplers._tpe._truncnorm")


def test_same_values_as_optuna():
    grid = np.concatenate([np.linspace(-40, 10, 2001), [-1e3, 0.0, 7.5]])
    ref_log, ref_erf = _truncnorm._log_ndtr(grid), _truncnorm.erf(grid / 7)
    with vectorised_tpe_math() as n:
        assert n == 2
        np.testing.assert_allclose(_truncnorm._log_ndtr(grid), ref_log, rtol=1e-12, atol=1e-15)  # scipy is the more accurate near 0
        np.testing.assert_allclose(_truncnorm.erf(grid / 7), ref_erf, rtol=1e-12, atol=1e-15)


def test_restored_after_nested_blocks():
    original = _truncnorm._log_ndtr
    with vectorised_tpe_math():
        with vectorised_tpe_math():
            assert _truncnorm._log_ndtr is not original
        assert _truncnorm._log_ndtr is not original
    assert _truncnorm._log_ndtr is original


def test_tpe_study_unchanged_by_the_patch():
    """Same seed, same trials: the patch changes speed, not the search."""
    import optuna

    space = SearchSpace([FloatParam("x", 0.0, 1.0), FloatParam("y", 0.0, 1.0)])

    def objective(p):
        return [(p["x"] - 0.3) ** 2 + p["y"], (p["y"] - 0.6) ** 2 + p["x"]]

    patched = run_study(objective, space, objective_names=["a", "b"], trials=40, seed=3, progress=False)
    study = optuna.create_study(directions=["minimize"] * 2,
                                sampler=optuna.samplers.TPESampler(seed=3, multivariate=True))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: objective({"x": t.suggest_float("x", 0, 1), "y": t.suggest_float("y", 0, 1)}),
                   n_trials=40)
    plain = np.array([[t.params["x"], t.params["y"]] for t in study.trials])
    np.testing.assert_allclose(patched.trials[["x", "y"]].to_numpy(), plain, atol=1e-9)
