"""The webhook vector the Python, Java and TypeScript SDK tests share (tests/vectors/webhook.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genpulse.webhooks.signatures import InvalidSignature, sign, verify

VECTOR = json.loads((Path(__file__).resolve().parent / "vectors" / "webhook.json").read_text())


def test_the_shared_vector_verifies() -> None:
    v = VECTOR
    assert sign(v["secret"], v["msg_id"], v["timestamp"], v["body"]) == v["signature"]
    verify(v["secret"], v["headers"], v["body"].encode(), now=v["timestamp"], tolerance_s=v["tolerance_s"])


@pytest.mark.parametrize("case", VECTOR["invalid"], ids=[c["why"] for c in VECTOR["invalid"]])
def test_each_invalid_case_of_the_vector_is_refused(case: dict[str, object]) -> None:
    with pytest.raises(InvalidSignature):
        verify(VECTOR["secret"], case["headers"], str(case["body"]), now=float(str(case["now"])))  # type: ignore[arg-type]
