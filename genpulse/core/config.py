"""AppArgs: the typed shape of ``serve_config.yaml``'s ``args:``, validated once, in the app builder.

Every field can be overridden from the environment with the prefix ``GENPULSE_`` and ``__`` between nested
names (``GENPULSE_STORE__URL``, ``GENPULSE_PROVIDERS__KLING__ACCESS_KEY``). The environment wins over the
``args:`` block; the two are merged field by field. Secrets are ``SecretStr``: they print and dump (also
``model_dump(mode="json")``) as ``**********``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from genpulse.core.aliases import ModelAlias
from genpulse.core.errors import ConfigError
from genpulse.core.validation import field_errors, summary
from genpulse.tenants.billing import Price

_STRICT = ConfigDict(extra="forbid")


class StoreConfig(BaseModel):
    model_config = _STRICT
    url: str | None = Field(
        None,
        description="None for the in-cluster actor store (zero setup, in memory); a redis:// or rediss:// URL "
        "for the durable Redis store.",
    )
    event_history: int = Field(
        256, ge=8, description="Events kept per task for resumable streams (status and progress changes only)."
    )
    retention_s: float = Field(
        7 * 24 * 3600,
        gt=0,
        description="Seconds a terminal task's record (its events and webhook deliveries too) is kept after it "
        "ends; then it is deleted (Redis: key TTLs). Keep it above `webhooks.retry_window_s`.",
    )
    idempotency_ttl_s: float | None = Field(
        None, gt=0, description="Seconds an idempotency key holds after its first use; None: `retention_s`."
    )
    data_loss_alert_s: float = Field(
        900,
        ge=0,
        description="Seconds `/health/ready` fails after the store was seen to have lost its data (restarted "
        "empty), before the ingress accepts the new store.",
    )
    max_connections: int = Field(
        512, ge=1, description="Redis connections per process (a blocking pool; `?wait` holds one while it waits)."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str | None) -> str | None:
        if v in (None, "", "actor"):
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL, or empty for the actor store")
        return v

    @property
    def backend(self) -> Literal["actor", "redis"]:
        return "redis" if self.url else "actor"


UPLOAD_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "video/mp4", "video/quicktime", "video/webm")


class StorageConfig(BaseModel):
    model_config = _STRICT
    type: Literal["local", "s3"] = Field(
        "local", description="Where outputs and uploads live. `local`: a directory; `s3`: an S3-compatible bucket."
    )
    path: Path = Field(
        Path("~/.genpulse/data"), validate_default=True, description="Data directory of LocalStorage."
    )  # validate_default: the validator expands `~` in the default too (else `./~` in the working directory)
    public_base_url: str | None = Field(
        None, description="Prefix for asset URLs (e.g. https://api.example.com); relative URLs when unset."
    )
    bucket: str | None = Field(None, description="S3 bucket (required with `type: s3`).")
    region: str | None = Field(None, description="S3 region; boto3's default chain when unset.")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, R2, ...); AWS when unset.")
    prefix: str = Field("genpulse/", description="Key prefix of every object GenPulse writes in the bucket.")
    presign_ttl_s: int = Field(3600, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned GET URLs.")
    multipart_threshold_bytes: int = Field(
        16 << 20, ge=5 << 20, description="Objects at least this large are uploaded in parts."
    )
    multipart_chunk_bytes: int = Field(8 << 20, ge=5 << 20, description="Part size of multipart uploads.")
    max_upload_bytes: int = Field(50 << 20, ge=1, description="Largest file accepted by `POST /v1/assets` (413).")
    upload_types: list[str] = Field(
        default_factory=lambda: list(UPLOAD_TYPES),
        description="Content types accepted by `POST /v1/assets`, sniffed from the bytes (415 otherwise).",
    )
    max_input_bytes: int = Field(20 << 20, ge=1, description="Largest image input (asset, URL or data URI).")
    retention_days: float | None = Field(
        None, gt=0, description="Delete assets older than this many days; keep them forever when unset."
    )
    retention_interval_s: float = Field(3600, gt=0, description="How often the retention sweep runs.")

    @field_validator("path")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        return f"{v}/" if v else ""

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageConfig:
        if self.type == "s3" and not self.bucket:
            raise ValueError("storage.bucket is required when storage.type is s3 (GENPULSE_STORAGE__BUCKET)")
        return self


class SecurityConfig(BaseModel):
    """The policy for URLs that users give us (image inputs) and that we call (webhooks): see ``core.url_guard``."""

    model_config = _STRICT
    allow_private_urls: bool = Field(
        False,
        description="Allow URLs that resolve to private, loopback, link-local or reserved addresses (trusted "
        "networks only).",
    )
    allow_http_urls: bool = Field(False, description="Allow plain http:// URLs (https only by default).")
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed even when private, e.g. an internal MinIO at 10.0.0.5/32.",
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for net in v:
            ipaddress.ip_network(net, strict=False)
        return v


class AutoscalingConfig(BaseModel):
    model_config = _STRICT
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(1, ge=1)
    target_ongoing_requests: float = Field(2, gt=0)
    upscale_delay_s: float = Field(30, ge=0)
    downscale_delay_s: float = Field(600, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class DiffusionConfig(BaseModel):
    model_config = _STRICT
    model: str = Field(
        "tiny",
        description="The default model (when a task sets no `params.model`): a name in `models`, a built-in "
        "(`tiny`, `tiny-video`: random weights, CPU friendly) or a local diffusers model directory.",
    )
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Model name -> a local diffusers directory (any pipeline saved with `save_pretrained`) or a "
        "built-in name. The built-ins are always there under their own names.",
    )
    max_models_per_replica: int = Field(2, ge=1, description="Models a replica keeps loaded (LRU eviction).")
    max_batch_size: int = Field(4, ge=1, description="Requests one pipeline call may carry (same model, shape).")
    batch_wait_timeout_s: float = Field(0.02, ge=0, description="How long a replica waits to fill a batch.")
    attention_slicing: bool = Field(False, description="Sliced attention: less memory, a little slower.")
    vae_slicing: bool = Field(False, description="Decode a batch one image at a time: less memory.")
    compile: bool = Field(False, description="`torch.compile` the denoiser at load (warm-up pays the compile).")
    warmup: bool = Field(True, description="Load the default model and run one small call at replica start.")
    default_frames: int = Field(8, ge=1, description="Video frames when a task sets no `num_frames`.")
    max_frames: int = Field(48, ge=1)
    fps: int = Field(8, ge=1, le=60, description="Frame rate of the MP4s written.")
    cache_dir: Path = Field(
        Path("~/.cache/genpulse/models"), validate_default=True, description="Where the tiny model is built."
    )  # validate_default: the validator expands `~` in the default too (else `./~` in the working directory)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16", "float64"] = "auto"
    num_replicas: int = Field(1, ge=1, description="Fixed replica count when `autoscaling` is unset.")
    autoscaling: AutoscalingConfig | None = None
    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0)
    max_ongoing_requests: int = Field(4, ge=1)
    min_size: int = Field(64, ge=8, multiple_of=8, description="Smallest width/height accepted.")
    max_size: int = Field(1024, ge=8, multiple_of=8, description="Largest width/height accepted.")
    default_size: int = Field(512, ge=8, multiple_of=8)
    default_steps: int = Field(20, ge=1)
    max_steps: int = Field(100, ge=1)

    @field_validator("cache_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @model_validator(mode="after")
    def _bounds(self) -> DiffusionConfig:
        if not self.min_size <= self.default_size <= self.max_size:
            raise ValueError("need min_size <= default_size <= max_size")
        if self.default_steps > self.max_steps:
            raise ValueError("default_steps must be <= max_steps")
        if self.default_frames > self.max_frames:
            raise ValueError("default_frames must be <= max_frames")
        return self


class WorkersConfig(BaseModel):
    model_config = _STRICT
    pool_size: int = Field(1, ge=1, description="ProviderWorker actors per provider.")
    max_attempts: int = Field(3, ge=1, description="Attempts per task for retryable errors.")
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    task_deadline_s: float = Field(1800, gt=0, description="Default deadline of a task, from its creation.")
    lease_ttl_s: float = Field(30, gt=0, description="A worker's lease on a task; renewed while it works.")
    reconcile_interval_s: float = Field(5, gt=0, description="How often a worker looks for orphaned tasks.")
    queued_grace_s: float = Field(10, ge=0, description="Age at which an unclaimed queued task is adopted.")
    cancel_sweep_s: float = Field(
        300,
        gt=0,
        description="How often a worker looks for canceled tasks whose vendor job is still owed a cancel (their "
        "owner was down when the user canceled); also once at every worker start.",
    )


class ServerConfig(BaseModel):
    model_config = _STRICT
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest request body accepted on /v1/tasks.")
    max_wait_s: float = Field(60, ge=0, description="Cap on `?wait=N` and `Prefer: wait=N`.")
    ingress_replicas: int = Field(1, ge=1)
    max_ongoing_requests: int = Field(
        200,
        ge=1,
        description="Short requests (submits, reads, cancels) an ingress replica serves at once. Serve's "
        "`max_ongoing_requests` of the Ingress is this plus `max_long_lived`, so long-lived requests never take "
        "the room of submits.",
    )
    max_long_lived: int = Field(
        256,
        ge=1,
        description="Long-lived requests (event streams, `?wait=N`, `Prefer: wait=N`) an ingress replica holds at "
        "once; one more is answered 503 with `Retry-After`. With Redis each holds a connection while it waits: "
        "keep it below `store.max_connections`.",
    )
    access_log: bool = Field(
        False,
        description="Serve's access log line per request (ingress replica and, via `genpulse serve`, the proxy). "
        "Off: on 2 cores it cost 7-20 % of request throughput (docs/benchmarks.md).",
    )
    sse_heartbeat_s: float = Field(15, gt=0, description="Comment line sent on an idle event stream this often.")
    route_health_ttl_s: float = Field(
        2,
        ge=0,
        description="How old an ingress replica's copy of which provider instances are out (out of credit, "
        "credentials refused, unreachable) may be when a model alias picks a route; older, it is read again from "
        "their rate limiters.",
    )
    public_url: str | None = Field(
        None,
        description="This gateway's public base URL (e.g. https://genpulse.example.com), which vendors reach. Set, "
        "vendors that accept a `callback_url` (Kling) are given `{public_url}/v1/callbacks/{provider}/{task_id}"
        "?token=...` and their jobs are polled only as a slow safety net; unset: vendor callbacks are off.",
    )
    callback_secret: SecretStr | None = Field(
        None,
        description="Server secret the per-task callback tokens are derived from (HMAC-SHA256); required with "
        "`public_url`, at least 16 characters. Changing it invalidates the callbacks of jobs in flight (their "
        "safety polls still finish them).",
    )
    terminal_cache_size: int = Field(
        1024,
        ge=0,
        description="Ended tasks (immutable) an ingress replica keeps to answer reads without a store round trip; "
        "0: off. Tenant checks still apply; an entry is dropped after `terminal_cache_ttl_s`.",
    )
    terminal_cache_ttl_s: float = Field(
        60, gt=0, description="How long a cached ended task is served before the store is read again."
    )
    callback_safety_poll_s: float = Field(
        60,
        gt=0,
        description="With callbacks on: the longest a job goes unpolled (the safety net for a lost callback).",
    )

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")) or "?" in v or "#" in v:
            raise ValueError("must be an http:// or https:// base URL without query or fragment")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _callbacks_need_secret(self) -> ServerConfig:
        if self.public_url is None:
            return self
        if self.callback_secret is None or len(self.callback_secret.get_secret_value()) < 16:
            raise ValueError(
                "server.public_url turns vendor callbacks on and needs server.callback_secret (at least 16 "
                "characters; GENPULSE_SERVER__CALLBACK_SECRET)"
            )
        return self

    @property
    def ingress_max_ongoing_requests(self) -> int:
        """Serve's cap for one ingress replica: room for every long-lived request plus the short ones."""
        return self.max_ongoing_requests + self.max_long_lived


