"""Checkpoints: round trip to identical logits, clear errors for bad files, atomic saves."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
import torch

from engine.config.schema import RunConfig
from engine.models import build_model
from engine.run import checkpoint as ckpt
from engine.run.checkpoint import CheckpointError
from engine.run.folder import load_for_inference
from engine.text.tokenizer import CharTokenizer
from engine.train.trainer import Trainer


@pytest.fixture
def trained(make_config, runs_dir) -> Path:
    """A run folder with latest.pt and best.pt after a short run."""
    Trainer(make_config(max_steps=10, eval_interval=5), runs_dir=runs_dir, run_id="r").run()
    return runs_dir / "r"


def small_payload(cfg: RunConfig | None = None) -> tuple[dict, torch.nn.Module]:
    cfg = cfg or RunConfig(embedding_dim=8, hidden_dim=16, seq_length=8)
    tok = CharTokenizer.from_text("abcdefg \n")
    torch.manual_seed(0)
    model = build_model(cfg, tok.vocab_size)
    optimizer = torch.optim.Adam(model.parameters())
    payload = ckpt.make_payload(
        model=model, optimizer=optimizer, config=cfg, tokenizer=tok, step=3,
        best_val_loss=1.5, evals_since_best=0, run_id="x",
    )  # fmt: skip
    return payload, model


@pytest.mark.parametrize(
    "cfg",
    [
        RunConfig(embedding_dim=8, hidden_dim=16, num_layers=2, seq_length=8),
        RunConfig(model="gpt", n_layer=2, n_head=2, n_embd=16, seq_length=8),
    ],
    ids=["lstm", "gpt"],
)
def test_round_trip_gives_identical_logits(tmp_path: Path, cfg: RunConfig) -> None:
    payload, model = small_payload(cfg)
    path = tmp_path / "m.pt"
    ckpt.atomic_torch_save(payload, path)
    loaded, tok, loaded_cfg = load_for_inference(path)
    assert loaded_cfg == cfg and tok.chars == CharTokenizer.from_text("abcdefg \n").chars
    assert not loaded.training
    idx = torch.tensor([tok.encode("abc defg"), tok.encode("gfedcba ")])
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(idx)[0], loaded(idx)[0])


def test_trained_run_round_trip(trained: Path) -> None:
    payload = ckpt.load_checkpoint(trained / "latest.pt")
    assert payload["step"] == 10 and payload["run_id"] == "r"
    for key in ("model", "optimizer", "rng_cpu", "config", "tokenizer", "best_val_loss"):
        assert key in payload
    model, tok, cfg = ckpt.model_from_payload(payload)
    again, _, _ = load_for_inference("r", runs_dir=trained.parent)  # by run id
    idx = torch.tensor([tok.encode("ROMEO: But soft")])
    with torch.no_grad():
        assert torch.equal(model(idx)[0], again(idx)[0])
    assert cfg.hidden_dim == 32


def test_files_load_with_weights_only(trained: Path) -> None:
    for name in ("latest.pt", "best.pt"):
        payload = torch.load(trained / name, weights_only=True)
        assert payload["format"] == ckpt.FORMAT


def test_truncated_file(trained: Path, tmp_path: Path) -> None:
    data = (trained / "latest.pt").read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(bad)
    assert "truncated, corrupt or not a PyTorch file" in str(info.value)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x80", b"PK\x03\x04garbage", b"hello world"])
def test_garbage_bytes(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot be read"):
        ckpt.load_checkpoint(bad)


def test_random_bytes_always_give_a_checkpoint_error(tmp_path: Path) -> None:
    """Random bytes read as a legacy pickle fail in many ways (IndexError, KeyError,
    struct.error, UnicodeDecodeError...): every one must become a CheckpointError."""
    bad = tmp_path / "random.pt"
    for seed in range(300):
        rng = random.Random(seed)
        size = rng.choice([1, 2, 10, 100, 4096])
        bad.write_bytes(bytes(rng.getrandbits(8) for _ in range(size)))
        with pytest.raises(CheckpointError, match="cannot be read"):
            ckpt.load_checkpoint(bad)


def test_foreign_pytorch_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3), "epoch": 4}, path)
    with pytest.raises(CheckpointError, match="not an llmv0 checkpoint"):
        ckpt.load_checkpoint(path)
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not an llmv0 checkpoint"):
        ckpt.load_checkpoint(path)


def test_pickled_module_is_refused_by_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="cannot be read"):
        ckpt.load_checkpoint(path)


def test_future_version(tmp_path: Path) -> None:
    payload, _ = small_payload()
    payload["version"] = 99
    path = tmp_path / "v99.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        ckpt.load_checkpoint(path)


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    payload, _ = small_payload()
    payload["config"]["hidden_dim"] = 24
    with pytest.raises(CheckpointError, match="do not fit"):
        ckpt.model_from_payload(payload)


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        ckpt.load_checkpoint(tmp_path / "nope.pt")


def test_atomic_save_keeps_the_old_file_when_saving_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload, _ = small_payload()
    path = tmp_path / "latest.pt"
    ckpt.atomic_torch_save(payload, path)
    before = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.truncate(100)  # half-written...
        raise OSError(28, "No space left on device")  # ...then the disk fills

    monkeypatch.setattr(torch, "save", failing_save)
    payload["step"] = 99
    with pytest.raises(OSError, match="No space left"):
        ckpt.atomic_torch_save(payload, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temp file left
    assert ckpt.load_checkpoint(path)["step"] == 3


def test_trainer_reports_a_failing_save_as_run_failed(
    make_config, runs_dir, recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(obj, fh, *args, **kwargs):
        raise OSError(28, "No space left on device", "latest.pt")

    monkeypatch.setattr(torch, "save", full_disk)
    result = Trainer(make_config(max_steps=5), runs_dir=runs_dir, run_id="r").run(recorder)
    assert result.type == "RunFailed"
    assert "No space left on device" in result.error and "free some space" in result.error


def test_payload_has_only_plain_data() -> None:
    payload, _ = small_payload()
    pickle.dumps(payload)  # no modules, no open handles
    assert isinstance(payload["config"], dict) and isinstance(payload["tokenizer"], dict)


def test_an_unreadable_stored_tokenizer_is_a_checkpoint_error() -> None:
    payload, _ = small_payload()
    payload["tokenizer"] = {"kind": "nope"}
    with pytest.raises(CheckpointError, match="tokenizer stored in"):
        ckpt.model_from_payload(payload)
