"""Running a deployment's containers as plain processes on 127.0.0.1, as their orchestrator
would: the same commands, the image's environment under each container's own, the addresses
of the other containers, and the same health checks (compose `healthcheck: test:`, the
Kubernetes probes). Only what a machine without Docker forces changes: every process listens
on 127.0.0.1 and a free port, and names like ``stt:50052`` become ``127.0.0.1:<that port>``."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, tool
from tests.deploy.manifests import TEST_KEY

Check = list[str]  # a command, exit 0 when healthy; ["tcp", port] for a TCP connect


@dataclass
class Unit:
    """One container: what runs, with which environment, reached under which names."""

    name: str
    hosts: list[str]
    command: list[str]
    env: dict[str, str]
    port: int
    checks: list[Check]
    redis: bool = False
    files: dict[str, str] = field(default_factory=dict)  # path in the container -> content


@dataclass
class Running:
    unit: Unit
    port: int
    env: dict[str, str]
    process: subprocess.Popen
    metrics_port: int | None = None  # where its Prometheus endpoint listens, if it has one

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(name: str) -> str:
    """The local program a container command names."""
    if name == "python":
        return sys.executable
    if name == "parley":
        return tool("parley")
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run scripts/install-system.sh (the README set-up)")
    return path


# --- units from compose and Kubernetes --------------------------------------------------------


def compose_units(config: dict, image_env: dict[str, str]) -> list[Unit]:
    units = []
    for name, service in config["services"].items():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: use the exec form of healthcheck test (CMD)"
        if service["image"].startswith("redis:"):
            units.append(Unit(name, [name], service["command"], {}, 6379, [test[1:]], redis=True))
            continue
        env = {**image_env, **{k: str(v) for k, v in service["environment"].items()}}
        port = int(env.get("PARLEY_PORT") or env["PARLEY_GATEWAY_PORT"])
        units.append(Unit(name, [name], service["command"], env, port, [test[1:]]))
    return units


def _selects(service: dict, labels: dict) -> bool:
    selector = service["spec"].get("selector") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def k8s_units(objects: list[dict], image_env: dict[str, str]) -> list[Unit]:
    services = [o for o in objects if o["kind"] == "Service"]
    units = []
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        (container,) = pod["spec"]["containers"]
        ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
        port = container["ports"][0]["containerPort"]
        redis = container["image"].startswith("redis:")
        env = {} if redis else dict(image_env)
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref == {"name": "parley-api-key", "key": "api-key"}, ref
                env[item["name"]] = TEST_KEY
        files = {}
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            secret = volumes[mount["name"]].get("secret")
            if secret:
                assert secret["secretName"] == "parley-api-key", secret
                for item in secret["items"]:
                    files[f"{mount['mountPath']}/{item['path']}"] = TEST_KEY + "\n"
        checks = []
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(kind)
            if probe:
                checks.append(_probe_check(probe, ports))
        hosts = [s["metadata"]["name"] for s in services if _selects(s, labels)]
        name = labels["app.kubernetes.io/component"]
        units.append(Unit(name, hosts, container["command"], env, port, checks, redis, files))
    return units


def _probe_check(probe: dict, ports: dict) -> Check:
    """The command that asks what the kubelet asks."""

    def number(port) -> int:
        return ports[port] if isinstance(port, str) else port

    if "grpc" in probe:
        grpc = probe["grpc"]
        return ["parley", "health", f"127.0.0.1:{grpc['port']}", grpc.get("service", "")]
    if "httpGet" in probe:
        get = probe["httpGet"]
        return ["parley", "health", f"http://127.0.0.1:{number(get['port'])}{get['path']}"]
    if "exec" in probe:
        return list(probe["exec"]["command"])
    if "tcpSocket" in probe:
        return ["tcp", str(number(probe["tcpSocket"]["port"]))]
    raise AssertionError(f"unknown probe {probe}")


# --- running ------------------------------------------------------------------------------------


def depends_on(unit: Unit, units: list[Unit]) -> list[Unit]:
    """The units whose address (host:port) appears in ``unit``'s environment."""
    values = " ".join(unit.env.values())
    return [
        other
        for other in units
        if other is not unit and any(f"{host}:{other.port}" in values for host in other.hosts)
    ]


