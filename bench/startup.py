"""How fast `parley serve` is ready: spawn to every service SERVING, over several runs.

Target: under 5 s (nothing heavy loaded eagerly). Run: ``python -m bench.startup``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TARGET_S = 5.0
SERVICES = (
    "parley.v1.RoomService",
    "parley.v1.SpeechToTextService",
    "parley.v1.TranslationService",
    "parley.v1.TextToSpeechService",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_serving(parley: str, timeout: float = 60.0) -> float:
    port = free_port()
    env = {
        **os.environ,
        "PARLEY_HOST": "127.0.0.1",
        "PARLEY_PORT": str(port),
        "PARLEY_AUTH": "disabled",
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        [parley, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.perf_counter() - start < timeout:
                try:
                    if all(
                        stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=1).status
                        == health_pb2.HealthCheckResponse.SERVING
                        for s in SERVICES
                    ):
                        return time.perf_counter() - start
                except grpc.RpcError:
                    time.sleep(0.02)
        raise RuntimeError("parley serve did not become SERVING")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    parley = str(Path(sys.executable).parent / "parley")
    times = [time_to_serving(parley) for _ in range(args.runs)]
    p50, worst = statistics.median(times), max(times)
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    print(f"{'metric':<34}{'value':>10}{'target':>10}  result")
    print(f"{'parley serve ready, p50 (s)':<34}{p50:>10.2f}{'':>10}")
    print(f"{'parley serve ready, worst (s)':<34}{worst:>10.2f}{TARGET_S:>10.1f}  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