class WebhooksConfig(BaseModel):
    """Signed task-completion callbacks (Standard Webhooks), delivered at least once from the store's outbox."""

    model_config = _STRICT
    secret: SecretStr | None = Field(
        None, description="Signing secret `whsec_<base64>`; a task with a `webhook_url` is refused while unset."
    )
    retry_window_s: float = Field(86400, gt=0, description="Retry a failing delivery for this long, then give up.")
    backoff_base_s: float = Field(5, gt=0, description="Delay after the first failed attempt; doubles each time.")
    backoff_max_s: float = Field(3600, gt=0, description="Longest delay between two attempts.")
    timeout_s: float = Field(10, gt=0, description="Timeout of one delivery attempt.")
    poll_interval_s: float = Field(1, gt=0, description="How often the delivery actor looks for due deliveries.")
    max_concurrent: int = Field(32, ge=1, description="Deliveries in flight at once.")

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            from genpulse.webhooks.signatures import parse_secret

            parse_secret(v.get_secret_value())
        return v


class AuthConfig(BaseModel):
    """Who may call the API (docs/tenants.md)."""

    model_config = _STRICT
    mode: Literal["off", "keys"] = Field(
        "off",
        description="`off`: every caller is the built-in tenant (only while the HTTP server listens on loopback); "
        "`keys`: every request carries `Authorization: Bearer <key>`.",
    )
    admin_key: SecretStr | None = Field(
        None, description="The bootstrap admin credential (admin routes, `/metrics`); required with `mode: keys`."
    )

    @model_validator(mode="after")
    def _keys_need_admin(self) -> AuthConfig:
        if self.mode == "keys":
            if self.admin_key is None:
                raise ValueError("auth.mode keys needs auth.admin_key (GENPULSE_AUTH__ADMIN_KEY) to create tenants")
            if len(self.admin_key.get_secret_value()) < 16:
                raise ValueError("auth.admin_key must be at least 16 characters")
        return self


