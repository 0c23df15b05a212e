"""The built-in ``tiny-video`` model: a text-to-video pipeline (ModelScope / ``TextToVideoSDPipeline`` shape)
with random weights, built from config like ``tiny`` (same tokenizer, text encoder, VAE and scheduler shapes).

Frames are noise-like; frame count, size, seeds, MP4 encoding and the serving path are real, and a few frames
at 64x64 take well under a second on a CPU. Its image-to-video runs the same components as video-to-video
(``VideoToVideoSDPipeline``) over the input image repeated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genpulse.diffusion.tiny import text_encoder, tiny_scheduler, tiny_vae, tokenizer


def build_tiny_video(work: Path) -> Any:
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    tok = tokenizer(work)
    unet = UNet3DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = tiny_vae()
    return TextToVideoSDPipeline(
        vae=vae, text_encoder=text_encoder(len(tok)), tokenizer=tok, unet=unet, scheduler=tiny_scheduler()
    )
