"""Check a mapping document before deploying it: `python -m crmbridge.mapping.validate FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from crmbridge.errors import ConfigError
from crmbridge.mapping.config import parse_mapping


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m crmbridge.mapping.validate MAPPING.json\n")
        return 2
    path = Path(args[0])
    try:
        config = parse_mapping(path.read_text(), source=str(path))
    except (OSError, ConfigError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(f"{path}: valid ({len(config.products)} product rules, {len(config.country_tax)} country rules)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
