"""Removing a namespace's detached actors: they outlive the Serve app that made them.

``serve.delete`` removes the ingress and diffusion replicas only; the store, worker, limiter, webhook and
retention actors are detached and named in the app's namespace, so an operator (``genpulse serve`` on exit)
and the test suite (after each Ray test) remove them here. Killing the store actor loses an in-cluster
store's tasks: that is what tearing a namespace down means (a Redis store keeps them).
"""

from __future__ import annotations

from collections.abc import Iterable


def named_actors(namespaces: Iterable[str] | None = None) -> set[tuple[str, str]]:
    """``(namespace, name)`` of the cluster's live named actors, in ``namespaces`` when given."""
    import ray

    wanted = None if namespaces is None else set(namespaces)
    return {
        (actor["namespace"], actor["name"])
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if wanted is None or actor["namespace"] in wanted
    }


def kill_actors(actors: Iterable[tuple[str, str]]) -> list[str]:
    """Kill each ``(namespace, name)`` for good (no restart); returns the names of those already gone."""
    import ray

    gone = []
    for namespace, name in actors:
        try:
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
        except ValueError:  # exited between the listing and the kill
            gone.append(name)
    return gone


def remove_namespace(namespace: str) -> int:
    """Kill every named actor in ``namespace``; returns how many were killed."""
    actors = named_actors([namespace])
    return len(actors) - len(kill_actors(actors))
