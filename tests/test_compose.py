"""docker-compose.yml cannot run here (no Docker engine): its shape is checked with a YAML parser."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())


def test_the_gpu_profile_serves_the_coder_model_and_points_the_shell_at_it():
    services = COMPOSE["services"]
    vllm, shell = services["vllm"], services["shell"]
    assert vllm["profiles"] == ["gpu"] == shell["profiles"]
    assert vllm["command"][:2] == ["--model", "Qwen/Qwen2.5-Coder-7B-Instruct"]
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "--model-url http://vllm:8000/v1" in shell["command"][-1]
    assert shell["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert "profiles" not in services["postgres"]  # a plain `docker compose up` is the demo alone


def test_every_published_port_is_on_loopback_only():
    """Demo credentials and an open model server: no other host may reach them."""
    published = [port for service in COMPOSE["services"].values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published)