class BillingConfig(BaseModel):
    model_config = _STRICT
    refuse_unpriced: bool = Field(
        False, description="Refuse (422) a task whose provider and task type have no price, instead of free."
    )


class WorkflowsConfig(BaseModel):
    """Stored ComfyUI workflows, `/v1/workflows` (docs/workflows.md)."""

    model_config = _STRICT
    provider: str = Field(
        "comfyui", description="The ComfyUI provider (or instance) that runs workflows and answers `/object_info`."
    )
    admin_only_upload: bool = Field(
        False, description="Only the admin may upload workflows (for a tenant: `?tenant=`); tenants still run them."
    )
    object_info_ttl_s: float = Field(300, ge=0, description="How long a server's `/object_info` is reused.")


class ProviderConfig(BaseModel):
    """Per-vendor settings. Unknown keys are refused so a typo in a credential name fails the deploy."""

    model_config = _STRICT
    enabled: bool = True
    kind: str | None = Field(
        None,
        description="Makes this entry another account of a vendor (`kling_backup: {kind: kling, ...}`): a provider "
        "of its own name, with its own credentials, base URL, limits, limiter and workers.",
    )
    base_url: str | None = None
    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Base URLs of a vendor's other APIs, by name (volcengine: `visual`, `ark`); "
        "each overrides that API's default.",
    )
    api_key: SecretStr | None = None
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    timeout_s: float = Field(30, gt=0, description="Timeout of one HTTP call to the vendor.")
    rps: float = Field(5, gt=0, description="Requests per second to this vendor, cluster-wide (submits and polls).")
    max_concurrent_jobs: int = Field(10, ge=1, description="Vendor jobs in flight at once, cluster-wide.")
    max_output_bytes: int = Field(512 << 20, ge=1, description="Largest vendor output re-hosted.")
    max_connections: int = Field(100, ge=1, description="HTTP connections to this vendor per worker.")
    poll_interval_s: float | None = Field(
        None, gt=0, description="Fixed poll interval; unset: the provider's adaptive schedule (1 s, then slower)."
    )
    servers: list[str] = Field(
        default_factory=list,
        description="Self-hosted servers (ComfyUI): base URLs such as http://10.0.0.5:8188. Jobs go to the least "
        "busy one. Addresses come only from config, never from a request.",
    )
    group_id: str | None = Field(
        None, description="MiniMax GroupId, for older keys that need it on /v1/files/retrieve; unset otherwise."
    )
    submit_retry_budget_s: float = Field(
        120,
        ge=0,
        description="How long a submit the vendor refused with a server error is retried in place (with backoff) "
        "before the attempt fails; rate-limit refusals are waited out until the task's deadline.",
    )
    resubmit_when_unsure: bool = Field(
        False,
        description="Submit again when a submit's outcome is unknown (lost reply, worker died) and the vendor "
        "cannot be asked; off: such a task fails with `submit_outcome_unknown` instead of risking a second "
        "paid job.",
    )
    out_cooldown_s: float = Field(
        60,
        ge=0,
        description="How long model aliases route around this instance after the vendor refused its credentials "
        "or could not be reached (connection refused, connect timeout); 0: never.",
    )
    arrears_cooldown_s: float = Field(
        300,
        ge=0,
        description="How long model aliases route around this instance after the vendor said it is out of credit "
        "(its arrears or quota codes); 0: never.",
    )


