"""AppArgs: the serve_config.yaml args, environment overrides, and errors that name the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from genpulse.core import config
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


def _paths(model: BaseModel, where: str = "") -> Iterator[tuple[str, Path]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path):
            yield where + name, value
        elif isinstance(value, BaseModel):
            yield from _paths(value, f"{where}{name}.")


def test_every_path_default_expands_the_home_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A default of `~/...` must not become a directory named `~` under the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.DiffusionConfig().cache_dir == tmp_path / ".cache" / "genpulse" / "models"
    assert config.StorageConfig().path == tmp_path / ".genpulse" / "data"
    models = [
        cls
        for cls in vars(config).values()
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__ == config.__name__
    ]
    found = []
    for cls in models:
        if any(f.is_required() for f in cls.model_fields.values()):
            continue
        for where, path in _paths(cls()):
            found.append(f"{cls.__name__}.{where}")
            assert path.is_absolute() and "~" not in path.parts, f"{cls.__name__}.{where} = {path}"
    assert {"DiffusionConfig.cache_dir", "StorageConfig.path", "AppArgs.storage.path"} <= set(found)
