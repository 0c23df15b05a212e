"""The built-in ``tiny`` model: a Stable-Diffusion-shaped pipeline with random weights, built from config.

``genpulse.diffusion.builtins`` builds it once (deterministically, from a fixed seed) into the cache dir; it is
then loaded back through ``from_pretrained``, the same path a real model directory takes. It needs no download:
the tokenizer's vocabulary is generated here (byte-level symbols, no merges). Images are noise-like, but
shapes, seeds, batching and the whole serving path are real, and it runs on a CPU in well under a second.
The text encoder, VAE and scheduler here are shared with ``tiny-video`` (``genpulse.diffusion.tiny_video``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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


def tokenizer(work: Path) -> Any:
    """A CLIP tokenizer with the generated vocabulary (no randomness)."""
    from transformers import CLIPTokenizer

    _write_tokenizer_files(work / "tok-src")
    return CLIPTokenizer(
        str(work / "tok-src" / "vocab.json"), str(work / "tok-src" / "merges.txt"), model_max_length=77
    )


def text_encoder(vocab_size: int) -> Any:
    """A 2-layer, 32-wide CLIP text encoder."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
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


def tiny_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )


def tiny_scheduler() -> Any:
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build_tiny(work: Path) -> Any:
    """The tiny text-to-image pipeline (torch's global seed is set by the caller)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    tok = tokenizer(work)
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
    vae = tiny_vae()  # draw order unet, vae, text encoder: the weights of tiny v1
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder(len(tok)),
        tokenizer=tok,
        unet=unet,
        scheduler=tiny_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
