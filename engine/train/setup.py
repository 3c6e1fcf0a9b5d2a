"""What a run needs before its first step (tokens, tokenizer, model, optimizer, resumed state)
and how a failure is explained.

Split from the trainer so its loop reads top to bottom; every function here is plain and
testable on its own.
"""

from __future__ import annotations

import errno
import logging
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from engine.config.fields import ConfigError
from engine.config.files import read_config_dict
from engine.config.schema import FIXED_ON_RESUME, RunConfig, validate_config
from engine.errors import UserError
from engine.models import build_model
from engine.run import checkpoint as ckpt
from engine.run.checkpoint_check import BadField, check_optimizer
from engine.run.folder import BEST, RunFolder, existing_run, folder_for_id
from engine.run.lock import lock_is_live
from engine.text.corpus import (
    CorpusError,
    Progress,
    describe,
    encode_corpus,
    read_corpus,
    resolve_corpus,
    split_tokens,
)
from engine.text.tokenizer import (
    Tokenizer,
    UnknownCharactersError,
    build_tokenizer,
    tokenizer_from_dict,
)
from engine.train.memory_check import check_fits
from engine.train.optim import build_optimizer
from engine.train.phases import Phases
from engine.train.state import TrainState


def new_run_id(cfg: RunConfig, runs_dir: Path) -> str:
    """``YYYYmmdd-HHMMSS-<model>``, with a suffix if that folder already exists."""
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{cfg.model}"
    run_id, n = base, 1
    while (runs_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


class RunExistsError(UserError, ValueError):
    """A new run was given the id of a folder that already holds a run."""


def refuse_used_folder(folder: RunFolder) -> None:
    """Refuse to start a new run in a folder another run already wrote (its checkpoints
    would be overwritten). A folder a live trainer holds is left to the lock's message.

    Raises:
        RunExistsError: the folder has events or checkpoints of an earlier run.
    """
    if folder.is_used() and not lock_is_live(folder.path):
        raise RunExistsError(
            f"The run folder {folder.path} already holds a run; a new run there would "
            f"overwrite its checkpoints. Continue it with `llmv0 train --resume "
            f"{folder.run_id}`, or give a new name with --run-id."
        )


class Resume(NamedTuple):
    """What a resume continues from: the config, the checkpoint, the run folder, and notes
    for RunStarted (config.json edits applied)."""

    config: RunConfig
    payload: dict[str, Any]
    run_dir: Path
    notes: list[str]


def open_resume(resume: str | Path, config: RunConfig | None, runs_dir: Path) -> Resume:
    """The config, checkpoint payload and run folder a resume continues from.

    ``resume`` is a run id, a run folder or a .pt file (a folder resumes from latest.pt).
    A given ``config`` may change anything but the schema's fixed-on-resume fields; so may
    an edit of the run folder's config.json (see :func:`config_file_edits`).

    Raises:
        CheckpointError: the checkpoint is unreadable, or another run's (see
            :func:`refuse_foreign`).
        ConfigError: a config or an edit of config.json changes a fixed-on-resume field.
    """
    path = existing_run(resume, runs_dir).checkpoint_for_resume()
    payload = ckpt.load_checkpoint(path)
    folder = RunFolder(path.parent)
    refuse_foreign(payload, path, folder, runs_dir)
    saved = ckpt.config_of(payload, path)
    if config is not None:
        changed = {
            name: f"the run was trained with {getattr(saved, name)!r}; a resumed run must keep it"
            for name in sorted(FIXED_ON_RESUME)
            if getattr(config, name) != getattr(saved, name)
        }
        if changed:
            raise ConfigError(changed, source=f"config for resuming {path}")
    cfg, notes = config_file_edits(folder, payload, saved, config)
    return Resume(cfg, payload, folder.path, notes)


def refuse_foreign(payload: dict[str, Any], path: Path, folder: RunFolder, runs_dir: Path) -> None:
    """Refuse a checkpoint written by another run than its folder's: resuming it there would
    mix two runs' histories and replace the folder's best.pt with the other run's.

    Raises:
        CheckpointError: with the commands that resume it as its own run.
    """
    owner = payload.get("run_id")
    if owner is None or owner == folder.run_id:  # files from before run ids were stored
        return
    try:
        home = folder_for_id(owner, runs_dir)
    except UserError:  # not a plain folder name: an edited file
        raise ckpt.CheckpointError(
            f"The checkpoint {path} names its run {owner!r}, which is no run id: it was "
            "edited or written by another program. Resume from another checkpoint."
        ) from None
    if home.latest_path.is_file() and home.path != folder.path:
        how = f"Its own folder {home.path} exists: resume it with `llmv0 train --resume {owner}`."
    else:
        how = (
            f"To resume it as its own run: `mkdir -p {shlex.quote(str(home.path))} && cp "
            f"{shlex.quote(str(path))} {shlex.quote(str(home.latest_path))} && llmv0 train "
            f"--resume {owner}` (or, if you renamed its folder, rename it back)."
        )
    raise ckpt.CheckpointError(
        f"The checkpoint {path} was written by run {owner}, not by {folder.run_id}, the run "
        f"of its folder {folder.path}: resuming it there would mix the two runs' histories "
        f"and replace that folder's {BEST}. {how}"
    )


def config_file_edits(
    folder: RunFolder, payload: dict[str, Any], saved: RunConfig, config: RunConfig | None
) -> tuple[RunConfig, list[str]]:
    """The config a resume trains with once the user's edits of config.json are applied.

    An edit is a field where config.json differs from the config the interrupted session
    started with (which the checkpoint keeps; live changes since then are in the
    checkpoint's config and stay). An edit is applied where a resume may change the field,
    the same rule as ``--resume --config``; a field given by ``config`` wins over it.

    Raises:
        ConfigError: config.json is invalid, or edits a fixed-on-resume field (each shown
            with both values).
    """
    base = config or saved
    started = payload.get("started_config")
    if started is None or not folder.config_path.is_file():
        return base, []
    source = f"edited config file {folder.config_path}"
    on_disk = validate_config(read_config_dict(folder.config_path), source=source).model_dump()
    before = ckpt.config_of({"config": started}, "the checkpoint").model_dump()
    edits = {name: value for name, value in on_disk.items() if value != before[name]}
    fixed = {
        name: f"edited to {value!r}, but the run was trained with {before[name]!r} and a "
        f"resumed run must keep it (undo the edit, or start a new run with this config)"
        for name, value in edits.items()
        if name in FIXED_ON_RESUME
    }
    if fixed:
        raise ConfigError(fixed, source=source)
    data, notes = base.model_dump(), []
    for name, value in edits.items():
        if config is not None and getattr(config, name) != getattr(saved, name):
            notes.append(f"config.json edit of {name} ignored: the given config sets it")
            continue
        notes.append(f"config.json edited: {name} {data[name]!r} -> {value!r}")
        data[name] = value
    return validate_config(data, source=source), notes


def failure_message(exc: Exception, run_dir: Path, run_id: str) -> str:
    """The one-paragraph RunFailed text for an exception that ended a run."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"The disk is full ({exc.strerror}): llmv0 could not write "
            f"{exc.filename or 'a file'}. To go on, free some space, then resume with "
            f"`llmv0 train --resume {run_id}`; the last good checkpoint is kept in {run_dir}."
        )
    if isinstance(exc, OSError):
        return (
            f"A file operation failed ({exc.strerror or exc}: {exc.filename or ''}). If the "
            f"disk is full, free some space; the last good checkpoint is kept in {run_dir}. "
            f"Resume with `llmv0 train --resume {run_id}`."
        )
    log.error("training failed", exc_info=exc)
    return (
        f"Training stopped on an unexpected error: {type(exc).__name__}: {exc}. The last "
        f"good checkpoint is kept in {run_dir}."
    )


def diverged_message(loss: float, step: int, cfg: RunConfig, run_dir: Path) -> str:
    """The RunFailed text for a loss that became NaN or infinite at 0-based ``step``."""
    return (
        f"The loss became {loss} at step {step + 1}: training diverged. The last good "
        f"checkpoint in {run_dir} is kept. Lower learning_rate (now {cfg.learning_rate:g}), "
        "keep grad_clip > 0 or add warmup_steps, then start again or resume."
    )


log = logging.getLogger(__name__)


@dataclass
class RunData:
    """The corpus as token ids, split, with what bits per character needs."""

    tokenizer: Tokenizer
    train: torch.Tensor
    val: torch.Tensor
    char_lengths: torch.Tensor  # characters each token id spells


def prepare_data(
    cfg: RunConfig,
    data_dir: Any,
    progress: Progress | None,
    saved_tokenizer: dict[str, Any] | None,
    phases: Phases | None = None,
) -> RunData:
    """Resolve and read the corpus, build (or restore) the tokenizer, encode and split.

    Each phase goes through ``phases``: named once it takes a while, and given up with
    engine.control.Cancelled when a stop is asked for (nothing of it is kept).
    """
    phases = phases or Phases()
    check = phases.begin(f"downloading {cfg.data_file}")
    path = resolve_corpus(cfg.data_file, data_dir, progress, check=check)
    size = _size(path)
    name = describe(path, size)
    phases.begin(f"reading {name}")
    text = read_corpus(path)
    if saved_tokenizer is not None:
        tokenizer = tokenizer_from_dict(saved_tokenizer)
    else:
        what = (
            "training the BPE tokenizer on"
            if cfg.tokenizer == "bpe"
            else "listing the characters of"
        )
        check = phases.begin(f"{what} {name}")
        tokenizer = build_tokenizer(cfg.tokenizer, text, cfg.bpe_vocab_size, check)
    check = phases.begin(f"encoding {name}")
    try:
        tokens = encode_corpus(tokenizer, text, check)
    except UnknownCharactersError as exc:  # only a restored vocabulary can miss any
        raise CorpusError(
            f"The corpus {path} now has characters the resumed model never saw "
            f"({', '.join(repr(c) for c in exc.chars[:10])}): it changed since the run "
            "started. Restore the original file or start a new run."
        ) from None
    del text  # the tokens replace it: free it before the splits copy them
    phases.end()
    splits = split_tokens(tokens, cfg.val_fraction, cfg.seq_length)
    return RunData(
        tokenizer=tokenizer,
        train=splits.train,
        val=splits.val,
        char_lengths=torch.tensor(tokenizer.char_lengths(), dtype=torch.long),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # read_corpus explains it
        return 0


@dataclass
class ModelState:
    """Model, optimizer, loss scaler and the bookkeeping a checkpoint restores."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    progress: TrainState


def build_state(
    cfg: RunConfig,
    vocab_size: int,
    device: torch.device,
    dtype: torch.dtype,
    payload: dict[str, Any] | None,
) -> ModelState:
    """A fresh model and optimizer (initialised from torch's global RNG, seeded by the
    caller), or the ones a checkpoint ``payload`` holds, with its RNG state restored.

    Raises:
        MemoryEstimateError: the run would not fit in the device's free memory.
    """
    check_fits(cfg, vocab_size, device)  # before allocating: a clear refusal, not a crash
    model = build_model(cfg, vocab_size).to(device)
    optimizer = build_optimizer(model, cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and dtype == torch.float16)
    state = ModelState(model, optimizer, scaler, TrainState())
    if payload is None:
        return state
    model.load_state_dict(payload["model"])  # shapes checked by load_checkpoint
    # The optimizer's state is checked against the optimizer the config builds: torch
    # checks only the group sizes, and a wrong type or shape would fail mid-step.
    try:
        _check_optimizer_state(payload.get("optimizer"), optimizer)
    except BadField as exc:
        raise ckpt.damaged("the checkpoint resumed", exc) from None
    optimizer.load_state_dict(payload["optimizer"])
    if payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
    torch.set_rng_state(payload["rng_cpu"])
    if torch.cuda.is_available() and payload.get("rng_cuda"):
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    state.progress = TrainState.from_payload(payload)
    return state


def _check_optimizer_state(saved: object, optimizer: object) -> None:
    """Check ``saved`` against ``optimizer``, part by part for a pair such as Muon + AdamW,
    whose state is ``{"muon": ..., "adamw": ...}`` (one torch state each).

    Raises:
        BadField: a part is missing or does not fit its optimizer.
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        check_optimizer(saved, optimizer.state_dict(), _params_in_id_order(optimizer))
        return
    parts = {k: v for k, v in vars(optimizer).items() if isinstance(v, torch.optim.Optimizer)}
    if not isinstance(saved, dict) or set(saved) != set(parts):
        raise BadField("optimizer", f"is not a {' + '.join(parts)} state")
    for name, part in parts.items():
        try:
            check_optimizer(saved[name], part.state_dict(), _params_in_id_order(part))
        except BadField as exc:  # name the part: optimizer.muon.state.0.momentum_buffer
            field = exc.field.replace("optimizer", f"optimizer.{name}", 1)
            raise BadField(field, exc.problem) from None


def _params_in_id_order(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The parameters as the optimizer's state_dict numbers them (group after group)."""
    return [p for group in optimizer.param_groups for p in group["params"]]
