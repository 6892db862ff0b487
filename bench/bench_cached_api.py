"""Benchmark 1: the cached task API (and the detail page) against a bare view on the same server.

    .venv/bin/python bench/bench_cached_api.py [--rounds 6] [--seconds 3] [--connections 8]

gunicorn with as many sync workers as cores serves both the portal and, from bench/urls.py, a
bare `JsonResponse` of the very payload the task API answers (and a bare `HttpResponse` of the
detail page's HTML). wrk (a separate process) loads them in interleaved rounds; the ratio is
the median of each round's portal/ceiling ratio (the two measured seconds apart). The task is
cached before the first round (project cache TTL of an hour), so these are warm-cache numbers:
the simulator must see no call during the rounds.

Targets: API/ceiling ≥ 0.5 and API p99 ≤ 10 ms at 8 connections; page/ceiling ≥ 0.25.
"""

from __future__ import annotations

import argparse
import warnings

import harness

warnings.simplefilter("ignore")  # WhiteNoise's "No directory at staticfiles/"


def paired_ratio(portal: harness.Comparison, ceiling: harness.Comparison) -> float:
    return harness.median(
        [ours.rps / bare.rps for ours, bare in zip(portal.rounds, ceiling.rounds, strict=True)]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=8)
    options = parser.parse_args()
    harness.time_limit(170)
    from vassim.simulator import SEED_TASK_ID

    with harness.Stack(cache_ttl=3600) as stack:
        harness.log(f"stack: {stack.describe()}")
        api_body, page_body = stack.write_ceilings(SEED_TASK_ID)
        harness.log(f"payloads: API {len(api_body)} bytes, page {len(page_body)} bytes")
        targets = {
            "api": (stack.url(stack.task_path(SEED_TASK_ID)), stack.api_headers),
            "ceiling_json": (stack.url("/bench/ceiling.json"), {}),
            "page": (stack.url(stack.task_path(SEED_TASK_ID, api=False)), stack.page_headers),
            "ceiling_html": (stack.url("/bench/ceiling.html"), {}),
        }
        # Warm every worker on every target (imports, connections, template loading).
        for url, headers in targets.values():
            harness.wrk(url, seconds=1, connections=options.connections, headers=headers)
        calls_before = stack.upstream_calls()
        results = harness.interleaved(
            targets,
            rounds=options.rounds,
            seconds=options.seconds,
            connections=options.connections,
        )
        upstream_during = stack.upstream_calls() - calls_before

    harness.log(f"{'target':14s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}  rounds (req/s)")
    for result in results.values():
        rounds = " ".join(f"{r.rps:.0f}" for r in result.rounds)
        harness.log(
            f"{result.name:14s} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p99_ms:8.2f}"
            f"  {rounds}"
        )
    errors = sum(r.errors for r in results.values())
    harness.log(
        f"errors (non-2xx or socket): {errors}; upstream calls during rounds: {upstream_during}"
    )
    api, ceiling = results["api"], results["ceiling_json"]
    page, ceiling_html = results["page"], results["ceiling_html"]
    # Paired: each round's portal figure against the ceiling measured right next to it, so that
    # the machine's slow and fast moments cancel out; the median of those ratios.
    api_ratio = paired_ratio(api, ceiling)
    page_ratio = paired_ratio(page, ceiling_html)
    verdict = {
        "api_ratio": api_ratio >= 0.5,
        "api_p99": api.p99_ms <= 10.0,
        "page_ratio": page_ratio >= 0.25,
        "clean": errors == 0 and upstream_during == 0,
    }
    ok = (
        "met"
        if all(verdict.values())
        else "MISSED: " + ", ".join(k for k, v in verdict.items() if not v)
    )
    harness.log(
        f"bench_cached_api: api {api.rps:.0f} req/s (p50 {api.p50_ms:.1f} ms, p99 "
        f"{api.p99_ms:.1f} ms) vs ceiling {ceiling.rps:.0f} req/s (p50 {ceiling.p50_ms:.1f} ms, "
        f"p99 {ceiling.p99_ms:.1f} ms) ratio {api_ratio:.2f} [≥0.5]; page {page.rps:.0f} req/s "
        f"(p99 {page.p99_ms:.1f} ms) vs {ceiling_html.rps:.0f} ratio {page_ratio:.2f} [≥0.25]; "
        f"c={options.connections}, {stack.describe()}: {ok}"
    )


if __name__ == "__main__":
    main()
