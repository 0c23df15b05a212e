"""Write the HTTP API's OpenAPI document to ``openapi.json`` (or check that the committed one is current).

    python scripts/export_openapi.py            # regenerate openapi.json at the repo root
    python scripts/export_openapi.py --check    # exit 1 if openapi.json differs from the code

Run it after changing a route or a wire type; ``tests/test_openapi.py`` fails while the file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genpulse.api.app import create_api  # noqa: E402

TARGET = ROOT / "openapi.json"


def spec() -> dict[str, Any]:
    return create_api().openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when openapi.json is stale")
    parser.add_argument("--out", type=Path, default=TARGET)
    opts = parser.parse_args(argv)
    text = render(spec())
    if opts.check:
        current = opts.out.read_text() if opts.out.exists() else ""
        if current != text:
            print(f"{opts.out} is stale: run python scripts/export_openapi.py", file=sys.stderr)
            return 1
        return 0
    opts.out.write_text(text)
    print(f"wrote {opts.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
