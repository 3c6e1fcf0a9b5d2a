"""RunConfig: the seed's defaults, every error path, --set parsing, live fields, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config.fields import ConfigError
from engine.config.files import config_dir, save_config
from engine.config.schema import (
    LIVE_FIELDS,
    RunConfig,
    apply_overrides,
    diff_from_defaults,
    field_range,
    load_config,
    parse_value,
    validate_config,
)

SEED_DEFAULTS = {
    "data_file": "shakespeare.txt",
    "seq_length": 64,
    "batch_size": 32,
    "embedding_dim": 64,
    "hidden_dim": 128,
    "epochs": 10,
    "learning_rate": 0.001,
}


def test_defaults_equal_default_config_json() -> None:
    path = config_dir() / "default_config.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == RunConfig().model_dump()
    assert load_config(path) == RunConfig()


def test_defaults_keep_the_seeds_keys_and_values() -> None:
    cfg = RunConfig().model_dump()
    for key, value in SEED_DEFAULTS.items():
        assert cfg[key] == value, key
    assert cfg["val_fraction"] == 0.1
    assert cfg["model"] == "lstm"


def test_issue_fields_exist_with_description_and_range() -> None:
    required = {
        "model", "num_layers", "dropout", "optimizer", "weight_decay", "grad_clip",
        "lr_schedule", "warmup_steps", "val_fraction", "eval_interval", "seed", "device",
        "early_stopping_patience", "sample_temperature", "sample_top_k", "sample_top_p",
    }  # fmt: skip
    assert required <= set(RunConfig.model_fields)
    for name, info in RunConfig.model_fields.items():
        assert info.description, name
        assert field_range(name), name
    assert "'adam', 'adamw', 'rmsprop', 'muon'" in field_range("optimizer")
    assert "'constant', 'cosine', 'step'" in field_range("lr_schedule")
    assert "'auto', 'cpu', 'cuda', 'mps'" in field_range("device")


def test_field_range_phrases() -> None:
    assert field_range("seq_length") == "an integer in [2, 4096]"
    assert field_range("val_fraction") == "a number in (0, 0.5)"
    assert field_range("warmup_steps") == "an integer >= 0"
    assert field_range("compile") == "true or false"
    assert field_range("data_file") == "a non-empty string"


def test_every_bad_field_is_reported_at_once_with_allowed_values() -> None:
    data = {
        "seq_length": 1,  # below range
        "batch_size": "many",  # wrong type
        "val_fraction": 0.9,  # above range
        "optimizer": "sgd",  # bad literal
        "lerning_rate": 0.1,  # unknown field
        "dropout": 1.0,  # exclusive bound
    }
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    problems = info.value.problems
    assert set(problems) == {
        "seq_length", "batch_size", "val_fraction", "optimizer", "lerning_rate", "dropout",
    }  # fmt: skip
    assert "[2, 4096]" in problems["seq_length"] and "got 1" in problems["seq_length"]
    assert "(0, 0.5)" in problems["val_fraction"]
    assert "'adam'" in problems["optimizer"] and "'sgd'" in problems["optimizer"]
    assert "unknown field" in problems["lerning_rate"]
    assert "[0.0, 1.0)" in problems["dropout"]
    # Wrong types also say what is allowed, not only what was wrong.
    assert "an integer in [1, 4096]" in problems["batch_size"]
    message = str(info.value)
    assert "6 invalid fields" in message
    for name in problems:
        assert name in message


def test_cross_field_problem_is_named_by_field() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({"model": "gpt", "n_embd": 130, "n_head": 4})
    assert set(info.value.problems) == {"n_head"}
    assert "must divide n_embd (130)" in info.value.problems["n_head"]
    # The constraint only binds the GPT.
    assert validate_config({"model": "lstm", "n_embd": 130, "n_head": 4}).n_head == 4


def test_non_object_config_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config([1, 2])  # type: ignore[arg-type]
    assert "JSON object" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.json")
    assert "file not found" in str(info.value)
    assert "nope.json" in str(info.value)


def test_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"seq_length": 32,', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not valid JSON" in str(info.value)


def test_non_object_json_file(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "JSON object" in str(info.value)


def test_invalid_fields_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"seq_length": 0, "device": "tpu"}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert set(info.value.problems) == {"seq_length", "device"}
    assert str(path) in str(info.value)


@pytest.mark.parametrize("item", ["batch_size", "=3", "", "  =x"])
def test_malformed_set_is_a_config_error(item: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides({}, ["seq_length=8", item])
    assert "expected key=value" in str(info.value)


def test_overrides_keep_unknown_keys_for_validation() -> None:
    data = apply_overrides(RunConfig().model_dump(), ["batchsize=4", "seq_length=0"])
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    assert set(info.value.problems) == {"batchsize", "seq_length"}


def test_parse_value() -> None:
    assert parse_value("batch_size", "64") == 64
    assert parse_value("learning_rate", "3e-4") == pytest.approx(3e-4)
    assert parse_value("compile", "yes") is True
    assert parse_value("compile", "off") is False
    assert parse_value("optimizer", "adamw") == "adamw"
    # String fields keep the text verbatim, even when it looks like JSON.
    assert parse_value("sample_prompt", "JULIET:") == "JULIET:"
    assert parse_value("sample_prompt", "123") == "123"
    assert parse_value("data_file", " my file.txt") == " my file.txt"
    # Unknown names still parse, so validation can report them.
    assert parse_value("no_such_field", "5") == 5
    cfg = validate_config(
        apply_overrides(
            RunConfig().model_dump(), ["learning_rate=3e-4", "compile=true", "sample_top_k=5"]
        )
    )
    assert (cfg.learning_rate, cfg.compile, cfg.sample_top_k) == (3e-4, True, 5)


def test_live_fields() -> None:
    assert {"learning_rate", "eval_interval", "sample_temperature", "sample_top_k"} <= LIVE_FIELDS
    assert "seq_length" not in LIVE_FIELDS
    assert "model" not in LIVE_FIELDS
    assert set(RunConfig.model_fields) >= LIVE_FIELDS


def test_validate_assignment() -> None:
    cfg = RunConfig()
    with pytest.raises(ValueError):
        cfg.batch_size = 0


def test_save_load_round_trip(tmp_path: Path) -> None:
    cfg = RunConfig(model="gpt", n_embd=96, n_head=3, learning_rate=3e-4, sample_prompt="X:")
    path = tmp_path / "sub" / "cfg.json"
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["cfg.json"]  # no temp file left
    assert diff_from_defaults(cfg)["learning_rate"] == (0.001, 3e-4)
    assert load_config(None) == RunConfig()


def test_the_plain_data_table_matches_the_schema() -> None:
    """engine/config/table.json (the dashboard's first frame, drawn before pydantic loads) is
    written from RunConfig: a field added, renamed or re-described there must be written
    there too."""
    from engine.config import table as config_table

    expected = config_table.table_text()
    written = config_table.TABLE_FILE.read_text(encoding="utf-8")
    assert written == expected, (
        "engine/config/table.json is out of date: run `python -m engine.config.table`"
    )
    assert config_table.defaults() == RunConfig().model_dump()
    assert config_table.LIVE_NAMES == LIVE_FIELDS
    assert [row.allowed for row in config_table.FIELDS] == [
        field_range(name) for name in RunConfig.model_fields
    ]


def test_rewriting_the_table_reports_a_change(tmp_path: Path) -> None:
    from engine.config import table as config_table

    path = tmp_path / "config_table.json"
    path.write_text("[]\n", encoding="utf-8")
    assert config_table.rewrite(path) is True
    assert config_table.rewrite(path) is False
    assert path.read_text(encoding="utf-8") == config_table.table_text()
