"""Real-world ComfyUI graph shapes in API format (as "Save (API)" writes them), and one in UI format.

SD1.5 is ComfyUI's default graph; SDXL is the base + refiner example (two KSamplerAdvanced sharing a seed and
steps); img2img loads an image and samples with denoise < 1; the LoRA graph puts a LoraLoader between the
checkpoint and the rest; the video graph is Stable Video Diffusion, frames into VideoHelperSuite's combine node.
"""

from __future__ import annotations

from typing import Any


def node(cls: str, title: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": cls, "inputs": inputs, "_meta": {"title": title}}


SD15 = {
    "3": node("KSampler", "KSampler", seed=156680208700286, steps=20, cfg=8, sampler_name="euler", scheduler="normal",
              denoise=1, model=["4", 0], positive=["6", 0], negative=["7", 0], latent_image=["5", 0]),
    "4": node("CheckpointLoaderSimple", "Load Checkpoint", ckpt_name="v1-5-pruned-emaonly.safetensors"),
    "5": node("EmptyLatentImage", "Empty Latent Image", width=512, height=512, batch_size=1),
    "6": node("CLIPTextEncode", "CLIP Text Encode (Prompt)",
              text="beautiful scenery nature glass bottle landscape, , purple galaxy bottle,", clip=["4", 1]),
    "7": node("CLIPTextEncode", "CLIP Text Encode (Prompt)", text="text, watermark", clip=["4", 1]),
    "8": node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["4", 2]),
    "9": node("SaveImage", "Save Image", filename_prefix="ComfyUI", images=["8", 0]),
}  # fmt: skip

_SKY = "evening sunset scenery blue sky nature, glass bottle with a galaxy in it"
SDXL = {
    "4": node("CheckpointLoaderSimple", "Load Checkpoint - BASE", ckpt_name="sd_xl_base_1.0.safetensors"),
    "12": node("CheckpointLoaderSimple", "Load Checkpoint - REFINER", ckpt_name="sd_xl_refiner_1.0.safetensors"),
    "5": node("EmptyLatentImage", "Empty Latent Image", width=1024, height=1024, batch_size=1),
    "6": node("CLIPTextEncode", "CLIP Text Encode (Prompt)", text=_SKY, clip=["4", 1]),
    "7": node("CLIPTextEncode", "CLIP Text Encode (Prompt)", text="text, watermark", clip=["4", 1]),
    "15": node("CLIPTextEncode", "CLIP Text Encode (Prompt)", text=_SKY, clip=["12", 1]),
    "16": node("CLIPTextEncode", "CLIP Text Encode (Prompt)", text="text, watermark", clip=["12", 1]),
    "10": node("KSamplerAdvanced", "KSampler (Advanced) - BASE", add_noise="enable", noise_seed=721897303308196,
               steps=25, cfg=8, sampler_name="euler", scheduler="normal", start_at_step=0, end_at_step=20,
               return_with_leftover_noise="enable", model=["4", 0], positive=["6", 0], negative=["7", 0],
               latent_image=["5", 0]),
    "11": node("KSamplerAdvanced", "KSampler (Advanced) - REFINER", add_noise="disable", noise_seed=721897303308196,
               steps=25, cfg=8, sampler_name="euler", scheduler="normal", start_at_step=20, end_at_step=10000,
               return_with_leftover_noise="disable", model=["12", 0], positive=["15", 0], negative=["16", 0],
               latent_image=["10", 0]),
    "17": node("VAEDecode", "VAE Decode", samples=["11", 0], vae=["12", 2]),
    "19": node("SaveImage", "Save Image", filename_prefix="ComfyUI", images=["17", 0]),
}  # fmt: skip

IMG2IMG = {
    **{k: v for k, v in SD15.items() if k != "5"},
    "10": node("LoadImage", "Load Image", image="example.png"),
    "12": node("VAEEncode", "VAE Encode", pixels=["10", 0], vae=["4", 2]),
}
IMG2IMG["3"] = node("KSampler", "KSampler", seed=280823642470253, steps=20, cfg=8, sampler_name="dpmpp_2m",
                    scheduler="normal", denoise=0.87, model=["4", 0], positive=["6", 0], negative=["7", 0],
                    latent_image=["12", 0])  # fmt: skip

