"""RunConfig: the one validated schema for every hyperparameter, read by the CLI and the TUI.

Every field carries a description and its allowed range; front doors (a JSON file, CLI
``--set key=value`` overrides, the dashboard's editor) all validate through
:func:`validate_config`, which reports every bad field at once in a :class:`ConfigError`.
Fields marked ``live`` may change while a run is going; the trainer applies them between
optimizer steps.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from engine.config.fields import ConfigError, describe_error, range_phrase
from engine.config.fields import schema_field as _field  # short: RunConfig's body uses it
from engine.config.fields import start_group as _group
from engine.config.files import read_config_dict, resolve_preset_path

MIN_TEMPERATURE = 1e-3
"""Below this, dividing logits by the temperature overflows; 0 means greedy instead."""


class RunConfig(BaseModel):
    """Every hyperparameter of a run. Defaults are the seed's, with a short reason each."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    # --- data (the seed's keys) ---
    _group("data")
    data_file: str = _field(
        "shakespeare.txt",
        "Corpus: 'shakespeare.txt' (downloaded and cached under data/) or a path to any "
        "UTF-8 text file.",
        min_length=1,
        fixed=True,
    )
    seq_length: int = _field(
        64,
        "Characters of context per training window (the GPT's block size).",
        ge=2,
        le=4096,
        fixed=True,
    )
    batch_size: int = _field(32, "Windows per optimizer step.", ge=1, le=4096, fixed=True)
    val_fraction: float = _field(
        0.1,
        "Fraction of the corpus, taken from its end, held out for validation.",
        gt=0,
        lt=0.5,
        fixed=True,
    )
    tokenizer: Literal["char", "bpe"] = _field(
        "char",
        "How text becomes tokens: 'char' (one token per character) or 'bpe' (byte-level "
        "byte-pair encoding trained on the corpus; several characters per token, any UTF-8 "
        "prompt). seq_length counts tokens.",
        fixed=True,
    )
    bpe_vocab_size: int = _field(
        1024,
        "BPE: vocabulary size, 256 byte tokens plus learned merges (fewer if the corpus runs "
        "out of repeated pairs); ignored by the char tokenizer.",
        ge=256,
        le=65_536,
        fixed=True,
    )

    # --- model ---
    _group("model")
    model: Literal["lstm", "gpt"] = _field(
        "lstm", "Architecture: 'lstm' (the seed's) or 'gpt' (decoder-only Transformer).", fixed=True
    )
    embedding_dim: int = _field(
        64, "LSTM: size of each character's embedding.", ge=1, le=4096, fixed=True
    )
    hidden_dim: int = _field(128, "LSTM: hidden state size.", ge=1, le=8192, fixed=True)
    num_layers: int = _field(
        1, "LSTM: stacked layers (dropout applies between them).", ge=1, le=16, fixed=True
    )
    n_layer: int = _field(4, "GPT: Transformer blocks.", ge=1, le=48, fixed=True)
    n_head: int = _field(4, "GPT: attention heads (must divide n_embd).", ge=1, le=64, fixed=True)
    n_embd: int = _field(128, "GPT: width of the residual stream.", ge=8, le=8192, fixed=True)
    position_encoding: Literal["learned", "rope"] = _field(
        "learned",
        "GPT: 'learned' absolute position embeddings, or 'rope' (rotary: each head's queries "
        "and keys are rotated by position, so attention sees relative offsets).",
        fixed=True,
    )
    activation: Literal["gelu", "relu2"] = _field(
        "gelu",
        "GPT: MLP non-linearity, 'gelu' or 'relu2' (ReLU squared, cheaper on CPU).",
        fixed=True,
    )
    dropout: float = _field(0.0, "Dropout probability (0 disables it).", ge=0.0, lt=1.0)

    # --- optimisation ---
    _group("optimiser and schedule")
    epochs: int = _field(
        10,
        "Passes over the training split; one epoch = ceil(train tokens / "
        "(batch_size * seq_length)) steps.",
        ge=1,
        le=100_000,
    )
    max_steps: int = _field(
        0,
        "Total optimizer steps; overrides epochs when > 0 (0 = epochs x steps per epoch).",
        ge=0,
        le=100_000_000,
    )
    learning_rate: float = _field(0.001, "Peak learning rate.", gt=0.0, le=10.0, live=True)
    optimizer: Literal["adam", "adamw", "rmsprop", "muon"] = _field(
        "adam",
        "Optimizer: 'adam', 'adamw' (decoupled weight decay), 'rmsprop', or 'muon' "
        "(orthogonalised steps for weight matrices, AdamW for the rest).",
        fixed=True,
    )
    weight_decay: float = _field(0.0, "Weight decay (L2 for adam/rmsprop).", ge=0.0, le=1.0)
    beta2: float = _field(0.99, "Adam/AdamW second-moment decay.", gt=0.0, lt=1.0)
    grad_clip: float = _field(
        1.0, "Clip the global gradient norm to this value (0 disables clipping).", ge=0.0, le=1e6
    )
    grad_accum_steps: int = _field(
        1, "Micro-batches accumulated per optimizer step.", ge=1, le=1024, fixed=True
    )
    lr_schedule: Literal["constant", "cosine", "step", "wsd"] = _field(
        "constant",
        "Learning-rate schedule after warmup: 'constant', 'cosine' (to min_lr_ratio), "
        "'step' (multiply by lr_gamma every lr_step_size steps) or 'wsd' (warmup-stable-"
        "decay: hold the peak, then fall linearly to min_lr_ratio over the last "
        "decay_fraction of the run).",
    )
    warmup_steps: int = _field(0, "Linear warmup steps from 0 to learning_rate.", ge=0)
    min_lr_ratio: float = _field(
        0.1, "Cosine schedule floor, as a fraction of learning_rate.", ge=0.0, le=1.0
    )
    lr_step_size: int = _field(1000, "Step schedule: steps between decays.", ge=1)
    lr_gamma: float = _field(0.5, "Step schedule: decay factor.", gt=0.0, le=1.0)
    decay_fraction: float = _field(
        0.2, "wsd schedule: fraction of the run (steps or time budget) spent decaying.",
        gt=0.0, le=1.0,
    )  # fmt: skip
    time_budget_s: float = _field(
        0.0,
        "Train for this many seconds of wall time, pauses excluded (0 = by steps/epochs). "
        "The schedule follows the fraction of the budget used and the final evaluation "
        "fits inside it; max_steps > 0 still caps the steps.",
        ge=0.0,
        le=365 * 86400.0,
    )

    # --- evaluation, checkpoints, stopping ---
    _group("evaluation and checkpoints")
    eval_interval: int = _field(
        200, "Evaluate on the validation split every this many steps.", ge=1, live=True
    )
    eval_max_windows: int = _field(
        0,
        "Validation windows used by periodic evaluations (0 = the whole validation split).",
        ge=0,
    )
    checkpoint_interval: int = _field(
        0, "Also save latest.pt every this many steps (0 = at each evaluation only).", ge=0
    )
    eval_interval_s: float = _field(
        0.0,
        "Also evaluate every this many seconds of training (0 = by eval_interval steps only).",
        ge=0.0,
    )
    checkpoint_interval_s: float = _field(
        300.0,
        "Also save latest.pt every this many seconds, so a kill before the first evaluation "
        "still leaves a resumable run (0 = by steps and evaluations only).",
        ge=0.0,
    )
    keep_checkpoints: int = _field(
        0,
        "Also keep a step-NNNNNNN.pt at each evaluation, pruned to the newest N "
        "(0 = only latest.pt and best.pt).",
        ge=0,
        le=10_000,
    )
    early_stopping_patience: int = _field(
        0,
        "Stop after this many evaluations without a better validation loss (0 = never).",
        ge=0,
        le=10_000,
    )
    log_tensorboard: bool = _field(
        False,
        "Also write TensorBoard event files to <run>/tensorboard (needs "
        "`pip install 'llmv0[tensorboard]'`).",
    )
    seed: int = _field(
        1337,
        "Seeds data order, initialisation, dropout and sampling.",
        ge=0,
        le=2**63 - 1,
        fixed=True,
    )

    # --- hardware ---
    _group("hardware")
    device: Literal["auto", "cpu", "cuda", "mps"] = _field(
        "auto", "Where to train: 'auto' picks cuda, then mps, then cpu."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = _field(
        "float32",
        "Compute precision: 'auto' picks the fastest safe one (bf16 autocast where supported).",
    )
    compile: bool = _field(
        False,
        "Compile the model with torch.compile when the run is long enough to repay the "
        "compile time (decided after a few timed eager steps; falls back visibly).",
    )
    num_threads: int = _field(
        0,
        "CPU threads for PyTorch (0 = the fastest of 1..cores, measured on the first training "
        "steps and again when the speed drifts or a core may have come free).",
        ge=0,
        le=1024,
    )
    memory_check: bool = _field(
        True,
        "Refuse a run whose estimated memory (weights, gradients, optimizer state, "
        "activations) exceeds what the device has free; false to try anyway.",
    )

    # --- samples shown during training ---
    _group("sampling")
    sample_prompt: str = _field(
        "ROMEO:",
        "Prompt for the sample taken at each evaluation.",
        max_length=10_000,  # a 300 MB prompt once stalled the trainer between steps
        live=True,
    )
    sample_length: int = _field(
        200,
        "Characters sampled at each evaluation (0 disables samples).",
        ge=0,
        le=10_000,
        live=True,
    )
    sample_temperature: float = _field(
        0.8, "Sampling temperature (0 = greedy argmax).", ge=0.0, le=5.0, live=True
    )
    sample_top_k: int = _field(
        0, "Keep only the k most likely characters (0 = all).", ge=0, le=100_000, live=True
    )
    sample_top_p: float = _field(
        1.0,
        "Nucleus sampling: smallest set whose mass reaches p (1 = all).",
        gt=0.0,
        le=1.0,
        live=True,
    )

    @model_validator(mode="after")
    def _cross_field(self) -> RunConfig:
        problems = cross_field_problems(self)
        if problems:
            raise ValueError("; ".join(f"{k}: {v}" for k, v in problems.items()))
        return self


def cross_field_problems(cfg: RunConfig) -> dict[str, str]:
    """Constraints between fields, named by the field a user should change."""
    problems: dict[str, str] = {}
    if cfg.model == "gpt" and cfg.n_embd % cfg.n_head != 0:
        problems["n_head"] = f"must divide n_embd ({cfg.n_embd}); got {cfg.n_head}"
    if 0 < cfg.sample_temperature < MIN_TEMPERATURE:  # logits / 1e-45 overflow to inf
        problems["sample_temperature"] = (
            f"must be 0 (greedy) or at least {MIN_TEMPERATURE}; got {cfg.sample_temperature}"
        )
    return problems


def _flagged(flag: str) -> frozenset[str]:
    return frozenset(
        name
        for name, info in RunConfig.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(flag)
    )


LIVE_FIELDS = _flagged("live")
FIXED_ON_RESUME = _flagged("fixed")


def live_update(cfg: RunConfig, name: str, value: Any) -> RunConfig:
    """``cfg`` with a live-editable field changed, validated; ConfigError otherwise."""
    if name not in LIVE_FIELDS:
        raise ConfigError(
            {
                name: "cannot change during a run (live fields: "
                f"{', '.join(sorted(LIVE_FIELDS))}); stop the run and edit the config"
            },
            source="live change",
        )
    return validate_config({**cfg.model_dump(), name: value}, source="live change")


def field_range(name: str) -> str:
    """The allowed values of a field, as a short human phrase (for errors and the editor)."""
    return range_phrase(RunConfig.model_fields[name])


def validate_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Build a RunConfig from a plain dict, or raise ConfigError naming every bad field."""
    if not isinstance(data, dict):
        raise ConfigError({"config": "must be a JSON object of field: value pairs"}, source)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            name, why = describe_error(err, RunConfig.model_fields)
            problems.setdefault(name, why)
        raise ConfigError(problems, source) from None


def parse_value(name: str, text: str) -> Any:
    """Turn the text of a ``--set name=value`` or an editor box into a typed value.

    Values are parsed as JSON when they look like JSON (numbers, true/false), else kept as
    text, so ``--set sample_prompt=JULIET:`` needs no quotes. Type checking is left to
    :func:`validate_config`, so every bad field is reported together.
    """
    ann = RunConfig.model_fields[name].annotation if name in RunConfig.model_fields else None
    if ann is str:
        return text
    stripped = text.strip()
    if ann is bool and stripped.lower() in {"true", "false", "yes", "no", "on", "off", "1", "0"}:
        return stripped.lower() in {"true", "yes", "on", "1"}
    try:
        return json.loads(stripped)
    except (json.JSONDecodeError, ValueError):
        return stripped


def apply_overrides(
    base: dict[str, Any], overrides: list[str], source: str = "--set overrides"
) -> dict[str, Any]:
    """Apply ``key=value`` strings to a config dict; malformed pairs become ConfigErrors.

    Unknown keys are kept, so :func:`validate_config` reports them with every other problem.
    """
    data = dict(base)
    problems: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems[item or "(empty)"] = "expected key=value, for example --set batch_size=64"
            continue
        data[key] = parse_value(key, value)
    if problems:
        raise ConfigError(problems, source)
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> RunConfig:
    """Load a config from a JSON file or preset name; None gives the defaults.

    Raises:
        ConfigError: the file is missing, not JSON, or has invalid fields.
    """
    if path is None:
        return RunConfig()
    file = resolve_preset_path(os.fspath(path))
    return validate_config(read_config_dict(file), source=f"config file {file}")


def diff_from_defaults(cfg: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Fields whose value differs from the default: name -> (default, value)."""
    default = RunConfig().model_dump()
    return {k: (default[k], v) for k, v in cfg.model_dump().items() if default[k] != v}
