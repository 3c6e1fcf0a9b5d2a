"""GPT: causal masking, KV-cache generation equal to recomputation, bf16 on CPU."""

from __future__ import annotations

import pytest
import torch

from engine.config.schema import RunConfig
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate_stream, sample_next
from engine.models import build_model
from engine.models.gpt import GPT
from engine.models.rotary import Rotary
from engine.text.tokenizer import CharTokenizer

VOCAB = 11


# The default architecture, and the rotary + ReLU-squared variant the CPU presets use.
VARIANTS = [{}, {"position_encoding": "rope", "activation": "relu2"}]
variants = pytest.mark.parametrize("variant", VARIANTS, ids=["learned-gelu", "rope-relu2"])


def tiny(block_size: int = 16, slide_stride: int = 0, seed: int = 0, **variant: str) -> GPT:
    torch.manual_seed(seed)
    model = GPT(
        VOCAB, block_size, n_layer=2, n_head=2, n_embd=16, slide_stride=slide_stride, **variant
    )
    return model.eval()


def test_registry_builds_gpt_with_tied_weights() -> None:
    cfg = RunConfig(model="gpt", n_layer=2, n_head=2, n_embd=16, seq_length=8)
    model = build_model(cfg, VOCAB)
    assert isinstance(model, GPT)
    assert model.block_size == 8
    assert model.lm_head.weight is model.wte.weight


def test_forward_shapes_and_loss() -> None:
    model = tiny()
    idx = torch.randint(VOCAB, (3, 10))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 10, VOCAB)
    assert loss is not None and loss.ndim == 0 and torch.isfinite(loss)
    assert model(idx)[1] is None


def test_longer_than_block_size_is_refused() -> None:
    with pytest.raises(ValueError, match="block_size"):
        tiny(block_size=8)(torch.zeros(1, 9, dtype=torch.long))


@variants
def test_future_tokens_cannot_change_earlier_logits(variant: dict) -> None:
    model = tiny(**variant)
    idx = torch.randint(VOCAB, (2, 12))
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % VOCAB
    before, _ = model(idx)
    after, _ = model(changed)
    torch.testing.assert_close(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7:], after[:, 7:])


