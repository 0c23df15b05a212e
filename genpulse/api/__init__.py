"""The HTTP API: routes (``app``), error mapping (``errors``), body limits (``limits``)."""