def start(
    units: list[Unit],
    spawn: Callable[..., ServerProcess],
    processes: list[subprocess.Popen],
    tmp: Path,
) -> dict[str, Running]:
    """Starts every unit, those it depends on first (in parallel where they may be); each
    one's health checks must pass before the units that need it start."""
    running: dict[str, Running] = {}
    waiting = list(units)
    while waiting:
        ready = [u for u in waiting if all(d.name in running for d in depends_on(u, units))]
        assert ready, f"circular addresses between {[u.name for u in waiting]}"
        with concurrent.futures.ThreadPoolExecutor(len(ready)) as pool:
            started = list(
                pool.map(lambda u: _start(u, units, running, spawn, processes, tmp), ready)
            )
        for unit, run in zip(ready, started, strict=True):
            running[unit.name] = run
            waiting.remove(unit)
            for check in unit.checks:
                result = run_check(run, check)
                assert result.returncode == 0, (unit.name, check, result.stdout, result.stderr)
    return running


def _start(unit, units, running, spawn, processes, tmp: Path) -> Running:
    if unit.redis:
        port = free_port()
        argv = [executable(unit.command[0]), *unit.command[1:], "--port", str(port)]
        argv += ["--bind", "127.0.0.1"]
        process = subprocess.Popen(
            argv, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        processes.append(process)
        run = Running(unit, port, {}, process)
        deadline = time.monotonic() + 20
        while run_check(run, unit.checks[0]).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.1)
        return run
    env = dict(unit.env)
    for dep in depends_on(unit, units):
        for host in dep.hosts:
            old, new = f"{host}:{dep.port}", f"127.0.0.1:{running[dep.name].port}"
            env = {k: v.replace(old, new) for k, v in env.items()}
    for path, content in unit.files.items():
        local = tmp / unit.name / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(content)
        env = {k: v.replace(path, str(local)) for k, v in env.items()}
    if "PARLEY_PORT" in env:
        env.update(PARLEY_HOST="127.0.0.1", PARLEY_PORT="0")
    if "PARLEY_GATEWAY_PORT" in env:
        env.update(PARLEY_GATEWAY_HOST="127.0.0.1", PARLEY_GATEWAY_PORT="0")
    if "PARLEY_METRICS_ADDRESS" in env:
        env["PARLEY_METRICS_ADDRESS"] = "127.0.0.1:0"
    # The image's model folder is filled at build time; here the user's cache serves.
    env.pop("PARLEY_CACHE_DIR", None)
    server = spawn(executable(unit.command[0]), *unit.command[1:], env=env, timeout=120)
    for key in ("PARLEY_PORT", "PARLEY_GATEWAY_PORT"):
        if key in env:
            env[key] = str(server.port)
    metrics = [r["port"] for r in server.log if r.get("event") == "metrics endpoint"]
    return Running(unit, server.port, env, server.process, metrics[0] if metrics else None)


def run_check(run: Running, check: Check) -> subprocess.CompletedProcess:
    """Runs a health check of ``run`` as its orchestrator would (in the container's
    environment), against the port the process really listens on."""
    if check[0] == "tcp":
        try:
            socket.create_connection(("127.0.0.1", run.port), timeout=3).close()
            return subprocess.CompletedProcess(check, 0, "", "")
        except OSError as exc:
            return subprocess.CompletedProcess(check, 1, "", str(exc))
    argv = [a.replace(f"127.0.0.1:{run.unit.port}", run.address) for a in check]
    if run.unit.redis:
        argv[1:1] = ["-p", str(run.port)]
    argv[0] = executable(argv[0])
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env={**os.environ, **run.env}
    )
