"""runtime/image/ignore.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations
