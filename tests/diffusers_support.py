"""Helpers shared by the tests of the diffusers backbones (FLUX.1 Kontext, Qwen-Image-Edit): loading a tiny pipeline
folder, batches, rollouts, the naive attention the capture is checked against, LoRA export round trips, the CLI step
checks and the fail-fast loading checks. (Imported by name, as ``tests_support``: conftest modules collide across
test folders.)"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch

from tests_support import REPO


def ensure_plugin(name: str) -> None:
    """Make ``plugins/<name>`` importable until its entry point is installed (`pip install -e .`)."""
    if importlib.util.find_spec(name) is None:
        sys.path.insert(0, str(REPO / "plugins"))


# -- fixtures' building blocks ------------------------------------------------------------------------------------
def load_backbone(cls, tiny_dir: Path, settings: dict, overrides: dict):
    """``cls`` (a backbone class) on ``tiny_dir`` with ``settings`` updated by ``overrides``, loaded on the CPU."""
    backbone = cls(cls.Config(model=str(tiny_dir), **{**settings, **overrides}))
    backbone.load(torch.device("cpu"))
    return backbone


def tiny_folder(tmp_path_factory, name: str, build, **kw) -> Path:
    """A fresh temporary folder holding ``build(folder, **kw)``'s tiny pipeline."""
    directory = tmp_path_factory.mktemp(name)
    build(directory, **kw)
    return directory