class Placement(BaseModel):
    """Where one component's actors run: custom resources to require and node labels to match (both optional).

    An operator gives nodes a custom resource (``ray start --resources='{"gpu_node": 1}'``) or labels
    (``ray start --labels=pool=gpu``) and points components at them, e.g. ``resources: {gpu_node: 0.01}``.
    """

    model_config = _STRICT
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources each actor or replica of the component needs."
    )
    label_selector: dict[str, str] = Field(
        default_factory=dict, description="Ray node labels the component's actors must be scheduled on."
    )

    @field_validator("resources")
    @classmethod
    def _custom_only(cls, v: dict[str, float]) -> dict[str, float]:
        reserved = {"CPU", "GPU", "memory", "object_store_memory"} & set(v)
        if reserved:
            raise ValueError(f"use num_cpus/num_gpus for {sorted(reserved)}; resources are custom ones")
        if any(amount <= 0 for amount in v.values()):
            raise ValueError("resource amounts must be > 0")
        return v

    def actor_options(self) -> dict[str, Any]:
        """The Ray actor options that express this placement (empty: anywhere)."""
        opts: dict[str, Any] = {}
        if self.resources:
            opts["resources"] = dict(self.resources)
        if self.label_selector:
            opts["label_selector"] = dict(self.label_selector)
        return opts


