"""Thin Ray Serve shells and actor wrappers around ``genpulse``; ``app.build_app`` wires them once."""
