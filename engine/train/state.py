"""TrainState: the training progress a checkpoint saves and a resume restores, as one object."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class TrainState:
    """Where a run is: optimizer steps taken and the early-stopping bookkeeping.

    Attributes:
        step: optimizer steps completed.
        best_val_loss: lowest validation loss so far (inf before the first evaluation).
        evals_since_best: evaluations since ``best_val_loss`` last improved.
    """

    step: int = 0
    best_val_loss: float = math.inf
    evals_since_best: int = 0

    def record_eval(self, val_loss: float) -> bool:
        """Count one evaluation; True when it is the best so far."""
        if val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
            self.evals_since_best = 0
            return True
        self.evals_since_best += 1
        return False

    def to_payload(self) -> dict[str, Any]:
        """The checkpoint fields this state owns (the format's field names)."""
        return {
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "evals_since_best": self.evals_since_best,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TrainState:
        """The state a checkpoint holds."""
        return cls(
            step=int(payload["step"]),
            best_val_loss=float(payload["best_val_loss"]),
            evals_since_best=int(payload["evals_since_best"]),
        )