LORA = {
    **SD15,
    "10": node("LoraLoader", "Load LoRA", lora_name="detail.safetensors", strength_model=0.8, strength_clip=0.8,
               model=["4", 0], clip=["4", 1]),
}  # fmt: skip
LORA["3"] = {**SD15["3"], "inputs": {**SD15["3"]["inputs"], "model": ["10", 0]}}
LORA["6"] = {**SD15["6"], "inputs": {**SD15["6"]["inputs"], "clip": ["10", 1]}}
LORA["7"] = {**SD15["7"], "inputs": {**SD15["7"]["inputs"], "clip": ["10", 1]}}

SVD = {
    "15": node("ImageOnlyCheckpointLoader", "Image Only Checkpoint Loader (img2vid model)",
               ckpt_name="svd_xt.safetensors"),
    "23": node("LoadImage", "Load Image", image="example.png"),
    "12": node("SVD_img2vid_Conditioning", "SVD_img2vid_Conditioning", width=1024, height=576, video_frames=25,
               motion_bucket_id=127, fps=6, augmentation_level=0, clip_vision=["15", 1], init_image=["23", 0],
               vae=["15", 2]),
    "14": node("VideoLinearCFGGuidance", "VideoLinearCFGGuidance", min_cfg=1, model=["15", 0]),
    "3": node("KSampler", "KSampler", seed=237514639057510, steps=20, cfg=2.5, sampler_name="euler",
              scheduler="karras", denoise=1, model=["14", 0], positive=["12", 0], negative=["12", 1],
              latent_image=["12", 2]),
    "8": node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["15", 2]),
    "26": node("VHS_VideoCombine", "Video Combine", frame_rate=8, loop_count=0, filename_prefix="svd",
               format="video/h264-mp4", pingpong=False, save_output=True, images=["8", 0]),
}  # fmt: skip


def _ui_node(id_: int, cls: str, widgets: Any, inputs: list[dict[str, Any]] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {"id": id_, "type": cls, "pos": [0, 0], "size": [300, 100], "flags": {}, "order": id_, "mode": 0,
            "inputs": list(inputs), "outputs": [], "properties": {"Node name for S&R": cls},
            "widgets_values": widgets, **extra}  # fmt: skip


def _in(name: str, link: int | None, kind: str = "*", widget: bool = False) -> dict[str, Any]:
    return {"name": name, "type": kind, "link": link, **({"widget": {"name": name}} if widget else {})}


# The default SD1.5 graph as ComfyUI saves it (UI format): positional widgets_values with the seed's "control
# after generate" value, a note, a reroute between the checkpoint and the decoder, and a primitive node feeding steps.
SD15_UI = {
    "last_node_id": 12, "last_link_id": 12,
    "nodes": [
        _ui_node(3, "KSampler", [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
                 [_in("model", 1, "MODEL"), _in("positive", 4, "CONDITIONING"), _in("negative", 6, "CONDITIONING"),
                  _in("latent_image", 2, "LATENT"), _in("steps", 12, "INT", widget=True)]),
        _ui_node(4, "CheckpointLoaderSimple", ["v1-5-pruned-emaonly.safetensors"],
                 outputs=[{"name": "MODEL", "type": "MODEL"}, {"name": "CLIP", "type": "CLIP"},
                          {"name": "VAE", "type": "VAE"}]),
        _ui_node(5, "EmptyLatentImage", [512, 512, 1]),
        _ui_node(6, "CLIPTextEncode", ["beautiful scenery nature glass bottle landscape, , purple galaxy bottle,"],
                 [_in("clip", 3, "CLIP")], title="Positive"),
        _ui_node(7, "CLIPTextEncode", ["text, watermark"], [_in("clip", 5, "CLIP")], title="Negative"),
        _ui_node(8, "VAEDecode", [], [_in("samples", 7, "LATENT"), _in("vae", 10, "VAE")]),
        _ui_node(9, "SaveImage", ["ComfyUI"], [_in("images", 9, "IMAGE")]),
        _ui_node(10, "Note", ["the default graph"]),
        _ui_node(11, "Reroute", None, [_in("", 8, "*")], outputs=[{"name": "", "type": "VAE", "links": [10]}]),
        _ui_node(12, "PrimitiveNode", [12, "fixed"],
                 outputs=[{"name": "INT", "type": "INT", "widget": {"name": "steps"}, "links": [12]}], title="steps"),
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"], [4, 6, 0, 3, 1, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"], [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 11, 0, "VAE"],
        [9, 8, 0, 9, 0, "IMAGE"], [10, 11, 0, 8, 1, "VAE"], [12, 12, 0, 3, 4, "INT"],
    ],
    "groups": [], "config": {}, "extra": {}, "version": 0.4,
}  # fmt: skip
