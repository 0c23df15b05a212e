"""Provider instances: a second account of a vendor (`providers.kling_backup.kind: kling`) is a provider of its own
name, with its own credentials and base URL, reachable by tasks and by model aliases; an alias's routes pick an
instance by priority, then weight (no Ray)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import httpx
import openai
import pytest

from genpulse.api.openai import catalog
from genpulse.api.openai.errors import OpenAIError
from genpulse.core.config import AppArgs
from genpulse.core.errors import ConfigError
from genpulse.providers.registry import Registry
from genpulse.tenants.auth import OPEN
from tests.harness import local_args, running_app
from tests.vendors.harness import KLING, app_config
from tests.vendors.live import submit_and_wait

BACKUP = {"access_key": "AKbackupkling00", "secret_key": "SKbackupkling000000000000000000000"}


def test_kind_must_name_a_vendor_and_an_instance_its_own_name() -> None:
    with pytest.raises(ConfigError, match=r"providers\.local2\.kind: 'diffusers' is not a vendor provider"):
        Registry(AppArgs.load({"providers": {"local2": {"kind": "diffusers"}}}))
    with pytest.raises(ConfigError, match=r"providers\.kling\.kind: 'kling' is a provider itself"):
        Registry(AppArgs.load({"providers": {"kling": {"kind": "kling"}}}))
    registry = Registry(AppArgs.load({"providers": {"kling_backup": {"kind": "kling", **BACKUP}}}))
    backup = registry.get("kling_backup")
    assert backup.name == "kling_backup" and backup.is_configured() and not registry.get("kling").is_configured()


def test_an_alias_naming_an_unknown_provider_or_task_type_fails_the_deploy() -> None:
    with pytest.raises(ConfigError, match=r"models\.x: unknown provider 'klingg'"):
        Registry(AppArgs.load({"models": {"x": {"provider": "klingg", "task_type": "text-to-image"}}}))
    with pytest.raises(ConfigError, match=r"models\.y: openai has no task type 'text-to-video'"):
        Registry(AppArgs.load({"models": {"y": {"routes": [{"provider": "openai"}], "task_type": "text-to-video"}}}))


def test_an_instance_without_a_price_of_its_own_costs_what_its_vendor_costs() -> None:
    price = {"text-to-image": {"per_task": 2}}
    own = {"text-to-image": {"per_task": 5}}
    args = AppArgs.load(
        {
            "providers": {"kling_b": {"kind": "kling"}, "kling_c": {"kind": "kling"}},
            "pricing": {"kling": price, "kling_c": own},
        }
    )
    assert (
        args.pricing["kling_b"]["text-to-image"].per_task == 2
        and args.pricing["kling_c"]["text-to-image"].per_task == 5
    )


def test_a_second_account_gets_its_own_jobs(tmp_path: Path) -> None:
    backup_state = KLING.imitation(BACKUP)
    with KLING.serve() as (main, main_url), KLING.serve(backup_state) as (backup, backup_url):
        backup_config = {**app_config(KLING, backup_url), **BACKUP, "kind": "kling"}
        args = local_args(
            tmp_path,
            providers={"kling": app_config(KLING, main_url), "kling_backup": backup_config},
            models={"kling-b": {"provider": "kling_backup", "task_type": "text-to-image"}},
        )
        with running_app(args) as app, httpx.Client(base_url=app.url, timeout=30) as http:
            body = {"provider": "kling_backup", "task_type": "text-to-image", "params": {"prompt": "a fox"}}
            task = submit_and_wait(http, body)
            assert task["status"] == "succeeded" and task["provider"] == "kling_backup"
            assert (len(main.jobs), len(backup.jobs)) == (0, 1)  # the backup's credentials, at the backup's URL
            sdk = openai.OpenAI(base_url=f"{app.url}/v1", api_key="unused", max_retries=0)
            assert "kling-b" in {m.id for m in sdk.models.list()}
            out = sdk.images.generate(model="kling-b", prompt="a fox", response_format="b64_json")
            assert out.data[0].b64_json and (len(main.jobs), len(backup.jobs)) == (0, 2)


def test_routes_pick_by_priority_then_weight_and_skip_the_unusable() -> None:
    kling = {"kind": "kling", **BACKUP}
    args = AppArgs.load(
        {
            "providers": {"kling_a": kling, "kling_b": kling, "kling_off": {**kling, "enabled": False},
                          "kling_nokeys": {"kind": "kling"}},
            "models": {
                "split": {"task_type": "text-to-image", "routes": [
                    {"provider": "kling_a", "weight": 3}, {"provider": "kling_b", "weight": 1},
                    {"provider": "kling_off", "weight": 100}]},
                "fallback": {"task_type": "text-to-image", "routes": [
                    {"provider": "kling_nokeys", "priority": 0}, {"provider": "kling_b", "priority": 1},
                    {"provider": "kling_a", "priority": 2}]},
                "none": {"task_type": "text-to-image", "routes": [{"provider": "kling_off"}]},
            },
        }
    )  # fmt: skip
    registry, rng = Registry(args), random.Random(7)
    picks = Counter(catalog.resolve("split", args, registry, OPEN, rng=rng).provider.name for _ in range(4000))
    assert set(picks) == {"kling_a", "kling_b"}  # the disabled one gets nothing, whatever its weight
    assert 0.72 < picks["kling_a"] / 4000 < 0.78
    assert {catalog.resolve("fallback", args, registry, OPEN, rng=rng).provider.name for _ in range(50)} == {"kling_b"}
    assert "none" not in {m.id for m in catalog.usable(args, registry, OPEN)}
    with pytest.raises(OpenAIError) as err:
        catalog.resolve("none", args, registry, OPEN)
    assert err.value.status == 404
    with pytest.raises(ConfigError, match="set either provider or routes"):
        AppArgs.load({"models": {"bad": {"task_type": "text-to-image"}}})
