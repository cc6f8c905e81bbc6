"""Rules 8, 9 and 10 (reports/claims.py): images and storage — a Dockerfile traced to an image
and a container, the layer cache on a rebuild, a volume outliving its container."""

from __future__ import annotations

from reports.claims_common import no_evidence, one_run
from reports.claims_verdict import INCONCLUSIVE, REFUTED, SUPPORTED, Doc, Note, Verdict

CACHE_SPEEDUP_MAX = 0.50      # cached rebuild time / cold build time


# -- 8 ------------------------------------------------------------------------------------------

def build_trace(doc: Doc) -> Verdict:
    """Rule 8: one Dockerfile traced to an image (layers, digests) and a container."""
    claim, figure, lecture = "build_trace", "trace", (8,)
    run = one_run(doc, "evidence", "evidence.build", "container")
    if run is None:
        return no_evidence(claim, figure, lecture, "evidence.build")
    extra = run.get("extra") or {}
    image = extra.get("image") or {}
    container = extra.get("container") or {}
    layers = [d for d in image.get("layers") or [] if isinstance(d, str) and ":" in d]
    namespaces = container.get("namespaces") or {}
    numbers = {"image_id": image.get("id"), "layers": len(layers),
               "steps": len(extra.get("cold_steps") or []),
               "container_pid": container.get("pid"), "namespaces": len(namespaces),
               "cgroup": container.get("cgroup"),
               "same_id_when_cached": image.get("same_id_when_cached")}
    ns_run = one_run(doc, "evidence", "evidence.namespaces", "container")
    host = ((ns_run or {}).get("extra") or {}).get("ns_inodes_host") or {}
    if host and all(n in namespaces and n in host and namespaces[n] == host[n]
                    for n in ("pid", "mnt")):
        return Verdict(claim, REFUTED, numbers, figure, ("not_isolated", {}), [], lecture)
    # the trace checked against what it claims: each digest re-hashed from its layer's files,
    # and the container's root an overlay of exactly the image's layers
    rehashed, stacked = image.get("layers_rehashed_equal"), container.get("root_is_image_layers")
    numbers.update(layers_rehashed_equal=rehashed, root_is_image_layers=stacked)
    if rehashed is not None and rehashed < len(layers):
        return Verdict(claim, REFUTED, numbers, figure,
                       ("digest_mismatch", {"equal": rehashed, "layers": len(layers)}), [],
                       lecture)
    if stacked is False:
        return Verdict(claim, REFUTED, numbers, figure, ("root_not_layers", {}), [], lecture)
    complete = image.get("id") and layers and container.get("pid") and namespaces and \
        container.get("cgroup")
    if not complete:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "image/container"}), [], lecture)
    conditions: list[Note] = []
    if image.get("same_id_when_cached") is False:
        conditions.append(("rebuild_new_id", {}))
    if rehashed is None or stacked is None:
        conditions.append(("trace_not_verified", {}))
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("traced", {"layers": len(layers), "pid": container.get("pid")}),
                   conditions, lecture)


# -- 9 ------------------------------------------------------------------------------------------

def layer_cache(doc: Doc) -> Verdict:
    """Rule 9: the rebuild of an unchanged Dockerfile hits the cache and is faster."""
    claim, figure, lecture = "layer_cache", "build", (9,)
    run = one_run(doc, "evidence", "evidence.build", "container")
    if run is None:
        return no_evidence(claim, figure, lecture, "evidence.build")
    metrics, extra = run.get("metrics") or {}, run.get("extra") or {}
    cold, cached = metrics.get("cold_s"), metrics.get("cached_s")
    steps = [s for s in extra.get("cached_steps") or []
             if not str(s.get("text", "")).strip().upper().startswith("FROM")]
    hits = sum(bool(s.get("cached")) for s in steps)
    numbers = {"cold_s": cold, "cached_s": cached, "steps": len(steps), "cache_hits": hits,
               "cached_over_cold": cached / cold if cold and cached is not None else None}
    if not cold or cached is None or not steps:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "cold_s, cached_s, cached_steps"}), [], lecture)
    params = {"hits": hits, "steps": len(steps), "cold": cold, "cached": cached,
              "speedup": cold / cached if cached else float("inf")}
    if hits == 0 or cached >= cold:
        return Verdict(claim, REFUTED, numbers, figure, ("no_cache_gain", params), [], lecture)
    if hits == len(steps) and cached <= CACHE_SPEEDUP_MAX * cold:
        return Verdict(claim, SUPPORTED, numbers, figure, ("cache_fast", params), [], lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("cache_partial", params), [], lecture)


# -- 10 -----------------------------------------------------------------------------------------

def volumes_outlive(doc: Doc) -> Verdict:
    """Rule 10: a volume's data outlives its container; the container layer's does not."""
    claim, figure, lecture = "volumes_outlive", "volume", (10,)
    run = one_run(doc, "evidence", "evidence.volume", "container")
    if run is None:
        return no_evidence(claim, figure, lecture, "evidence.volume")
    metrics = run.get("metrics") or {}
    survived, layer = metrics.get("survived"), metrics.get("container_layer_survived")
    numbers = {"survived": survived, "container_layer_survived": layer,
               "volume": (run.get("extra") or {}).get("volume")}
    if survived is None:
        return Verdict(claim, INCONCLUSIVE, numbers, figure, ("incomplete", {"what": "survived"}),
                       [], lecture)
    if not survived:
        return Verdict(claim, REFUTED, numbers, figure, ("volume_lost", {}), [], lecture)
    if layer:
        return Verdict(claim, REFUTED, numbers, figure, ("layer_kept", {}), [], lecture)
    conditions: list[Note] = [] if layer is not None else [("layer_not_measured", {})]
    return Verdict(claim, SUPPORTED, numbers, figure, ("volume_kept", {}), conditions, lecture)
