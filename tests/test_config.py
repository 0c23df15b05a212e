"""AppArgs: the serve_config.yaml args, environment overrides, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genpulse.core.config import AppArgs
from genpulse.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_serve_config_args_are_exactly_app_args() -> None:
    doc = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    (app,) = doc["applications"]
    assert app["import_path"] == "deployments.app:build_app"
    args = AppArgs.load(app["args"])
    assert args.store.backend == "actor" and args.diffusion.model == "tiny"
    assert set(app["args"]) <= set(AppArgs.model_fields)


def test_environment_overrides_args_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPULSE_STORE__URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("GENPULSE_PROVIDERS__KLING__ACCESS_KEY", "ak-env")
    monkeypatch.setenv("GENPULSE_DIFFUSION__NUM_REPLICAS", "3")
    args = AppArgs.load({"store": {"event_history": 32}, "diffusion": {"num_replicas": 1, "max_steps": 50}})
    assert args.store.url == "redis://127.0.0.1:6379/0" and args.store.event_history == 32
    assert args.diffusion.num_replicas == 3 and args.diffusion.max_steps == 50
    assert args.provider("kling").access_key is not None
    assert args.provider("kling").access_key.get_secret_value() == "ak-env"


def test_secrets_never_appear_in_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPULSE_PROVIDERS__KLING__SECRET_KEY", "super-secret-value")
    args = AppArgs.load({})
    assert "super-secret-value" not in repr(args)
    assert "super-secret-value" not in str(args.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"store": {"url": "http://x"}}, "store.url"),
        ({"diffusion": {"min_size": 60}}, "diffusion.min_size"),
        ({"diffusion": {"num_replicas": 0}}, "diffusion.num_replicas"),
        ({"diffusion": {"default_size": 2048}}, "diffusion"),
        ({"workers": {"pool_size": "many"}}, "workers.pool_size"),
        ({"providers": {"kling": {"acces_key": "typo"}}}, "providers.kling.acces_key"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_config_names_the_field(args: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        AppArgs.load(args)
    assert field in str(info.value)


def test_build_app_fails_the_deploy_on_bad_config() -> None:
    from deployments.app import build_app

    with pytest.raises(ConfigError, match=r"server\.max_body_bytes"):
        build_app({"server": {"max_body_bytes": 1}})


def test_ingress_has_room_for_long_lived_requests_besides_submits() -> None:
    """Serve admits the long-lived cap plus the short requests, so streams and waits cannot take the submits' room;
    with Redis, the pool keeps connections beyond the cap (a waiting request holds one)."""
    from deployments.app import build_app

    ingress = build_app({"server": {"max_ongoing_requests": 100, "max_long_lived": 300}})._bound_deployment
    assert ingress._deployment_config.max_ongoing_requests == 400
    assert AppArgs.load({}).server.max_long_lived >= 200  # 200 idle event streams fit by default
    redis = {"url": "redis://127.0.0.1:6379/0", "max_connections": 64}
    with pytest.raises(ConfigError, match=r"server\.max_long_lived \(256\) must be below store\.max_connections"):
        AppArgs.load({"store": redis})
    assert AppArgs.load({"store": redis, "server": {"max_long_lived": 48}}).server.max_long_lived == 48