def quiet_pipeline(cls, directory: Path):
    """``cls.from_pretrained(directory)`` without its progress bar."""
    p = cls.from_pretrained(str(directory))
    p.set_progress_bar_config(disable=True)
    return p


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny models' ops are microseconds long: intra-op threads only add overhead (40× on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- data and rollouts --------------------------------------------------------------------------------------------
def make_batch(n: int, height: int, width: int, seed: int = 0, mask: bool = False, quantise: bool = False):
    """``n`` random sources with four instructions in turn; ``mask``: a box edit mask; ``quantise``: pixels k/255
    (so that a PIL copy of a source holds exactly the same pixels)."""
    from editrl.interfaces import EditBatch, EditExample

    g = torch.Generator().manual_seed(seed)
    words = ["make the sky red", "add a small hat", "remove the cup", "turn it into a painting"]
    examples = []
    for i in range(n):
        m = None
        if mask:
            m = torch.zeros(1, height, width)  # [1, H, W]
            m[:, height // 4 : height // 2, width // 8 : width // 2] = 1
        source = torch.rand(3, height, width, generator=g)  # [3, H, W]
        if quantise:
            source = (source * 255).round() / 255
        examples.append(EditExample(id=f"e{i}", source=source, instruction=words[i % 4], mask=m))
    return EditBatch.collate(examples)


def euler(steps: int):
    from editrl.interfaces.solver import SolverConfig
    from editrl_solvers import Euler

    return Euler(SolverConfig(steps=steps))


def group_rollout(backbone, batch, G: int = 2, K: int = 3, seed: int = 0) -> torch.Tensor:
    """Final latents ``[N·G, C, h, w]`` of ``G`` Euler rollouts of ``K`` steps per example from seeded noise."""
    from editrl.engine.rollout import integrate

    shape = backbone.latent_shape(batch)
    x_T = torch.randn(len(batch) * G, *shape, generator=torch.Generator().manual_seed(seed))  # [N·G, C, h, w]
    cond = backbone.encode_condition(batch).repeat_interleave(G)
    return integrate(backbone, euler(K), x_T, cond, backbone.sigmas(K, shape))[0]


def rows(args, kwargs) -> int:
    """Batch rows of a forward call: its first positional tensor, else its first tensor keyword."""
    first = args[0] if args else next(v for v in kwargs.values() if isinstance(v, torch.Tensor))
    return int(first.shape[0])


def counting_hook(seen: dict, key: str):
    """A ``with_kwargs`` forward pre-hook adding each call's rows to ``seen[key]``."""

    def hook(module, args, kwargs):
        seen[key] += rows(args, kwargs)

    return hook


def encode_and_roll(backbone, batch, G: int, K: int, hooks: list):
    """Encode ``batch`` once and roll ``G`` candidates per example out over ``K`` steps, then remove ``hooks``;
    returns ``(condition, group condition)`` and checks that the group repeats the rows of the condition."""
    from editrl.engine.rollout import integrate

    N = len(batch)
    try:
        shape = backbone.latent_shape(batch)
        cond = backbone.encode_condition(batch)
        group = cond.repeat_interleave(G)
        integrate(backbone, euler(K), torch.randn(N * G, *shape), group, backbone.sigmas(K, shape))
    finally:
        for h in hooks:
            h.remove()
    assert group.prompt_embeds.shape[0] == N * G and torch.equal(group.prompt_embeds[G], cond.prompt_embeds[1])
    return cond, group


# -- attention capture --------------------------------------------------------------------------------------------
def check_capture_maps(maps, final: torch.Tensor, rows_: int, K: int, L: int) -> None:
    """One ``[rows, target tokens]`` float32, gradient-free distribution per (forward, layer)."""
    n_img = (final.shape[-2] // 2) * (final.shape[-1] // 2)
    assert len(maps) == K * L
    for m in maps:
        assert m.shape == (rows_, n_img) and m.dtype == torch.float32 and not m.requires_grad
        assert torch.allclose(m.sum(-1), torch.ones(rows_), atol=1e-5)  # a distribution over target tokens


def spy_attention(monkeypatch, module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Record the ``(query, key)`` every ``module.dispatch_attention_fn`` call gets (the kernel still runs)."""
    seen = []
    original = module.dispatch_attention_fn

    def spy(query, key, value, **kw):
        seen.append((query.detach().clone(), key.detach().clone()))
        return original(query, key, value, **kw)

    monkeypatch.setattr(module, "dispatch_attention_fn", spy)
    return seen


def naive_text_to_target(q: torch.Tensor, k: torch.Tensor, T: int, N: int, text_rows: torch.Tensor) -> torch.Tensor:
    """The capture's statistic from the full joint scores, in float64: ``q, k [M, S, H, D]`` (sequence ``[text T |
    target N | rest]``) → softmax of each text query over the target keys only, heads averaged, then the text rows
    ``text_rows [M, T]`` (bool) averaged → ``[M, N]``."""
    scores = torch.einsum("mshd,mthd->mhst", q.double(), k.double()) / q.shape[-1] ** 0.5  # [M, H, S, S] full
    allowed = torch.zeros(q.shape[1], dtype=torch.bool)  # [S]
    allowed[T : T + N] = True  # target-image keys only
    probs = scores.masked_fill(~allowed, float("-inf")).softmax(-1)[:, :, :T, T : T + N].mean(1)  # [M, T, N]
    return torch.stack([probs[m][text_rows[m]].mean(0) for m in range(q.shape[0])])  # [M, N]


def capture_and_spy(bb, batch, n_layers: int, monkeypatch, module):
    """One velocity of ``batch`` (seeded ``x``, σ = 0.6) with the last ``n_layers`` captured, then the same velocity
    through the default processors with the kernel inputs recorded (:func:`spy_attention` on ``module``); returns
    ``(condition, N target tokens, maps, kernel inputs)``."""
    shape = bb.latent_shape(batch)
    cond = bb.encode_condition(batch)
    x = torch.randn(len(batch), *shape, generator=torch.Generator().manual_seed(3))  # [M, C, h, w]
    sigma = torch.full((len(batch),), 0.6)  # [M]
    with bb.capture_attention(n_layers) as maps:
        bb.velocity(x, sigma, cond)
    assert len(maps) == n_layers
    seen = spy_attention(monkeypatch, module)
    bb.velocity(x, sigma, cond)  # default processors
    return cond, (shape[1] // 2) * (shape[2] // 2), maps, seen


def worst_naive_difference(seen, maps, T: int, N: int, text_rows: torch.Tensor) -> float:
    """Largest ``|captured − naive|`` over the layers (:func:`naive_text_to_target` of each layer's kernel inputs)."""
    worst = 0.0
    for (q, k), got in zip(seen, maps):
        expected = naive_text_to_target(q, k, T, N, text_rows)  # [M, N]
        worst = max(worst, float((got.double() - expected).abs().max()))
    print(f"captured vs naive: max|diff| {worst:.2e}")
    return worst


def check_processors_restored(backbone, last_layers: int, check_inside, too_many: int) -> None:
    """``check_inside(transformer)`` runs while the last ``last_layers`` are captured; an exception inside the capture
    still restores every original processor object; ``too_many`` layers are refused."""
    before = dict(backbone.transformer.attn_processors)
    with pytest.raises(RuntimeError, match="boom"):
        with backbone.capture_attention(last_layers):
            check_inside(backbone.transformer)
            raise RuntimeError("boom")
    after = backbone.transformer.attn_processors
    assert all(after[k] is v for k, v in before.items())
    with pytest.raises(ValueError, match="last_layers"):
        with backbone.capture_attention(too_many):
            pass


def capture_with_checkpointing(bb, batch):
    """Capture the last 2 layers of one velocity of 2 candidates, LoRA (rank 2) attached, then backpropagate its
    square; returns ``(maps, lora)``."""
    from peft import LoraConfig

    from editrl.engine.lora import LoraController

    lora = LoraController(bb.denoiser, LoraConfig(r=2, lora_alpha=2, target_modules=list(bb.default_lora_targets)))
    shape = bb.latent_shape(batch)
    cond = bb.encode_condition(batch).repeat_interleave(2)
    with bb.capture_attention(2) as maps:
        v = bb.velocity(torch.randn(2, *shape), torch.full((2,), 0.5), cond)  # [2, C, h, w]
        v.square().mean().backward()
    return maps, lora


# -- LoRA export --------------------------------------------------------------------------------------------------
def trained_and_base_rollouts(bb, batch, G: int = 2, K: int = 3):
    """LoRA rank 4, α 8 (scale 2) with random weights (B included, so the update is not zero), and the Euler rollouts
    of ``G`` candidates with it and with it disabled; returns ``(lora, x_T, trained, base)``."""
    from peft import LoraConfig

    from editrl.engine.lora import LoraController
    from editrl.engine.rollout import integrate

    lora = LoraController(bb.denoiser, LoraConfig(r=4, lora_alpha=8, target_modules=list(bb.default_lora_targets)))
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in lora.trainable_parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))  # lora_B starts at zero: make the update non-zero
    shape = bb.latent_shape(batch)
    x_T = torch.randn(G, *shape, generator=torch.Generator().manual_seed(12))  # [G, C, h, w]
    cond = bb.encode_condition(batch).repeat_interleave(G)
    sig = bb.sigmas(K, shape)
    trained, _ = integrate(bb, euler(K), x_T, cond, sig)
    with lora.disabled():
        base, _ = integrate(bb, euler(K), x_T, cond, sig)
    return lora, x_T, trained, base


