"""Placement from config: the actor options each component is created with (no Ray needed)."""

from __future__ import annotations

import pytest

from deployments.diffusion import options_for
from genpulse.core.config import AppArgs, Placement
from genpulse.core.errors import ConfigError


def test_default_placement_is_anywhere() -> None:
    args = AppArgs.load({})
    for part in ("ingress", "diffusion", "workers", "limiters", "store"):
        assert getattr(args.placement, part).actor_options() == {}
    assert options_for(args.diffusion, args.placement.diffusion)["ray_actor_options"] == {"num_cpus": 1, "num_gpus": 0}


def test_diffusion_options_carry_resources_and_labels() -> None:
    args = AppArgs.load(
        {
            "diffusion": {"num_gpus": 1, "num_cpus": 2},
            "placement": {"diffusion": {"resources": {"gpu_node": 0.01}, "label_selector": {"pool": "gpu"}}},
        }
    )
    opts = options_for(args.diffusion, args.placement.diffusion)
    assert opts["ray_actor_options"] == {
        "num_cpus": 2,
        "num_gpus": 1,
        "resources": {"gpu_node": 0.01},
        "label_selector": {"pool": "gpu"},
    }


def test_placement_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENPULSE_PLACEMENT__WORKERS__RESOURCES", '{"provider_node": 0.001}')
    args = AppArgs.load({"placement": {"store": {"label_selector": {"pool": "head"}}}})
    assert args.placement.workers.actor_options() == {"resources": {"provider_node": 0.001}}
    assert args.placement.store.actor_options() == {"label_selector": {"pool": "head"}}


@pytest.mark.parametrize(
    ("placement", "needle"),
    [
        ({"diffusion": {"resources": {"GPU": 1}}}, "placement.diffusion.resources"),
        ({"workers": {"resources": {"x": 0}}}, "placement.workers.resources"),
        ({"store": {"nodes": ["a"]}}, "placement.store.nodes"),
    ],
)
def test_bad_placement_names_the_field(placement: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        AppArgs.load({"placement": placement})


def test_placement_model_copies_its_maps() -> None:
    p = Placement(resources={"a": 1})
    p.actor_options()["resources"]["a"] = 5
    assert p.resources == {"a": 1}