@variants
def test_step_logits_equal_forward_logits(variant: dict) -> None:
    model = tiny(**variant)
    idx = torch.randint(VOCAB, (2, 14))
    full, _ = model(idx)
    # A prompt of 5 tokens, then a chunk of 3 after a non-empty cache, then one at a time.
    logits, state = model.step(idx[:, :5], model.init_state(2))
    torch.testing.assert_close(logits, full[:, 4])
    logits, state = model.step(idx[:, 5:8], state)
    torch.testing.assert_close(logits, full[:, 7])
    for t in range(8, 14):
        logits, state = model.step(idx[:, t : t + 1], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def reference_generate(model: GPT, ids: list[int], n: int, seed: int) -> list[int]:
    """No cache: recompute a forward pass over the whole current window for every token.

    The window follows the documented policy: it grows to block_size, then restarts from
    the last ``block_size - slide_stride + 1`` tokens (stride 1: nanoGPT's crop).
    """
    gen = torch.Generator().manual_seed(seed)
    keep = model.block_size - model.slide_stride + 1
    window = ids[-keep:] if len(ids) > model.block_size else list(ids)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(torch.tensor([window]))
            token = int(sample_next(logits[:, -1].float(), 1.0, generator=gen))
            out.append(token)
            window = [*window, token]
            if len(window) > model.block_size:
                window = window[-keep:]
    return out


@variants
@pytest.mark.parametrize("stride", [1, 3, 0])
def test_kv_cache_generation_equals_recomputation_past_block_size(
    stride: int, variant: dict
) -> None:
    model = tiny(block_size=8, slide_stride=stride, **variant)
    tokenizer = CharTokenizer("abcdefghijk")
    prompt = "abcab"
    settings = SampleSettings(length=30, temperature=1.0, seed=7)  # ~4x the block size
    cached = "".join(generate_stream(model, tokenizer, prompt, settings))
    expected = tokenizer.decode(reference_generate(model, tokenizer.encode(prompt), 30, 7))
    assert cached == expected


def test_rotary_scores_depend_only_on_the_offset() -> None:
    rope = Rotary(head_size=8, block_size=32)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(q_pos: int, k_pos: int) -> float:
        return float((rope(q, q_pos) * rope(k, k_pos)).sum())

    assert score(9, 4) == pytest.approx(score(25, 20), abs=1e-5)  # same offset, 5
    assert score(9, 4) != pytest.approx(score(9, 6), abs=1e-3)
    # A rotation keeps lengths, and position 0 is the identity.
    torch.testing.assert_close(rope(q, 17).norm(), q.norm())
    torch.testing.assert_close(rope(q, 0), q)


def test_rope_model_has_no_position_table_and_relu2_is_squared() -> None:
    model = tiny(position_encoding="rope", activation="relu2")
    assert model.wpe is None and "wpe.weight" not in model.state_dict()
    assert not any("cos" in name for name in model.state_dict())  # derived, not saved
    mlp = model.blocks[0].mlp
    x = torch.randn(2, 3, 16)
    expected = mlp.proj(torch.relu(mlp.fc(x)) ** 2)
    torch.testing.assert_close(mlp(x), expected)
    with pytest.raises(ValueError, match="position_encoding"):
        GPT(VOCAB, 8, position_encoding="alibi")
    with pytest.raises(ValueError, match="activation"):
        GPT(VOCAB, 8, activation="swish")


def test_stride_one_is_nanogpt_crop() -> None:
    model = tiny(block_size=6, slide_stride=1)
    idx = torch.randint(VOCAB, (1, 20))
    logits, state = model.step(idx[:, :6], None)
    for t in range(6, 20):
        logits, state = model.step(idx[:, t : t + 1], state)
        crop, _ = model(idx[:, t - 5 : t + 1])  # the last block_size tokens
        torch.testing.assert_close(logits, crop[:, -1], atol=1e-5, rtol=1e-5)


def test_long_prompt_is_cropped_to_the_window() -> None:
    model = tiny(block_size=8, slide_stride=1)
    idx = torch.randint(VOCAB, (1, 30))
    logits, state = model.step(idx, None)
    crop, _ = model(idx[:, -8:])
    torch.testing.assert_close(logits, crop[:, -1], atol=1e-5, rtol=1e-5)
    assert state.length == 8


def test_bf16_autocast_trains_on_cpu() -> None:
    model = tiny().train()
    idx = torch.randint(VOCAB, (4, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(idx, idx)
    assert logits.dtype == torch.bfloat16
    assert loss is not None and loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_bf16_generation_runs_on_cpu() -> None:
    model = tiny(block_size=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, state = model.step(torch.randint(VOCAB, (1, 5)), None)
        for _ in range(10):
            logits, state = model.step(logits.argmax(-1, keepdim=True), state)
    assert torch.isfinite(logits.float()).all()


def test_dropout_is_off_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = GPT(VOCAB, 8, n_layer=1, n_head=1, n_embd=8, dropout=0.5).eval()
    idx = torch.randint(VOCAB, (1, 8))
    torch.testing.assert_close(model(idx)[0], model(idx)[0])


# --- through the trainer (fixtures from tests/conftest.py) ---

GPT_FIELDS = {"model": "gpt", "n_layer": 2, "n_head": 2, "n_embd": 16, "dropout": 0.1}


@pytest.mark.parametrize(
    "recipe",
    [
        {"optimizer": "adamw"},
        {"optimizer": "muon"},
        {"optimizer": "adamw", "position_encoding": "rope", "activation": "relu2"},
        {"optimizer": "muon", "position_encoding": "rope", "activation": "relu2"},
    ],
    ids=["adamw", "muon", "rope-relu2", "muon-rope-relu2"],
)
def test_gpt_resume_continues_exactly(make_config, runs_dir, new_recorder, recipe) -> None:
    from engine.control import Control
    from engine.events import StepCompleted
    from engine.train.trainer import Trainer

    cfg = make_config(
        max_steps=12, eval_interval=4, lr_schedule="cosine", warmup_steps=3,
        weight_decay=0.1, **recipe, **GPT_FIELDS,
    )  # fmt: skip
    straight = new_recorder()
    Trainer(cfg, runs_dir=runs_dir, run_id="straight").run(straight)

    first, control = new_recorder(), Control()

    def stop_at_6(event) -> None:
        first(event)
        if isinstance(event, StepCompleted) and event.step == 6:
            control.stop()

    Trainer(cfg, runs_dir=runs_dir, run_id="split").run(stop_at_6, control)
    second = new_recorder()
    result = Trainer(runs_dir=runs_dir, resume="split").run(second)
    assert result.reason == "completed" and result.step == 12

    def losses(rec) -> dict[int, float]:
        return {e.step: e.loss for e in rec.of(StepCompleted)}

    assert {**losses(first), **losses(second)} == losses(straight)  # exact ==


def test_gpt_early_stopping_on_a_plateau(make_config, runs_dir, recorder) -> None:
    from engine.train.trainer import Trainer

    cfg = make_config(
        max_steps=40, learning_rate=1e-10, eval_interval=2, early_stopping_patience=2,
        **{**GPT_FIELDS, "dropout": 0.0},
    )  # fmt: skip
    result = Trainer(cfg, runs_dir=runs_dir).run(recorder)
    assert result.reason == "early_stopping" and result.step == 6
