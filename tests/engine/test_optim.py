"""Optimizer parameter groups and the learning-rate schedule at chosen steps."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

from engine.config.schema import RunConfig
from engine.models import build_model
from engine.train.optim import Muon, MuonAdamW, build_optimizer, lr_at, orthogonalize, param_groups


def gpt_config(**overrides: object) -> RunConfig:
    base = {"model": "gpt", "n_layer": 2, "n_head": 2, "n_embd": 16, "seq_length": 8}
    return RunConfig(**{**base, **overrides})


def test_gpt_weight_decay_only_on_linear_matrices() -> None:
    model = build_model(gpt_config(), vocab_size=11)
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in no_decay["params"]}
    # 2 blocks x (qkv, attn proj, mlp fc, mlp proj)
    assert len(decayed) == 8
    assert all(n.endswith(("qkv.weight", "proj.weight", "fc.weight")) for n in decayed)
    assert {"wte.weight", "wpe.weight", "ln_f.weight"} <= kept
    # The tied lm_head is the embedding: counted once, not decayed.
    total = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert total == sum(p.numel() for p in model.parameters())


def test_lstm_groups_decay_weights_not_biases_or_embedding() -> None:
    model = build_model(RunConfig(model="lstm"), vocab_size=11)
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() == 2 for p in decay["params"])
    assert model.embedding.weight in no_decay["params"]
    assert all(p.dim() == 1 for p in no_decay["params"] if p is not model.embedding.weight)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop)],
)
def test_build_optimizer_by_name(name: str, kind: type) -> None:
    cfg = gpt_config(optimizer=name, weight_decay=0.1, learning_rate=3e-3, beta2=0.95)
    model = build_model(cfg, vocab_size=11)
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    assert isinstance(opt, kind)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert all(g["lr"] == 3e-3 for g in opt.param_groups)
    if name != "rmsprop":
        assert opt.param_groups[0]["betas"] == (0.9, 0.95)
    # One step works (fused kernels included).
    _, loss = model(torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    loss.backward()
    opt.step()


def test_muon_steps_the_matrices_and_adamw_the_rest() -> None:
    cfg = gpt_config(optimizer="muon", weight_decay=0.1, learning_rate=3e-3)
    model = build_model(cfg, vocab_size=11)
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    assert isinstance(opt, MuonAdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    muon_names = {names[id(p)] for g in opt.muon.param_groups for p in g["params"]}
    adamw_names = {names[id(p)] for g in opt.adamw.param_groups for p in g["params"]}
    assert len(muon_names) == 8 and not muon_names & adamw_names
    assert {"wte.weight", "wpe.weight", "ln_f.weight"} <= adamw_names
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    # The trainer's lr write reaches both inner optimizers.
    for group in opt.param_groups:
        group["lr"] = 1e-3
    assert opt.muon.param_groups[0]["lr"] == opt.adamw.param_groups[0]["lr"] == 1e-3


def test_orthogonalize_flattens_the_singular_values() -> None:
    torch.manual_seed(0)
    for shape in [(3, 32, 16), (3, 16, 48)]:
        g = torch.randn(shape) * torch.logspace(-1, 1, shape[-1])  # singular values ~1e2 apart
        assert (torch.linalg.svdvals(g).max() / torch.linalg.svdvals(g).min()) > 10
        s = torch.linalg.svdvals(orthogonalize(g).float())
        assert s.min() > 0.6 and s.max() < 1.25  # Newton-Schulz lands near 1, not exactly


def test_batched_muon_matches_torch_muon() -> None:
    torch.manual_seed(0)
    shapes = [(32, 16), (32, 16), (16, 48), (8, 8)]
    ours = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    a = Muon(ours, lr=0.01, weight_decay=0.1)
    b = torch.optim.Muon(theirs, lr=0.01, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    start = [p.detach().clone() for p in ours]
    for _ in range(3):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn(p.shape)
            q.grad = p.grad.clone()
        a.step()
        b.step()
    for p, q, p0 in zip(ours, theirs, start, strict=True):
        moved = (q - p0).abs().max()
        # Same rule; only bf16 rounding differs (batched products sum in another order).
        assert (p - q).abs().max() < 0.1 * moved


def test_muon_learns_and_its_state_resumes_exactly() -> None:
    torch.manual_seed(0)
    cfg = gpt_config(optimizer="muon", learning_rate=1e-2)
    x = torch.randint(0, 11, (4, 8))
    y = torch.roll(x, -1, dims=1)

    def train(model: torch.nn.Module, opt: MuonAdamW, steps: int) -> list[float]:
        losses = []
        for _ in range(steps):
            _, loss = model(x, y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
        return losses

    model = build_model(cfg, vocab_size=11)
    twin = build_model(cfg, vocab_size=11)
    twin.load_state_dict(model.state_dict())
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    losses = train(model, opt, 30)
    assert losses[-1] < 0.5 * losses[0]
    # A fresh optimizer loaded from the state dict continues exactly like the original.
    twin.load_state_dict(model.state_dict())
    twin_opt = build_optimizer(twin, cfg, torch.device("cpu"))
    # (a deep copy, as a checkpoint on disk would be: loading shares same-device tensors)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert train(twin, twin_opt, 5) == train(model, opt, 5)
    # After loading, the learning rate written through param_groups reaches both halves.
    for group in twin_opt.param_groups:
        group["lr"] = 0.0
    assert twin_opt.muon.param_groups[0]["lr"] == twin_opt.adamw.param_groups[0]["lr"] == 0.0
    with pytest.raises(ValueError, match="Muon"):
        twin_opt.load_state_dict(torch.optim.AdamW(twin.parameters()).state_dict())


def test_warmup_then_cosine_to_the_floor() -> None:
    cfg = gpt_config(learning_rate=1e-3, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    total = 110
    assert lr_at(0, cfg, total) == pytest.approx(1e-4)  # first of 10 warmup steps
    assert lr_at(4, cfg, total) == pytest.approx(5e-4)
    assert lr_at(9, cfg, total) == pytest.approx(1e-3)  # warmup reaches the peak
    assert lr_at(10, cfg, total) == pytest.approx(1e-3)  # cosine starts at the peak
    assert lr_at(60, cfg, total) == pytest.approx(0.55e-3)  # halfway: mean of peak and floor
    assert lr_at(110, cfg, total) == pytest.approx(1e-4)  # the floor
    assert lr_at(500, cfg, total) == pytest.approx(1e-4)  # and it stays there
    values = [lr_at(s, cfg, total) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_step_and_constant_schedules() -> None:
    step_cfg = gpt_config(learning_rate=1.0, lr_schedule="step", lr_step_size=5, lr_gamma=0.5)
    assert [lr_at(s, step_cfg, 100) for s in (0, 4, 5, 10, 14)] == [1.0, 1.0, 0.5, 0.25, 0.25]
    const = gpt_config(learning_rate=2e-3, lr_schedule="constant", warmup_steps=4)
    assert lr_at(1, const, 100) == pytest.approx(1e-3)
    assert lr_at(50, const, 100) == 2e-3


def test_live_base_lr_keeps_the_shape() -> None:
    cfg = gpt_config(learning_rate=1e-3, lr_schedule="cosine", min_lr_ratio=0.0)
    assert lr_at(50, cfg, 100, base_lr=2e-3) == pytest.approx(2 * lr_at(50, cfg, 100))
    assert math.isclose(lr_at(100, cfg, 100), 0.0, abs_tol=1e-12)
