"""docker-compose.yml validates (Debian's docker-compose, no Docker engine needed) and wires
the services to each other as the code expects."""

from __future__ import annotations

from tests.deploy.manifests import (
    COMPOSE,
    SERVICE_NAMES,
    STATELESS,
    TEST_KEY,
    compose_config,
    resolved_compose,
)

PARLEY = ("rooms", "stt", "translate", "tts", "gateway")
PORTS = {"rooms": 50051, "stt": 50052, "translate": 50053, "tts": 50054, "gateway": 8000}


def test_the_compose_file_validates(tmp_path):
    config = resolved_compose(tmp_path)
    assert set(config["services"]) == {*PARLEY, "redis"}


def test_it_refuses_to_run_without_an_api_key(tmp_path):
    result = compose_config(tmp_path, env={})
    assert result.returncode != 0
    assert "set PARLEY_API_KEY" in result.stderr


def test_a_mistake_in_the_file_fails_validation(tmp_path):
    # The check above would mean nothing if docker-compose accepted anything.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("healthcheck:", "helthcheck:", 1))
    result = compose_config(tmp_path, env={"PARLEY_API_KEY": TEST_KEY}, compose_file=broken)
    assert result.returncode != 0
    assert "helthcheck" in result.stderr


def test_every_parley_container_runs_the_one_image(tmp_path):
    services = resolved_compose(tmp_path)["services"]
    for name in PARLEY:
        assert services[name]["image"] == "parley:latest", name
        assert services[name]["build"]["context"] == str(COMPOSE.parent), name
    assert services["redis"]["image"].startswith("redis:7")


def test_each_service_listens_where_the_others_look_for_it(tmp_path):
    services = resolved_compose(tmp_path)["services"]
    env = {name: services[name]["environment"] for name in PARLEY}
    for name in SERVICE_NAMES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        assert env[name]["PARLEY_PORT"] == str(PORTS[name])
        assert env[name]["PARLEY_HOST"] == "0.0.0.0"
    assert services["gateway"]["command"] == ["parley", "gateway"]
    assert env["gateway"]["PARLEY_GATEWAY_PORT"] == "8000"
    assert env["gateway"]["PARLEY_GATEWAY_HOST"] == "0.0.0.0"
    assert env["gateway"]["PARLEY_GATEWAY_ROOMS_ADDRESS"] == "rooms:50051"
    for name in STATELESS:
        # dns:///: balanced over every container of the name (docker compose --scale).
        assert env["rooms"][f"PARLEY_{name.upper()}_ADDRESS"] == f"dns:///{name}:{PORTS[name]}"
    assert env["rooms"]["PARLEY_ROOMS_REDIS_URL"] == "redis://redis:6379/0"


def test_health_checks_ask_each_service_on_its_own_port(tmp_path):
    services = resolved_compose(tmp_path)["services"]
    for name, service_name in SERVICE_NAMES.items():
        test = services[name]["healthcheck"]["test"]
        assert test == ["CMD", "parley", "health", f"127.0.0.1:{PORTS[name]}", service_name]
    assert services["gateway"]["healthcheck"]["test"] == [
        "CMD",
        "parley",
        "health",
        "http://127.0.0.1:8000/",
    ]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_containers_start_once_what_they_call_is_healthy(tmp_path):
    services = resolved_compose(tmp_path)["services"]
    rooms = services["rooms"]["depends_on"]
    assert set(rooms) == {*STATELESS, "redis"}
    assert services["gateway"]["depends_on"] == {"rooms": {"condition": "service_healthy"}}
    assert all(d == {"condition": "service_healthy"} for d in rooms.values())


def test_one_key_everywhere_and_only_rooms_and_gateway_published(tmp_path):
    services = resolved_compose(tmp_path)["services"]
    for name in SERVICE_NAMES:
        env = services[name]["environment"]
        assert env["PARLEY_AUTH"] == "required"
        assert env["PARLEY_API_KEYS"] == TEST_KEY, name
    assert services["rooms"]["environment"]["PARLEY_BACKEND_API_KEY"] == TEST_KEY
    assert services["gateway"]["environment"]["PARLEY_API_KEY"] == TEST_KEY
    for name in STATELESS:
        # All the room service's streams carry one key: no per-key limit on the engines.
        assert services[name]["environment"]["PARLEY_MAX_STREAMS_PER_KEY"] == "0"
    for name in SERVICE_NAMES:
        # Prometheus reaches the metrics inside the network, never from outside.
        assert services[name]["environment"]["PARLEY_METRICS_ADDRESS"] == "0.0.0.0:9090"
        assert "9090" in services[name]["expose"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"rooms", "gateway"}
    assert TEST_KEY not in COMPOSE.read_text()