def export_keys(bb, lora, directory: Path) -> list[str]:
    """Export ``lora`` to ``directory`` (one diffusers file) and return the file's keys."""
    from safetensors import safe_open

    files = bb.export_lora(lora.state_dict(), directory)
    assert [f.name for f in files] == ["pytorch_lora_weights.safetensors"] and files[0].exists()
    with safe_open(str(files[0]), "pt") as f:
        return list(f.keys())


# -- the CLI ------------------------------------------------------------------------------------------------------
def run_keeping_trainer(cli, monkeypatch, *args):
    """``editrl <args>`` through the real CLI; returns ``(result, the Trainer it set up)``."""
    from editrl.engine.trainer import Trainer

    trainers = []
    setup = Trainer.setup

    def keep(self):
        trainers.append(self)
        return setup(self)

    monkeypatch.setattr(Trainer, "setup", keep)
    result = cli(*args)
    assert result.exit_code == 0, result.output
    (trainer,) = trainers
    return result, trainer


def lora_parameters(transformer, pristine: dict) -> tuple[int, set[str]]:
    """``(LoRA tensors, modules whose lora_B is still 0)``; asserts every other weight equals ``pristine``."""
    total, unmoved = 0, set()
    for name, p in transformer.named_parameters():
        if "lora_" in name:
            total += 1
            if "lora_B" in name and not bool(p.detach().abs().sum() > 0):  # lora_B starts at 0
                unmoved.add(name.split(".lora_B")[0])
            continue
        assert torch.equal(p.detach(), pristine[name.replace(".base_layer", "")]), name
    return total, unmoved


def check_step_outputs(run_dir: Path) -> None:
    """The step's checkpoint holds the LoRA and its diffusers export (same modules); both rewards were logged."""
    from safetensors.torch import load_file

    step = run_dir / "checkpoints" / "step_000001"
    lora = load_file(str(step / "lora.safetensors"))
    exported = load_file(str(step / "pytorch_lora_weights.safetensors"))
    assert {f"transformer.{k}" for k in lora} == set(exported)
    metrics = (run_dir / "metrics.jsonl").read_text()
    assert "reward/acd/mean" in metrics and "reward/cocoedit_similarity/mean" in metrics


def check_missing_model_stops(cli, tmp_path: Path, recipe: Path, plugin: list[str], folder_name: str) -> None:
    """A model folder that does not exist stops ``editrl run`` in seconds with exit 2, the folder's name, the
    ``backbone.model=`` hint and the toy recipe in the message, before any checkpoint. (The toy dataset stands in
    for the recipe's data folder, which the data check would refuse first.)"""
    missing = tmp_path / "no" / folder_name
    start = time.perf_counter()
    result = cli("run", recipe, *plugin, f"backbone.model={missing}", "dataset={type: toy_shapes}",
                 f"output_dir={tmp_path / 'run'}")
    elapsed = time.perf_counter() - start
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert folder_name in flat and "backbone.model=/path" in flat and "recipes/toy/rc_grpo.yaml" in flat
    assert elapsed < 10, elapsed
    assert not (tmp_path / "run" / "checkpoints").exists()


# -- fail-fast loading --------------------------------------------------------------------------------------------
def fails_fast(backbone, device: str = "cpu") -> str:
    """The :class:`ResourceError` message ``backbone.load(device)`` raises, within 5 s."""
    from editrl.errors import ResourceError

    start = time.perf_counter()
    with pytest.raises(ResourceError) as info:
        backbone.load(torch.device(device))
    assert time.perf_counter() - start < 5
    return str(info.value)


def full_sized_copy(tiny_dir: Path, folder: Path, **transformer_config) -> Path:
    """``tiny_dir`` copied to ``folder`` with the transformer config updated and its weights removed (loading them
    would fail: a size check must come first)."""
    shutil.copytree(tiny_dir, folder)
    config = folder / "transformer" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **transformer_config}))
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()
    return folder


def broken_vae_copy(tiny_dir: Path, folder: Path) -> Path:
    """``tiny_dir`` copied to ``folder`` with VAE weights that are not safetensors files."""
    shutil.copytree(tiny_dir, folder)
    for weights in (folder / "vae").glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    return folder

