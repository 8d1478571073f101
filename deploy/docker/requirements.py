"""Prints the pinned requirements of pyproject.toml, one per line, for the container build.

The image installs them in a layer of their own, before the code is copied, so that a change to
the code reuses the installed dependencies.

Usage: python requirements.py PYPROJECT [EXTRA[,EXTRA...]]   (for example: neural)
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: str, extras: str = "") -> list[str]:
    """The project's dependencies, then those of each named extra, without repeats.

    Raises:
        SystemExit: for an extra pyproject.toml does not declare.
    """
    with open(pyproject, "rb") as handle:
        project = tomllib.load(handle)["project"]
    wanted = [e.strip() for e in extras.split(",") if e.strip()]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in wanted if e not in optional]
    if unknown:
        raise SystemExit(f"unknown extra {', '.join(unknown)}; known: {', '.join(optional)}")
    lines = list(project["dependencies"])
    for extra in wanted:
        lines += optional[extra]
    return list(dict.fromkeys(lines))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    print("\n".join(requirements(*sys.argv[1:])))
