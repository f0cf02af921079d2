"""The training loop. The engine owns the loop; every variant (editor, exploration, policy, rewards, optimiser,
regularisers) is a plugin component.

One step (docs/method.md §1–4):
    1. sample a batch of N edit examples;
    2. encode each example's condition once;
    3. the exploration scheme draws G initial noises per example;
    4. deterministic rollout under θ_old, storing states when the optimiser needs them;
    5. decode and score with every reward; standardise each term over the minibatch; weighted sum;
    6. group advantages (the optimiser's rule);
    7. the optimiser's loss chunks (+ regularisers) → backward → clip → AdamW, ``updates_per_rollout`` times;
    8. log, checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import pluggy
import torch
import yaml
from accelerate import Accelerator

from editrl.cache import cached_condition, cached_source_latents, install_condition_cache
from editrl.config.schema import RecipeBase
from editrl.engine import checkpoint as ckpt
from editrl.engine import tracking
from editrl.engine.async_scoring import StepScorer, example_rows
from editrl.engine.build import Components
from editrl.engine.data import DataCursor
from editrl.engine.evaluation import EvalResult, evaluate_base_and_trained
from editrl.engine.lora import LoraController, lora_config
from editrl.engine.metrics import ChunkStats, MetricsLog, dumps_json, weighted_reward
from editrl.engine.rollout import RolloutPart, integrate, row_chunks
from editrl.engine.scoring import (
    Scores, attention_layers, background_drift, build_inputs, combine, needed_inputs, reward_metrics, reward_names,
)
from editrl.errors import EditrlError
from editrl.interfaces.reward import RewardUnavailable
from editrl.interfaces import EditBatch, Rollout, TrainContext
from editrl.interfaces.backbone import dilate_mask



class Trainer:
    """``setup()`` → ``train()`` → ``evaluate()``; checkpoints as it goes. See the module docstring for a step."""

    def __init__(self, recipe: RecipeBase, components: Components, pm: pluggy.PluginManager | None = None) -> None:
        self.recipe = recipe
        self.c = components
        self.pm = pm
        self.run_dir = Path(recipe.output_dir)
        self.step = 0
        self.skipped_steps = 0

    # ------------------------------------------------------------------------------------------------------------
    # setup
    def setup(self) -> None:
        """0. the run directory (refused before anything loads); 1. accelerator, device, trackers; 2. backbone,
        rewards (the backbone through the condition cache, :mod:`editrl.cache`); 3. LoRA; 4. AdamW; 5. data, RNG;
        6. resume or new run."""
        r, c = self.recipe, self.c
        self._resume_from = ckpt.resume_point(r)  # step 0
        cpu = r.train.device == "cpu" or (r.train.device == "auto" and not torch.cuda.is_available())
        if r.train.device == "cuda" and not torch.cuda.is_available():
            raise EditrlError("train.device: cuda was asked for but no CUDA device is available")
        self.accelerator = Accelerator(
            cpu=cpu, mixed_precision=r.train.mixed_precision, gradient_accumulation_steps=r.train.grad_accum,
            **tracking.accelerator_kwargs(r.train.log_with, self.run_dir),
        )
        device = self.accelerator.device
        torch.manual_seed(r.seed)  # before anything random: LoRA's A matrices are drawn from the global RNG
        # what the engine computes: the union of every component's needs (a regulariser may need source_latents)
        self.needs = needed_inputs(c.training_consumers())
        self.cache_report = install_condition_cache(  # the backbone; without encoders when every condition is cached
            c.backbone, device, lambda: {
                "train": c.dataset.split("train"),
                "eval": list(c.dataset.split("eval"))[: r.eval.max_examples] if r.eval.at_end else [],
            },
            source_latents="source_latents" in self.needs,
        )
        for reward in {id(x): x for x in [*c.rewards, *c.eval_metrics]}.values():
            reward.load(device)
        try:
            self.lora = LoraController(c.backbone.denoiser, lora_config(r.lora, c.backbone))
        except ValueError as exc:
            raise EditrlError(f"lora.target_modules: {exc}") from None
        params = self.lora.trainable_parameters()
        t = r.train
        adamw = torch.optim.AdamW(params, lr=t.lr, betas=t.betas, eps=t.eps, weight_decay=t.weight_decay)
        c.backbone.denoiser, self.adamw = self.accelerator.prepare(c.backbone.denoiser, adamw)
        self.params = params
        acc = self.accelerator
        self.cursor = DataCursor(
            c.dataset.split("train"), r.train.batch_size, r.seed, acc.process_index, acc.num_processes
        )
        self.generator = torch.Generator().manual_seed(r.seed * 7919 + acc.process_index)
        self.ctx = TrainContext(
            backbone=c.backbone, solver=c.solver, policy=c.policy, generator=self.generator, lora=self.lora,
            base_velocity=self._base_velocity,
        )
        c.optimizer.setup(self.ctx)
        self.layers = attention_layers(c.rewards)
        self.names = reward_names(c.rewards)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self._start_or_resume()

    @torch.no_grad()
    def _base_velocity(self, x, sigma, cond):
        with self.lora.disabled():
            return self.c.backbone.velocity(x, sigma, cond)

    def _start_or_resume(self) -> None:
        """Load the checkpoint :func:`~editrl.engine.checkpoint.resume_point` found, write the resolved recipe, open
        the trackers."""
        resolved = self.recipe.model_dump(mode="json")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self._resume_from is not None:
            self.load_checkpoint(self._resume_from)
        if self.accelerator.is_main_process:
            ckpt.write_text_atomic(self.run_dir / "recipe.yaml", yaml.safe_dump(resolved, sort_keys=False))
        tracking.start(self.accelerator, resolved, self.run_dir)

    # ------------------------------------------------------------------------------------------------------------
    # one step
    def roll_out(
        self, batch: EditBatch, scorer: StepScorer | None = None
    ) -> tuple[Rollout, torch.Tensor | None, list[torch.Tensor] | None]:
        """Steps 2–4: encode once, draw [N, G] noises, integrate under θ_old; decode if a reward needs images.

        The N·G rows are integrated ``train.rollout_batch_size`` at a time (by default all at once, or one group at a
        time when a reward overlaps) and decoded per micro-batch. With a ``scorer`` whose rewards overlap (served
        judges), every micro-batch's rows go to the scorer as soon as they are decoded, so their requests are in
        flight while later rows integrate (a judge scores rows independently: a group may straddle two micro-batches).
        """
        c = self.c
        G = c.exploration.group_size
        N = len(batch)
        shape = c.backbone.latent_shape(batch)  # (C, h, w)
        # The edit mask is converted and dilated once; the exploration, the policy and ACD's tokens all read it.
        latent_mask = None if batch.mask is None else dilate_mask(
            c.backbone.latent_mask(batch.mask, shape), c.exploration.mask_dilate
        )  # [N, 1, h, w]
        token_mask = c.backbone.token_mask(latent_mask, shape) if self.layers and latent_mask is not None else None
        with torch.no_grad(), c.optimizer.rollout_weights(self.ctx):
            cond = cached_condition(c.backbone, batch)  # N rows, once per example (once per run when cached)
            noise = c.exploration.sample(N, shape, latent_mask, self.generator)  # x_T [N, G, C, h, w]
            sigmas = c.backbone.sigmas(c.solver.steps, shape)  # [K + 1]
            x_T, rows = noise.x_T.flatten(0, 1).to(batch.source.device), cond.repeat_interleave(G)  # [N·G, C, h, w]
            overlap = scorer is not None and scorer.overlapping
            # with a served judge and no size set, one group at a time: each group's requests fly while the next integrates
            chunks = row_chunks(N * G, self.recipe.train.rollout_batch_size or (G if overlap else None))
            parts: list[RolloutPart] = []
            for r0, r1 in chunks:
                capture = c.backbone.capture_attention(self.layers) if self.layers else contextlib.nullcontext(None)
                with capture as part_maps:
                    part_final, part_states = integrate(
                        c.backbone, c.solver, x_T[r0:r1], rows.index(torch.arange(r0, r1)) if len(chunks) > 1 else rows,
                        sigmas, keep_states=c.optimizer.needs_states,
                    )  # [r, C, h, w], [K+1, r, C, h, w]
                part_images = c.backbone.decode(part_final) if "images" in self.needs else None  # [r, 3, H, W]
                parts.append(RolloutPart(part_final, part_states, part_images, part_maps))
                if overlap:
                    e0, e1 = r0 // G, -(-r1 // G)  # the examples whose candidates these rows are
                    scorer.submit(build_inputs(
                        scorer.needs, example_rows(batch, e0, e1), G, part_final, part_images, part_maps,
                        None if token_mask is None else token_mask[e0:e1], self.layers, rows=(r0 - e0 * G, r1 - e0 * G),
                    ))  # fmt: skip
            whole = RolloutPart.cat(parts)
            final, states, images, maps = whole.final, whole.states, whole.images, whole.maps  # [N·G, ...]
            source_latents = cached_source_latents(c.backbone, batch) if "source_latents" in self.needs else None
        rollout = Rollout(
            cond=cond, sigmas=sigmas, noise=noise, final=final.view(N, G, *shape),
            states=None if states is None else states.view(states.shape[0], N, G, *shape),
            latent_mask=latent_mask, token_mask=token_mask, source_latents=source_latents,
        )
        return rollout, images, maps

    def score(self, batch: EditBatch, rollout: Rollout, images, maps, scorer: StepScorer | None = None) -> Scores:
        """Step 5: every reward on the rows it needs (served judges concurrently, see ``async_scoring``); terms
        standardised over the minibatch's valid rows, then weighted."""
        c = self.c
        N, G = rollout.final.shape[:2]
        inputs = build_inputs(self.needs, batch, G, rollout.final, images, maps, rollout.token_mask, self.layers)
        if scorer is not None:
            return combine(c.rewards, scorer.finish(inputs), N, G)
        with StepScorer(c.rewards) as own:
            return combine(c.rewards, own.finish(inputs), N, G)

    def optimise(self, rollout: Rollout, advantages: torch.Tensor) -> dict[str, float] | None:
        """Step 7: back-propagate each loss chunk with its regularisers, then clip and step AdamW.

        Returns the step's diagnostics, or None when a loss or gradient was not finite (weights untouched).
        """
        c, acc = self.c, self.accelerator
        stats = ChunkStats()
        total = 0.0
        with acc.accumulate(c.backbone.denoiser), acc.autocast():
            for chunk in c.optimizer.loss_chunks(self.ctx, rollout, advantages):
                loss = chunk.loss
                for reg in c.regularizers:
                    term, reg_stats = reg.loss(self.ctx, chunk, rollout)
                    loss = loss + reg.coef * chunk.share * term
                    stats.add(reg_stats, chunk.share)
                if not torch.isfinite(loss):
                    return self._discard_gradients()
                acc.backward(loss)
                total += float(loss.detach())
                stats.add(chunk.stats, chunk.share)
            grad_norm = math.nan
            if acc.sync_gradients:
                if self.recipe.train.grad_clip is not None:
                    grad_norm = float(acc.clip_grad_norm_(self.params, self.recipe.train.grad_clip))
                else:
                    grads = [p.grad for p in self.params if p.grad is not None]  # none when every group was filtered
                    grad_norm = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
                if not math.isfinite(grad_norm):
                    return self._discard_gradients()
            self.adamw.step()
            self.adamw.zero_grad()
        return {"loss": total, "grad_norm": grad_norm, **stats.result()}

    def optimise_rollout(self, rollout: Rollout, advantages: torch.Tensor) -> dict[str, float] | None:
        """Step 7, ``train.updates_per_rollout`` times on the same rollout; diagnostics averaged over the updates
        (``*_min``/``*_max`` reduced). None, and the remaining updates dropped, once an update is not finite."""
        stats = ChunkStats()
        for _ in range(self.recipe.train.updates_per_rollout):
            update = self.optimise(rollout, advantages)
            if update is None:
                return None
            stats.add(update, 1.0)
        return stats.result()

    def _discard_gradients(self) -> None:
        for p in self.params:
            p.grad = None
        return None

    def train_step(self) -> dict[str, Any]:
        """Steps 1–7 of the module docstring; returns the step's metrics."""
        t0 = time.perf_counter()
        batch = self.cursor.next_batch().to(self.accelerator.device)  # step 1
        with StepScorer(self.c.rewards) as scorer:
            rollout, images, maps = self.roll_out(batch, scorer)  # steps 2–4 (served judges start scoring)
            t1 = time.perf_counter()
            scores = self.score(batch, rollout, images, maps, scorer)  # step 5
        t2 = time.perf_counter()
        metrics: dict[str, Any] = reward_metrics(self.names, scores, rollout.group_size)
        metrics.update({f"explore/{k}": v for k, v in rollout.noise.stats.items()})
        if images is not None and batch.mask is not None:
            metrics["diag/background_drift"] = background_drift(images, batch.mask, rollout.group_size)
        train_stats = None
        if scores.finite:
            advantages, adv_stats = self.c.optimizer.advantages(scores.total, self.generator)  # step 6
            metrics.update(adv_stats)
            train_stats = self.optimise_rollout(rollout, advantages)  # step 7
        if train_stats is None:
            self.skipped_steps += 1
        else:
            metrics.update(train_stats)
            self.c.optimizer.after_update(self.ctx, self.step)
        t3 = time.perf_counter()
        metrics.update({
            "skipped_steps": self.skipped_steps, "time/rollout_s": t1 - t0, "time/reward_s": t2 - t1,
            "time/train_s": t3 - t2, "time/step_s": t3 - t0,
        })
        return metrics

    # ------------------------------------------------------------------------------------------------------------
    # the loop
    def train(self, progress=None) -> None:
        """Run until ``train.steps``, logging every ``log_every`` and checkpointing every ``save_every`` steps."""
        r = self.recipe
        if self.step == 0:
            self.metrics.truncate_after(0)
        while self.step < r.train.steps:
            self.step += 1
            try:
                metrics = {"step": self.step, **self.train_step()}
            except RewardUnavailable as exc:  # a judge server stayed down: keep what was trained, say how to go on
                self.step -= 1  # the failed step changed no weights (its batch is skipped on resume)
                saved = self.save_checkpoint()
                where = f"checkpoint {saved.name} saved in {self.run_dir}" if saved else "checkpoint saved"
                raise RewardUnavailable(
                    f"{exc}; {where} — once the server is back, continue with the same command plus resume=true "
                    f"(editrl run RECIPE output_dir={self.run_dir} resume=true)"
                ) from None
            metrics["reward/weighted_mean"] = weighted_reward(self.names, [x.weight for x in self.c.rewards], metrics)
            if self.accelerator.is_main_process:
                if self.step % r.train.log_every == 0 or self.step == r.train.steps:
                    self.metrics.write(metrics)
                    tracking.log(self.accelerator, metrics, self.step)
                if progress is not None:
                    progress(self.step, r.train.steps, metrics)
            if self.pm is not None:
                self.pm.hook.editrl_on_step_end(step=self.step, metrics=metrics, run_dir=self.run_dir)
            if r.train.save_every and self.step % r.train.save_every == 0:
                self.save_checkpoint()
        latest = ckpt.latest_checkpoint(self.run_dir / "checkpoints")
        if latest is None or latest.name != ckpt.checkpoint_name(self.step):
            self.save_checkpoint()
        tracking.finish(self.accelerator)

    # ------------------------------------------------------------------------------------------------------------
    # checkpoints
    def save_checkpoint(self) -> Path | None:
        """Atomically write LoRA weights, AdamW and optimiser-plugin state, RNG states, step and data position."""
        self.accelerator.wait_for_everyone()
        if not self.accelerator.is_main_process:
            return None
        lora_state = self.lora.state_dict()
        state = {
            "step": self.step,
            "skipped_steps": self.skipped_steps,
            "data": self.cursor.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "adamw": self.adamw.state_dict(),
            "optimizer_plugin": self.c.optimizer.state_dict(),
        }
        return ckpt.save_checkpoint(
            self.run_dir / "checkpoints", self.step, lora_state, state,
            extra_writer=lambda d: self.c.backbone.export_lora(lora_state, d), keep=self.recipe.train.keep_checkpoints,
        )

    def load_checkpoint(self, path: Path) -> None:
        lora_state, state = ckpt.load_checkpoint(path)
        self.lora.load_state_dict(lora_state)
        self.adamw.load_state_dict(state["adamw"])
        self.c.optimizer.load_state_dict(state["optimizer_plugin"])
        self.cursor.load_state_dict(state["data"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        self.skipped_steps = int(state["skipped_steps"])
        self.metrics.truncate_after(self.step)

    # ------------------------------------------------------------------------------------------------------------
    # evaluation
    def evaluate(self) -> list[EvalResult]:
        """The held-out split through the base editor (LoRA off) and the trained one; saved to ``eval.json``."""
        results = evaluate_base_and_trained(
            self.recipe, self.c, self.lora, self.accelerator.device, ckpt.step_label(self.step),
            run_dir=self.run_dir if self.accelerator.is_main_process else None,
        )
        if self.accelerator.is_main_process:
            ckpt.write_text_atomic(self.run_dir / "eval.json", dumps_json([vars(x) for x in results], indent=2))
        return results

