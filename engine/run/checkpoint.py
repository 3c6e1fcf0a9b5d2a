"""Checkpoints as data: atomic writes, and loads with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict: format tag and version, the unwrapped model's ``state_dict``,
the optimizer's, the torch RNG state, the step, the config dict, the tokenizer's vocabulary
and the early-stopping bookkeeping: everything needed to resume exactly or to generate.
Writes go to a temporary file in the same folder, are fsynced and renamed over the target,
so a crash mid-write leaves the previous checkpoint loadable.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from engine.config.fields import ConfigError
from engine.config.schema import RunConfig, validate_config
from engine.errors import UserError
from engine.models import build_model
from engine.run import checkpoint_check as check
from engine.safe_files import special_file_problem
from engine.text.tokenizer import Tokenizer, tokenizer_from_dict

FORMAT = "llmv0-checkpoint"
VERSION = 1


class CheckpointError(UserError, ValueError):
    """A checkpoint is missing, truncated, foreign or from an incompatible version."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file beside ``path``, fsync, then ``os.replace``.

    Raises:
        OSError: the disk is full or not writable; the previous file is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except RuntimeError:
        Path(tmp_name).unlink(missing_ok=True)
        # torch's zip writer reports a short write as "unexpected pos" or "file write
        # failed", not as the OSError it was: name a full disk for what it is.
        if _disk_is_full(path.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # Make the rename itself durable.
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _disk_is_full(folder: Path, low_bytes: int = 64 * 1024**2) -> bool:
    try:
        return shutil.disk_usage(folder).free < low_bytes
    except OSError:
        return False


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under torch.compile or DistributedDataParallel wrappers."""
    inner = getattr(model, "_orig_mod", model)
    return getattr(inner, "module", inner)


def make_payload(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    config: RunConfig,
    tokenizer: Tokenizer,
    step: int,
    best_val_loss: float,
    evals_since_best: int,
    run_id: str,
    scaler_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The dict a checkpoint stores (tensors and plain values only)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "run_id": run_id,
        "step": step,
        "config": config.model_dump(),
        "tokenizer": tokenizer.to_dict(),
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler_state,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "best_val_loss": best_val_loss,
        "evals_since_best": evals_since_best,
        "torch_version": str(torch.__version__),
    }


def _unreadable(path: Path, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "weights_only" in first:  # never relay PyTorch's invitation to an unsafe load
        first = type(exc).__name__
    return (
        f"The checkpoint {path} cannot be read: it is truncated, corrupt or not a PyTorch "
        f"file ({first[:200]}). If the run folder has another checkpoint, use that one; "
        "otherwise retrain."
    )


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """Load and check a checkpoint file.

    Raises:
        CheckpointError: missing, truncated or foreign file, with a one-paragraph reason.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"No checkpoint at {path}. Give a run id from `llmv0 runs`, a run folder, or a "
            ".pt file written by llmv0."
        )
    if problem := special_file_problem(path):  # a FIFO would hang torch.load for ever
        raise CheckpointError(f"The checkpoint {path} {problem}.")
    try:
        with warnings.catch_warnings():
            # Garbage read as a legacy pickle warns about odd protocols before failing.
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise CheckpointError(_unreadable(path, exc)) from None
        # PyTorch's own message suggests weights_only=False: never repeat that invitation.
        raise CheckpointError(
            f"The checkpoint {path} cannot be read: it is not an llmv0 checkpoint, or it holds "
            "Python objects that a safe load refuses because loading them could run arbitrary "
            "code. llmv0 never loads such files; use a checkpoint written by `llmv0 train` or "
            "the dashboard."
        ) from None
    except Exception as exc:
        # Corrupt bytes surface as almost any exception from the unpickler (IndexError,
        # KeyError, struct.error, UnicodeDecodeError, ...), not only the documented ones.
        raise CheckpointError(_unreadable(path, exc)) from None
    if not isinstance(payload, dict) or not check.same(payload.get("format"), FORMAT):
        raise CheckpointError(
            f"{path} is a PyTorch file but not an llmv0 checkpoint (no '{FORMAT}' tag). "
            "Use a checkpoint written by `llmv0 train` or the dashboard."
        )
    if not check.same(payload.get("version"), VERSION):
        raise CheckpointError(
            f"{path} is an llmv0 checkpoint of format version "
            f"{check.shown(payload.get('version'))}, but this llmv0 reads version {VERSION}. "
            "Upgrade llmv0 or retrain."
        )
    validate_payload(payload, path)
    return payload


def validate_payload(payload: dict[str, Any], path: Path | str = "checkpoint") -> None:
    """Check a loaded checkpoint before anything uses it: every entry present with its
    type and a sane value, the config accepted by the schema, the tokenizer readable and
    every weight of the shape the config's model has (engine.run.checkpoint_check).

    Raises:
        CheckpointError: one paragraph naming the first bad field.
    """
    try:
        check.check_structure(payload)
    except check.BadField as exc:
        raise damaged(path, exc) from None
    cfg = config_of(payload, path)
    try:
        check.check_tokenizer(payload["tokenizer"])
        vocab_size = tokenizer_from_dict(payload["tokenizer"]).vocab_size
    except ValueError as exc:  # BadField, or the tokenizer's own checks
        problem = exc if isinstance(exc, check.BadField) else check.BadField("tokenizer", str(exc))
        raise damaged(path, problem) from None
    with torch.device("meta"):  # shapes only: no memory, no time
        expected = build_model(cfg, vocab_size).state_dict()
    try:
        check.check_weights(payload["model"], expected, cfg.model)
    except check.BadField as exc:
        raise damaged(path, exc) from None


def damaged(path: Path | str, problem: check.BadField) -> CheckpointError:
    """The one-paragraph refusal of a checkpoint whose field is bad."""
    return CheckpointError(
        f"The checkpoint {path} is damaged or was edited: {problem}. Use another checkpoint "
        "of the run (step-*.pt, best.pt) or retrain."
    )


def config_of(payload: dict[str, Any], path: Path | str = "checkpoint") -> RunConfig:
    """The RunConfig stored in a checkpoint."""
    try:
        return validate_config(payload["config"], source=f"config stored in {path}")
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


class LoadedModel(NamedTuple):
    """A model ready for generation (eval mode), its tokenizer and the config it was
    trained with; unpacks as ``model, tokenizer, config``."""

    model: nn.Module
    tokenizer: Tokenizer
    config: RunConfig


def model_from_payload(
    payload: dict[str, Any], device: str | torch.device = "cpu", path: Path | str = "checkpoint"
) -> LoadedModel:
    """Rebuild the model (eval mode), tokenizer and config a checkpoint describes."""
    cfg = config_of(payload, path)
    try:
        tokenizer = tokenizer_from_dict(payload["tokenizer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"The tokenizer stored in {path} is unreadable ({exc}). The file was probably "
            "edited or written by another program."
        ) from None
    model = build_model(cfg, tokenizer.vocab_size)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"The weights in {path} do not fit the model its config describes ({exc}). The "
            "file was probably edited or written by another program."
        ) from None
    model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, cfg)
