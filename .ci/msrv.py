#!/usr/bin/env python3
"""Checks that each workspace package's declared rust-version is at least
the rust-version of every crate it builds with (normal, build and dev
dependencies, transitively), so the declared minimum is never below what a
dependency demands. Standard-library APIs newer than the declared version
are caught by clippy's incompatible_msrv lint; no older toolchain can be
installed on CI, so this and clippy are the checks the minimum gets."""

import json
import subprocess
import sys


def version(text):
    """`1.88` and `1.88.0` are the same version."""
    parts = [int(part) for part in (text or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failed = False
    for member in meta["workspace_members"]:
        declared = version(packages[member]["rust_version"])
        # The member's own dev-dependencies count; theirs do not.
        stack = [
            d["pkg"]
            for d in nodes[member]["deps"]
        ]
        seen = set()
        while stack:
            pkg = stack.pop()
            if pkg in seen:
                continue
            seen.add(pkg)
            stack.extend(
                d["pkg"]
                for d in nodes[pkg]["deps"]
                if any(k["kind"] in (None, "build") for k in d["dep_kinds"])
            )
        for pkg in seen:
            needed = version(packages[pkg]["rust_version"])
            if needed > declared:
                failed = True
                print(
                    f"{packages[member]['name']} declares rust-version "
                    f"{packages[member]['rust_version']}, but "
                    f"{packages[pkg]['name']} {packages[pkg]['version']} needs "
                    f"{packages[pkg]['rust_version']}"
                )
    if failed:
        sys.exit(1)
    print("every package's rust-version covers its dependencies")


if __name__ == "__main__":
    main()