class PlacementConfig(BaseModel):
    """Placement of each GenPulse component; see ``cluster/README.md`` for the node groups it targets."""

    model_config = _STRICT
    ingress: Placement = Field(default_factory=Placement, description="Ingress replicas (HTTP API).")
    diffusion: Placement = Field(default_factory=Placement, description="DiffusionDeployment replicas.")
    workers: Placement = Field(default_factory=Placement, description="ProviderWorker actors.")
    provider_workers: dict[str, Placement] = Field(
        default_factory=dict, description="Per-provider override of `workers` (e.g. kling workers on CPU nodes)."
    )
    limiters: Placement = Field(default_factory=Placement, description="RateLimiter actors.")
    store: Placement = Field(default_factory=Placement, description="The in-cluster TaskStore actor.")

    def for_workers(self, provider: str) -> Placement:
        return self.provider_workers.get(provider, self.workers)


class AppArgs(BaseSettings):
    """Everything the app builder needs. Its fields are exactly ``serve_config.yaml``'s ``args:``."""

    model_config = SettingsConfigDict(
        env_prefix="GENPULSE_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    namespace: str = Field("genpulse", description="Ray namespace of GenPulse's named actors.")
    store: StoreConfig = StoreConfig()
    storage: StorageConfig = StorageConfig()
    security: SecurityConfig = SecurityConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    workers: WorkersConfig = WorkersConfig()
    server: ServerConfig = ServerConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    placement: PlacementConfig = PlacementConfig()
    auth: AuthConfig = AuthConfig()
    billing: BillingConfig = BillingConfig()
    workflows: WorkflowsConfig = WorkflowsConfig()
    pricing: dict[str, dict[str, Price]] = Field(
        default_factory=dict,
        description="Credits per unit, `{provider: {task_type: {per_task, per_image, per_video_second}}}` "
        "(`GENPULSE_PRICING` as JSON); a task with no price is free unless `billing.refuse_unpriced`.",
    )
    models: dict[str, ModelAlias] = Field(
        default_factory=dict,
        description="Model aliases for the OpenAI-compatible routes, `{alias: {provider, task_type, params}}` "
        "(`GENPULSE_MODELS` as JSON); each local diffusers model is also an alias of its own name.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @classmethod
    def load(cls, args: dict[str, Any] | AppArgs | None = None) -> AppArgs:
        """Validate ``args`` (plus the environment); raise ``ConfigError`` naming every bad field."""
        if isinstance(args, AppArgs):
            return args
        try:
            return cls(**(args or {}))
        except ValidationError as exc:
            raise ConfigError(summary("invalid GenPulse config", field_errors(exc.errors()))) from None

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    @model_validator(mode="after")
    def _instances_priced_as_their_kind(self) -> AppArgs:
        """A provider instance with no `pricing` entry of its own costs what its vendor costs (never free by
        omission)."""
        for name, provider in self.providers.items():
            if provider.kind and name not in self.pricing and provider.kind in self.pricing:
                self.pricing[name] = self.pricing[provider.kind]
        return self

    @model_validator(mode="after")
    def _long_lived_leaves_redis_room(self) -> AppArgs:
        """A waiting request holds a Redis connection: a pool no larger than the cap leaves submits none."""
        if self.store.backend == "redis" and self.server.max_long_lived >= self.store.max_connections:
            raise ValueError(
                f"server.max_long_lived ({self.server.max_long_lived}) must be below store.max_connections "
                f"({self.store.max_connections}): each waiting request holds a Redis connection"
            )
        return self
