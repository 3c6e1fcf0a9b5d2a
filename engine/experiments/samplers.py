"""How a sweep draws its settings and stops poor trials: Optuna's samplers and pruners, as
the sweep's space file asks for them (method, seed, pruner).

The random and TPE samplers are seeded per trial so that parallel workers never repeat each
other's draws; a grid is shared by all workers (see each class).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from engine.experiments.sweep_space import SweepSpace


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its end-of-grid ``study.stop()``.

    The worker's own budget (``n_trials`` = grid size) ends the sweep. Optuna's check also
    raises KeyError after a re-queued trial (an interrupted trial's settings, which carry no
    grid id) when one grid point is left, so a resumed grid sweep would crash.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s draws: a hash of the sweep's seed and the trial number."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class _SeedPerTrial(optuna.samplers.BaseSampler):
    """A sampler built afresh for each trial, seeded with :func:`trial_seed`.

    Why per trial: every worker (``--jobs N`` processes, or machines sharing a PostgreSQL
    storage) builds its own sampler. Seeded with ``space.seed`` alone, each drew the same
    sequence, so a worker's first trial repeated another's. Optuna numbers trials atomically
    in the storage, so a seed derived from (``space.seed``, trial number) differs for every
    trial of the study, whichever worker runs it, and the study stays reproducible from
    ``space.seed``: with one worker exactly; with several, a random search still gives trial k
    the same settings (TPE's also depend on which trials had finished). Optuna's other answer,
    no seed when parallel, would give up that reproducibility.
    """

    def __init__(self, build: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> None:
        self._build = build
        self._seed = seed
        self._inner = build(seed)

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self._inner = self._build(trial_seed(self._seed, trial.number))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> dict[str, Any]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Any, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Any, trial: FrozenTrial, param_name: str, param_distribution: Any
    ) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Any, trial: FrozenTrial, state: Any, values: Any) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def sampler_for(space: SweepSpace) -> optuna.samplers.BaseSampler:
    if space.method == "grid":
        # Every worker shares one seed on purpose: the grid is shuffled by it, and Optuna gives
        # trial k the k-th point of that order (trial numbers are unique in the storage), so
        # workers split the grid and none repeats a point.
        return _GridSampler(space.grid(), seed=space.seed)
    if space.method == "random":
        return _SeedPerTrial(lambda seed: optuna.samplers.RandomSampler(seed=seed), space.seed)
    startup = min(4, space.n_trials)
    return _SeedPerTrial(
        lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup), space.seed
    )


def pruner_for(space: SweepSpace) -> optuna.pruners.BasePruner:
    if space.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=space.startup_trials, n_warmup_steps=space.warmup_steps
        )
    if space.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()
