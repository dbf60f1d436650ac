"""The settings of one study, shared by every workflow's config.

Every workflow that tunes parameters runs one Optuna study with the same five knobs
(trials, sampler, selection rule, seed, storage). :class:`StudySettings` holds them once,
with their descriptions; each workflow config nests it as ``study`` and the CLI builds
its ``--trials``/``--sampler``/``--selection``/``--seed``/``--storage`` options from it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StudySettings(BaseModel):
    """How one multi-objective study runs (defaults shared by the API and the CLI).

    Examples
    --------
    >>> StudySettings(trials=50).sampler
    'tpe'
    >>> StudySettings().study_kwargs()["trials"]
    200
    """

    model_config = ConfigDict(extra="forbid")

    trials: int = Field(200, ge=1, le=100_000, description="Number of optimization trials.")
    sampler: Literal["tpe", "gp", "nsga2"] = Field("tpe", description="Optuna sampler: tpe, gp or nsga2.")
    selection: Literal["euclidean", "chebyshev"] = Field(
        "euclidean", description="Rule choosing one Pareto point: distance to the ideal point.")
    seed: int = Field(0, description="Random seed of the optimizer; same seed, same trials.")
    storage: str | None = Field(None, description="SQLite file holding the study; rerunning with it resumes.")
    study_name: str | None = Field(None, description="Study name inside --storage.")
    sampler_options: dict[str, Any] | None = Field(
        None, description="Extra sampler arguments, e.g. {'population_size': 100} for nsga2.")
    tpe_batch: int = Field(1, ge=1, le=64, description="tpe: trials drawn per fit of its model (1 = Optuna's "
                           "sampler trial for trial; more cuts the sampler's time when trials are cheap).")

    def study_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`rewardscope.optimize.run_study` for these settings.

        ``tpe_batch`` above 1 goes to the TPE sampler as its ``batch`` option.

        Examples
        --------
        >>> StudySettings(tpe_batch=8).study_kwargs()["sampler_options"]
        {'batch': 8}
        """
        options = self.sampler_options
        if self.sampler == "tpe" and self.tpe_batch > 1:
            options = {"batch": self.tpe_batch, **(options or {})}
        return {"trials": self.trials, "sampler": self.sampler, "selection": self.selection, "seed": self.seed,
                "storage": self.storage, "study_name": self.study_name, "sampler_options": options}
