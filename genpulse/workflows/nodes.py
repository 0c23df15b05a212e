"""What GenPulse knows about ComfyUI node classes: widget inputs (type, bounds, options, order) and outputs.

``NodeSpec`` is one class's widgets in the order the ComfyUI frontend shows them (the order of a UI-format
node's ``widgets_values``) and, for output nodes, the kind of file it writes. ``BUILTIN`` holds the core nodes
(facts from ComfyUI's ``nodes.py`` and ``comfy_extras``, plus VideoHelperSuite's ``VHS_VideoCombine``), used when
no configured server answers ``/object_info``; ``from_object_info`` makes the same from a server's reply, which
wins when there is one (``genpulse.workflows.object_info``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

WidgetType = Literal["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]
OutputKind = Literal["image", "video", "audio", "file"]

MAX_RESOLUTION = 16384
MAX_SEED = 0xFFFFFFFFFFFFFFFF
SAMPLERS = (
    "euler",
    "euler_cfg_pp",
    "euler_ancestral",
    "euler_ancestral_cfg_pp",
    "heun",
    "heunpp2",
    "dpm_2",
    "dpm_2_ancestral",
    "lms",
    "dpm_fast",
    "dpm_adaptive",
    "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde",
    "dpmpp_sde_gpu",
    "dpmpp_2m",
    "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde",
    "dpmpp_3m_sde_gpu",
    "ddpm",
    "lcm",
    "ipndm",
    "ipndm_v",
    "deis",
    "res_multistep",
    "ddim",
    "uni_pc",
    "uni_pc_bh2",
)
SCHEDULERS = (
    "simple",
    "sgm_uniform",
    "karras",
    "exponential",
    "ddim_uniform",
    "beta",
    "normal",
    "linear_quadratic",
    "kl_optimal",
)


@dataclass(frozen=True)
class Widget:
    name: str
    type: WidgetType
    minimum: int | float | None = None
    maximum: int | float | None = None
    options: tuple[Any, ...] | None = None  # COMBO: None when the list is the server's files (unknown here)
    multiline: bool = False
    control: bool = False  # the frontend keeps a "control after generate" value right after it
    tooltip: str | None = None  # the server's help text for it


@dataclass(frozen=True)
class NodeSpec:
    widgets: tuple[Widget, ...] = ()
    output: OutputKind | None = None

    def widget(self, name: str) -> Widget | None:
        return next((w for w in self.widgets if w.name == name), None)


def _int(name: str, lo: float | None = None, hi: float | None = None, *, control: bool = False) -> Widget:
    return Widget(name, "INT", lo, hi, control=control)


def _float(name: str, lo: float | None = None, hi: float | None = None) -> Widget:
    return Widget(name, "FLOAT", lo, hi)


def _combo(name: str, options: tuple[Any, ...] | None = None) -> Widget:
    return Widget(name, "COMBO", options=options)


def _text(name: str, multiline: bool = False) -> Widget:
    return Widget(name, "STRING", multiline=multiline)


def _size(lo: int = 16) -> tuple[Widget, Widget]:
    return _int("width", lo, MAX_RESOLUTION), _int("height", lo, MAX_RESOLUTION)


_SAMPLING = (
    _int("steps", 1, 10000),
    _float("cfg", 0, 100),
    _combo("sampler_name", SAMPLERS),
    _combo("scheduler", SCHEDULERS),
)
_LATENT = (*_size(), _int("batch_size", 1, 4096))

BUILTIN: dict[str, NodeSpec] = {
    "CheckpointLoaderSimple": NodeSpec((_combo("ckpt_name"),)),
    "ImageOnlyCheckpointLoader": NodeSpec((_combo("ckpt_name"),)),
    "UNETLoader": NodeSpec((_combo("unet_name"), _combo("weight_dtype"))),
    "VAELoader": NodeSpec((_combo("vae_name"),)),
    "CLIPLoader": NodeSpec((_combo("clip_name"), _combo("type"), _combo("device"))),
    "DualCLIPLoader": NodeSpec((_combo("clip_name1"), _combo("clip_name2"), _combo("type"), _combo("device"))),
    "CLIPSetLastLayer": NodeSpec((_int("stop_at_clip_layer", -24, -1),)),
    "LoraLoader": NodeSpec(
        (_combo("lora_name"), _float("strength_model", -100, 100), _float("strength_clip", -100, 100))
    ),
    "LoraLoaderModelOnly": NodeSpec((_combo("lora_name"), _float("strength_model", -100, 100))),
    "CLIPTextEncode": NodeSpec((_text("text", multiline=True),)),
    "CLIPTextEncodeSDXL": NodeSpec(
        (
            *_size(0),
            _int("crop_w", 0, MAX_RESOLUTION),
            _int("crop_h", 0, MAX_RESOLUTION),
            _int("target_width", 0, MAX_RESOLUTION),
            _int("target_height", 0, MAX_RESOLUTION),
            _text("text_g", True),
            _text("text_l", True),
        )
    ),
    "CLIPTextEncodeSDXLRefiner": NodeSpec((_float("ascore", 0, 1000), *_size(0), _text("text", multiline=True))),
    "ConditioningCombine": NodeSpec(),
    "ConditioningZeroOut": NodeSpec(),
    "ControlNetLoader": NodeSpec((_combo("control_net_name"),)),
    "ControlNetApply": NodeSpec((_float("strength", 0, 10),)),
    "ControlNetApplyAdvanced": NodeSpec(
        (_float("strength", 0, 10), _float("start_percent", 0, 1), _float("end_percent", 0, 1))
    ),
    "KSampler": NodeSpec((_int("seed", 0, MAX_SEED, control=True), *_SAMPLING, _float("denoise", 0, 1))),
    "KSamplerAdvanced": NodeSpec(
        (
            _combo("add_noise", ("enable", "disable")),
            _int("noise_seed", 0, MAX_SEED, control=True),
            *_SAMPLING,
            _int("start_at_step", 0, 10000),
            _int("end_at_step", 0, 10000),
            _combo("return_with_leftover_noise", ("disable", "enable")),
        )
    ),
    "EmptyLatentImage": NodeSpec(_LATENT),
    "EmptySD3LatentImage": NodeSpec(_LATENT),
    "EmptyHunyuanLatentVideo": NodeSpec((*_size(), _int("length", 1, MAX_RESOLUTION), _int("batch_size", 1, 4096))),
    "LatentUpscale": NodeSpec((_combo("upscale_method"), *_size(0), _combo("crop", ("disabled", "center")))),
    "ImageScale": NodeSpec((_combo("upscale_method"), *_size(0), _combo("crop", ("disabled", "center")))),
    "VAEDecode": NodeSpec(),
    "VAEEncode": NodeSpec(),
    "LoadImage": NodeSpec((_combo("image"),)),
    "SVD_img2vid_Conditioning": NodeSpec(
        (
            *_size(),
            _int("video_frames", 1, 4096),
            _int("motion_bucket_id", 1, 1023),
            _int("fps", 1, 1024),
            _float("augmentation_level", 0, 10),
        )
    ),
    "VideoLinearCFGGuidance": NodeSpec((_float("min_cfg", 0, 100),)),
    "WanImageToVideo": NodeSpec((*_size(), _int("length", 1, MAX_RESOLUTION), _int("batch_size", 1, 4096))),
    "PrimitiveInt": NodeSpec((_int("value"),)),
    "PrimitiveFloat": NodeSpec((_float("value"),)),
    "PrimitiveString": NodeSpec((_text("value"),)),
    "PrimitiveStringMultiline": NodeSpec((_text("value", multiline=True),)),
    "PrimitiveBoolean": NodeSpec((Widget("value", "BOOLEAN"),)),
    "SaveImage": NodeSpec((_text("filename_prefix"),), output="image"),
    "PreviewImage": NodeSpec(output="image"),
    "SaveAnimatedWEBP": NodeSpec(
        (
            _text("filename_prefix"),
            _float("fps", 0.01, 1000),
            Widget("lossless", "BOOLEAN"),
            _int("quality", 0, 100),
            _combo("method"),
        ),
        output="image",
    ),
    "SaveAnimatedPNG": NodeSpec(
        (_text("filename_prefix"), _float("fps", 0.01, 1000), _int("compress_level", 0, 9)), output="image"
    ),
    "CreateVideo": NodeSpec((_float("fps", 1, 120),)),
    "SaveVideo": NodeSpec((_text("filename_prefix"), _combo("format"), _combo("codec")), output="video"),
    "SaveWEBM": NodeSpec(
        (_text("filename_prefix"), _combo("codec"), _float("fps", 0.01, 1000), _float("crf", 0, 63)), output="video"
    ),
    "SaveAudio": NodeSpec((_text("filename_prefix"),), output="audio"),
    "VHS_VideoCombine": NodeSpec(
        (
            _float("frame_rate", 1),
            _int("loop_count", 0, 100),
            _text("filename_prefix"),
            _combo("format"),
            Widget("pingpong", "BOOLEAN"),
            Widget("save_output", "BOOLEAN"),
        ),
        output="video",
    ),
}

# Output nodes by class when a server's /object_info only says ``output_node``
OUTPUT_KINDS: dict[str, OutputKind] = {k: v.output for k, v in BUILTIN.items() if v.output}
UI_ONLY = frozenset({"Note", "MarkdownNote", "Reroute", "PrimitiveNode"})  # frontend nodes, never in API format
_PRIMITIVE_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def from_object_info(info: dict[str, Any]) -> NodeSpec:
    """A class's ``/object_info`` entry → ``NodeSpec`` (required inputs, then optional, in the server's order)."""
    inputs = info.get("input") if isinstance(info.get("input"), dict) else {}
    widgets: list[Widget] = []
    for section in ("required", "optional"):
        for name, spec in (inputs.get(section) or {}).items():
            widget = _widget(str(name), spec)
            if widget is not None:
                widgets.append(widget)
    name = str(info.get("name") or "")
    kind = OUTPUT_KINDS.get(name) or ("file" if info.get("output_node") else None)
    return NodeSpec(tuple(widgets), output=kind)


def _widget(name: str, spec: Any) -> Widget | None:
    if not isinstance(spec, list | tuple) or not spec:
        return None
    kind, opts = spec[0], spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    tooltip = opts.get("tooltip") if isinstance(opts.get("tooltip"), str) else None
    if isinstance(kind, list | tuple):  # the classic COMBO: the options themselves
        return Widget(name, "COMBO", options=tuple(kind), tooltip=tooltip)
    if kind not in _PRIMITIVE_TYPES:
        return None  # a link input (MODEL, IMAGE, ...)
    if kind == "COMBO":
        options = opts.get("options")
        return Widget(name, "COMBO", options=tuple(options) if isinstance(options, list) else None, tooltip=tooltip)
    lo, hi = opts.get("min"), opts.get("max")
    return Widget(
        name,
        kind,
        lo if isinstance(lo, int | float) and not isinstance(lo, bool) else None,
        hi if isinstance(hi, int | float) and not isinstance(hi, bool) else None,
        multiline=bool(opts.get("multiline")),
        control=bool(opts.get("control_after_generate")) or (kind == "INT" and name in ("seed", "noise_seed")),
        tooltip=tooltip,
    )
