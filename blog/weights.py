"""Trained weights on disk: saved with their config, seed, steps and final loss, found by hash.

A cache entry is `.cache/blog/<family>-<key>.pt`, key = sha256 of the canonical JSON of (family,
the family's config, the mixture config, the seed, the source of the blog modules the family
uses). Changing any hyperparameter, the seed or the code trains afresh; a corrupt entry is a
warning and a miss. Files are written atomically and read with torch.load(weights_only=True).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

import blog

CACHE_DIR = Path(blog.__file__).resolve().parents[1] / ".cache" / "blog"


def cache_dir() -> Path:
    """$BLOG_CACHE_DIR if set (tests), else .cache/blog/ in the checkout."""
    return Path(os.environ.get("BLOG_CACHE_DIR", CACHE_DIR))


def source_hash(modules: list[str]) -> str:
    """sha256 over the source of blog.<module> for each named module."""
    h = hashlib.sha256()
    root = Path(blog.__file__).parent
    for name in sorted(modules):
        h.update(name.encode() + b"\0" + (root / f"{name}.py").read_bytes() + b"\0")
    return h.hexdigest()


def cache_key(family: str, config: dict[str, Any], seed: int, modules: list[str]) -> str:
    canon = json.dumps({"family": family, "config": config, "seed": seed,
                        "code": source_hash(modules)}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def cache_path(family: str, key: str) -> Path:
    return cache_dir() / f"{family}-{key}.pt"


def save(path: Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write {'state_dict', 'meta'} atomically (temp file in the same folder, then os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"state_dict": state_dict, "meta": meta}, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """(state_dict, meta), or None when absent; a corrupt file warns and counts as absent."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        return obj["state_dict"], obj["meta"]
    except Exception as e:  # any unreadable entry is a miss, never a crash
        warnings.warn(f"ignoring corrupt weights cache {path}: {type(e).__name__}: {e}",
                      stacklevel=2)
        return None
