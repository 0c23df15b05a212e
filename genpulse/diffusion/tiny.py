"""The built-in ``tiny`` model: a Stable-Diffusion-shaped pipeline with random weights, built from config.

It is built once (deterministically, from a fixed seed) into the cache dir and then loaded back through
``StableDiffusionPipeline.from_pretrained``, the same path a real model directory takes. It needs no download:
the tokenizer's vocabulary is generated here (byte-level symbols, no merges). Images are noise-like, but
shapes, seeds, batching and the whole serving path are real, and it runs on a CPU in well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

TINY_VERSION = "1"
_SEED = 0


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte-level alphabet: every byte maps to a printable unicode character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    keep += list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, (chr(c) for c in chars), strict=True))


def _write_tokenizer_files(directory: Path) -> int:
    symbols = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for s in symbols:
        vocab[s] = len(vocab)
    for s in symbols:
        vocab[s + "</w>"] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return len(vocab)


def build_tiny_pipeline(target: Path) -> None:
    """Build the tiny pipeline and save it to ``target`` (atomically: built aside, then renamed)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=target.parent))
    try:
        vocab_size = _write_tokenizer_files(work / "tok-src")
        tokenizer = CLIPTokenizer(
            str(work / "tok-src" / "vocab.json"), str(work / "tok-src" / "merges.txt"), model_max_length=77
        )
        torch.manual_seed(_SEED)
        unet = UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=4,
            norm_num_groups=4,
        )
        vae = AutoencoderKL(
            block_out_channels=(8, 16),
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            norm_num_groups=4,
            sample_size=64,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=vocab_size - 2,
                eos_token_id=vocab_size - 1,
                pad_token_id=vocab_size - 1,
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                vocab_size=vocab_size,
                max_position_embeddings=77,
                projection_dim=32,
            )
        )
        scheduler = DDIMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        )
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            image_encoder=None,
            requires_safety_checker=False,
        )
        out = work / "model"
        pipe.save_pretrained(out, safe_serialization=True)
        (out / "genpulse-tiny.json").write_text(json.dumps({"version": TINY_VERSION, "seed": _SEED}))
        try:
            os.replace(out, target)
        except OSError:
            if not is_built(target):  # another process won the race with a complete build: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def is_built(path: Path) -> bool:
    marker = path / "genpulse-tiny.json"
    try:
        return json.loads(marker.read_text()).get("version") == TINY_VERSION
    except (OSError, ValueError):
        return False


def ensure_tiny_model(cache_dir: Path) -> Path:
    """Path of the tiny model directory, building it on first use."""
    path = cache_dir / f"tiny-v{TINY_VERSION}"
    if not is_built(path):
        build_tiny_pipeline(path)
    return path
