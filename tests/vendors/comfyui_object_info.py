"""``GET /object_info`` of the ComfyUI imitation: the core nodes it runs, in the server's own format.

Each class: ``input.required`` / ``input.optional`` (``name: [type, options]``; a list as the type is a classic
COMBO, ``["COMBO", {"options": [...]}]`` the newer form), ``output``, ``output_node``, ``name``. Written from
ComfyUI's node definitions, independently of GenPulse's own table.
"""

from __future__ import annotations

from typing import Any

MAX = 16384
SAMPLERS = [
    "euler",
    "euler_ancestral",
    "heun",
    "dpm_2",
    "lms",
    "dpmpp_2m",
    "dpmpp_2m_sde",
    "dpmpp_sde",
    "ddim",
    "uni_pc",
]
SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]
LORAS = ["detail.safetensors", "pixel-art.safetensors"]


def _int(default: int, lo: int, hi: int, **more: Any) -> list[Any]:
    return ["INT", {"default": default, "min": lo, "max": hi, **more}]


def _float(default: float, lo: float, hi: float, step: float = 0.01) -> list[Any]:
    return ["FLOAT", {"default": default, "min": lo, "max": hi, "step": step}]


def _node(
    name: str,
    required: dict[str, Any],
    outputs: list[str],
    *,
    optional: dict[str, Any] | None = None,
    output_node: bool = False,
) -> dict[str, Any]:
    return {
        "input": {"required": required, **({"optional": optional} if optional else {})},
        "input_order": {"required": list(required), **({"optional": list(optional)} if optional else {})},
        "output": outputs,
        "output_is_list": [False] * len(outputs),
        "output_name": outputs,
        "name": name,
        "display_name": name,
        "description": "",
        "category": "imitation",
        "output_node": output_node,
    }


def object_info(checkpoints: list[str], input_files: list[str]) -> dict[str, Any]:
    seed = _int(0, 0, 0xFFFFFFFFFFFFFFFF, control_after_generate=True)
    steps = ["INT", {"default": 20, "min": 1, "max": 10000, "tooltip": "The number of denoising steps."}]
    sampling = {
        "steps": steps,
        "cfg": _float(8.0, 0.0, 100.0, 0.1),
        "sampler_name": [SAMPLERS],
        "scheduler": [SCHEDULERS],
    }
    nodes = [
        _node("CheckpointLoaderSimple", {"ckpt_name": [checkpoints]}, ["MODEL", "CLIP", "VAE"]),
        _node("ImageOnlyCheckpointLoader", {"ckpt_name": [checkpoints]}, ["MODEL", "CLIP_VISION", "VAE"]),
        _node("CLIPTextEncode", {"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}, ["CONDITIONING"]),
        _node(
            "EmptyLatentImage",
            {"width": _int(512, 16, MAX, step=8), "height": _int(512, 16, MAX, step=8), "batch_size": _int(1, 1, 4096)},
            ["LATENT"],
        ),
        _node(
            "KSampler",
            {
                "model": ["MODEL"],
                "seed": seed,
                **sampling,
                "positive": ["CONDITIONING"],
                "negative": ["CONDITIONING"],
                "latent_image": ["LATENT"],
                "denoise": _float(1.0, 0.0, 1.0),
            },
            ["LATENT"],
        ),
        _node(
            "KSamplerAdvanced",
            {
                "model": ["MODEL"],
                "add_noise": [["enable", "disable"]],
                "noise_seed": seed,
                **sampling,
                "positive": ["CONDITIONING"],
                "negative": ["CONDITIONING"],
                "latent_image": ["LATENT"],
                "start_at_step": _int(0, 0, 10000),
                "end_at_step": _int(10000, 0, 10000),
                "return_with_leftover_noise": [["disable", "enable"]],
            },
            ["LATENT"],
        ),
        _node(
            "LoraLoader",
            {
                "model": ["MODEL"],
                "clip": ["CLIP"],
                "lora_name": [LORAS],
                "strength_model": _float(1.0, -100.0, 100.0),
                "strength_clip": _float(1.0, -100.0, 100.0),
            },
            ["MODEL", "CLIP"],
        ),
        _node("VAEDecode", {"samples": ["LATENT"], "vae": ["VAE"]}, ["IMAGE"]),
        _node("VAEEncode", {"pixels": ["IMAGE"], "vae": ["VAE"]}, ["LATENT"]),
        _node("LoadImage", {"image": [input_files, {"image_upload": True}]}, ["IMAGE", "MASK"]),
        _node(
            "SVD_img2vid_Conditioning",
            {
                "clip_vision": ["CLIP_VISION"],
                "init_image": ["IMAGE"],
                "vae": ["VAE"],
                "width": _int(1024, 16, MAX, step=8),
                "height": _int(576, 16, MAX, step=8),
                "video_frames": _int(14, 1, 4096),
                "motion_bucket_id": _int(127, 1, 1023),
                "fps": _int(6, 1, 1024),
                "augmentation_level": _float(0.0, 0.0, 10.0),
            },
            ["CONDITIONING", "CONDITIONING", "LATENT"],
        ),
        _node("VideoLinearCFGGuidance", {"model": ["MODEL"], "min_cfg": _float(1.0, 0.0, 100.0, 0.5)}, ["MODEL"]),
        _node(
            "SaveImage",
            {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]},
            [],
            output_node=True,
        ),
        _node("PreviewImage", {"images": ["IMAGE"]}, [], output_node=True),
        _node(
            "CreateVideo",
            {"images": ["IMAGE"], "fps": _float(30.0, 1.0, 120.0, 1.0)},
            ["VIDEO"],
            optional={"audio": ["AUDIO"]},
        ),
        _node(
            "SaveVideo",
            {
                "video": ["VIDEO"],
                "filename_prefix": ["STRING", {"default": "video/ComfyUI"}],
                "format": ["COMBO", {"options": ["auto", "mp4"]}],
                "codec": ["COMBO", {"options": ["auto", "h264"]}],
            },
            [],
            output_node=True,
        ),
        _node(
            "VHS_VideoCombine",
            {
                "images": ["IMAGE"],
                "frame_rate": ["FLOAT", {"default": 8, "min": 1, "step": 1}],
                "loop_count": _int(0, 0, 100),
                "filename_prefix": ["STRING", {"default": "AnimateDiff"}],
                "format": [["image/gif", "image/webp", "video/h264-mp4"]],
                "pingpong": ["BOOLEAN", {"default": False}],
                "save_output": ["BOOLEAN", {"default": True}],
            },
            ["VHS_FILENAMES"],
            optional={"audio": ["AUDIO"]},
            output_node=True,
        ),
    ]
    return {n["name"]: n for n in nodes}
