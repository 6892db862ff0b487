"""Benchmark: show_task through our client vs the official SDK against the same simulator.

    .venv/bin/python bench/bench_client_vs_sdk.py [-n 300]

The simulator runs in-process on a real loopback socket. The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkvas.v2 import ShowTaskRequest  # noqa: E402
from huaweicloudsdkvas.v2 import VasClient as SdkVasClient  # noqa: E402

from tasks.vas import AkSkAuth, VasClient  # noqa: E402
from vassim.simulator import (  # noqa: E402
    DEFAULT_AK,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    SEED_TASK_ID,
    Simulator,
    serve,
)


def _rate(n: int, call) -> float:
    call()  # warm up (connection pools, imports)
    started = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    n = parser.parse_args().n
    logging.disable(logging.CRITICAL)
    with serve(Simulator()) as server:
        ours = VasClient(
            endpoint=server.url,
            project_id=DEFAULT_PROJECT_ID,
            auth=AkSkAuth(DEFAULT_AK, DEFAULT_SK, project_id=DEFAULT_PROJECT_ID),
            allowed_hosts=["127.0.0.1"],
        )
        config = HttpConfig.get_default_config()
        config.ignore_ssl_verification = True
        sdk = (
            SdkVasClient.new_builder()
            .with_credentials(BasicCredentials(DEFAULT_AK, DEFAULT_SK, DEFAULT_PROJECT_ID))
            .with_endpoints([server.url])
            .with_http_config(config)
            .build()
        )
        request = ShowTaskRequest(service_name="c-face-edge", task_id=SEED_TASK_ID)
        ours_rate = _rate(n, lambda: ours.show_task("c-face-edge", SEED_TASK_ID))
        sdk_rate = _rate(n, lambda: sdk.show_task(request))
    print(f"ours: {n} show_task calls, {ours_rate:.1f} calls/s")
    print(f"sdk:  {n} show_task calls, {sdk_rate:.1f} calls/s")
    ratio = ours_rate / sdk_rate
    print(
        f"client_vs_sdk: ours={ours_rate:.1f} calls/s sdk={sdk_rate:.1f} calls/s "
        f"ratio={ratio:.2f} (target ≥ 1.0)"
    )


if __name__ == "__main__":
    main()
