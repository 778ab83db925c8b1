"""SimulatorConfig from the environment."""

from __future__ import annotations

from datetime import UTC, datetime

from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator


def test_config_from_environment(monkeypatch):
    monkeypatch.setenv("SIMULATOR_SEED", "42")
    monkeypatch.setenv("SIMULATOR_PRODUCTS_PER_SUPPLIER", "12")
    monkeypatch.setenv("SIMULATOR_START_TIME", "2025-01-01T00:00:00Z")
    monkeypatch.setenv("SIMULATOR_FAULTS", '{"*": {"error_rate": 0.2}}')
    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:8765")  # the pipeline's own setting: ignored here
    config = SimulatorConfig.from_env()
    assert config.seed == 42 and config.products_per_supplier == 12
    assert config.start_time == datetime(2025, 1, 1, tzinfo=UTC)
    assert config.faults_for("onecheq").error_rate == 0.2

    sim = get_simulator(build_simulator_app())  # no config: the environment decides
    assert sim.config == config and len(sim.backend("onecheq").snapshot()) == 12


def test_defaults_without_environment(monkeypatch):
    for name in (
        "SIMULATOR_SEED",
        "SIMULATOR_PRODUCTS_PER_SUPPLIER",
        "SIMULATOR_START_TIME",
        "SIMULATOR_FAULTS",
    ):
        monkeypatch.delenv(name, raising=False)
    assert SimulatorConfig.from_env() == SimulatorConfig()
    assert SimulatorConfig().products_per_supplier == 60
