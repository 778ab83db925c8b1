"""docker-compose.yml is consistent, checked without Docker (none runs here).

The file is read the way Compose reads it (YAML anchors and merge keys, then ``${VAR:-default}``
interpolation) and every claim it makes is checked against the repository: the commands parse with
the real CLIs installed from requirements.lock, the workspace points at the code server, the
Dagster URL is the one ``retail_pipeline.db.urls`` derives, the Dockerfile copies files that exist.
No database, no network.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import shlex
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"

APP_IMAGE = "retail_pipeline:latest"
REQUIRED_SERVICES = {
    "postgres", "migrate", "code", "webserver", "daemon", "sidecar", "simulators", "grafana", "minio", "minio_bucket",
    "redis", "worker", "browser_worker",
}  # fmt: skip
# Services allowed to run an image this project does not build.
PUBLIC_IMAGES = {
    "postgres": "postgres:16",
    "grafana": "grafana/grafana-oss:11.3.1",
    "minio": "minio/minio:RELEASE.2025-04-22T22-12-26Z",
    "minio_bucket": "minio/mc:RELEASE.2025-04-16T18-13-26Z",
    "redis": "redis:7.4-alpine",
}
# Services that start only with a profile: the simulators for the demo, the object store for scale-out.
PROFILED = {
    "simulators": ["demo"],
    **dict.fromkeys(["minio", "minio_bucket", "redis", "worker", "browser_worker"], ["scale"]),
}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
CONSOLE_SCRIPTS = {"retail-pipeline", "dagster", "dagster-webserver", "dagster-daemon"}


# --- reading the file as Compose does ----------------------------------------------------------

_VAR = re.compile(r"\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.S)


class MissingVariable(ValueError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR:+r}."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        if match.group(3):
            return env.get(match.group(3), "")
        braced = _BRACED.match(match.group(2))
        assert braced and "${" not in match.group(2), f"unsupported interpolation {match.group(0)!r}"
        name, op, arg = braced.groups()
        value = env.get(name)
        set_, nonempty = value is not None, bool(value)
        if op is None:
            return value or ""
        present = nonempty if op.startswith(":") else set_
        if op.endswith("-"):
            return value if present else arg  # type: ignore[return-value]
        if op.endswith("?"):
            if not present:
                raise MissingVariable(f"{name}: {arg}")
            return value  # type: ignore[return-value]
        return arg if present else ""  # ":+" / "+"

    return _VAR.sub(sub, text)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    return node


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate_tree(yaml.safe_load(COMPOSE_FILE.read_text()), env or {})


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """Anchors and merge keys resolved, variables not yet substituted."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """As `docker compose config` would see it with no variables set (every default applied)."""
    return load_compose({})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# --- helpers -----------------------------------------------------------------------------------


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    assert isinstance(deps, dict), "depends_on must use the long form, with a condition per service"
    return deps


def healthcheck(service: dict[str, Any]) -> list[str] | None:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check["test"]
    return argv(test) if isinstance(test, list) else ["CMD-SHELL", test]


def dependency_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Topological order of depends_on; fails on a cycle."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"depends_on cycle: {' -> '.join([*path, name])}"
        state[name] = "visiting"
        for dep in depends_on(services[name]):
            visit(dep, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in services:
        visit(name, [])
    return order


def ancestors(services: dict[str, dict[str, Any]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(depends_on(services[name]))
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(depends_on(services[dep]))
    return seen


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> named volume (bind mounts are not named volumes and are skipped)."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target, kind = volume.get("source"), volume["target"], volume.get("type", "volume")
        else:
            source, target = volume.split(":")[:2]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "volume" and source:
            mounts[target] = source
    return mounts


def config_mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> top-level config name."""
    mounts = {}
    for config in service.get("configs") or []:
        source = config if isinstance(config, str) else config["source"]
        target = f"/{source}" if isinstance(config, str) else config.get("target", f"/{source}")
        mounts[target] = source
    return mounts


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for each published port."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append((port.get("host_ip", "0.0.0.0"), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        assert len(parts) >= 2, f"{port!r}: publish with an explicit host port"
        ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        result.append((ip, int(parts[-2]), int(parts[-1])))
    return result


def option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            return args[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def listen_port(service: dict[str, Any]) -> int:
    """The port the service's own command listens on (-p / --port); Grafana's is GF_SERVER_HTTP_PORT."""
    if "command" not in service and "GF_SERVER_HTTP_PORT" in (service.get("environment") or {}):
        return int(service["environment"]["GF_SERVER_HTTP_PORT"])
    port = option(argv(service["command"]), "-p", "--port")
    assert port is not None, f"{service['command']}: no -p/--port"
    return int(port)


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def dockerfile_lines(build: dict[str, Any]) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", build["dockerfile_inline"])
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            lines.append((instruction.upper(), rest.strip()))
    return lines


# --- services, images, profiles ----------------------------------------------------------------


# Keys of the Compose Specification (compose-spec/schema/compose-spec.json): a misspelt key
# (`depend_on`, `healthckeck`) would otherwise be ignored by this test and rejected by Compose.
TOP_LEVEL_KEYS = {"name", "include", "services", "models", "networks", "volumes", "secrets", "configs"}
SERVICE_KEYS = set(
    re.findall(
        r"\w+",
        """develop deploy annotations attach build blkio_config cap_add cap_drop cgroup cgroup_parent
        command configs container_name cpu_count cpu_percent cpu_shares cpu_quota cpu_period
        cpu_rt_period cpu_rt_runtime cpus cpuset credential_spec depends_on device_cgroup_rules devices
        dns dns_opt dns_search domainname entrypoint env_file label_file environment expose extends
        provider external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation
        labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit
        network_mode models networks oom_kill_disable oom_score_adj pid pids_limit platform ports
        post_start pre_stop privileged profiles pull_policy pull_refresh_after read_only restart runtime
        scale security_opt shm_size secrets sysctls stdin_open stop_grace_period stop_signal storage_opt
        tmpfs tty ulimits use_api_socket user uts userns_mode volumes volumes_from working_dir""",
    )
)
BUILD_KEYS = set(
    re.findall(
        r"\w+",
        """context dockerfile dockerfile_inline entitlements args ssh labels cache_from cache_to no_cache
        additional_contexts network pull target shm_size extra_hosts isolation privileged secrets tags
        ulimits platforms""",
    )
)
HEALTHCHECK_KEYS = {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"}
DEPENDS_ON_KEYS = {"condition", "required", "restart"}


def _unknown(mapping: dict[str, Any], known: set[str]) -> set[str]:
    return {key for key in mapping if key not in known and not key.startswith("x-")}


def test_only_compose_spec_keys(compose, services):
    assert not _unknown(compose, TOP_LEVEL_KEYS), "`version` is obsolete; other keys are not Compose's"
    for name, service in services.items():
        assert not _unknown(service, SERVICE_KEYS), f"{name}: {_unknown(service, SERVICE_KEYS)}"
        if isinstance(service.get("build"), dict):
            assert not _unknown(service["build"], BUILD_KEYS), f"{name}.build"
        if service.get("healthcheck"):
            assert not _unknown(service["healthcheck"], HEALTHCHECK_KEYS), f"{name}.healthcheck"
        for target, spec in depends_on(service).items():
            assert not _unknown(spec, DEPENDS_ON_KEYS), f"{name}.depends_on.{target}"
        assert isinstance(service.get("environment", {}), dict), f"{name}: environment as a mapping"
    for name, config in (compose.get("configs") or {}).items():
        assert set(config) & {"content", "file", "environment", "external"}, f"config {name} has no source"


def test_required_services_exist(services):
    assert set(services) >= REQUIRED_SERVICES, f"missing: {REQUIRED_SERVICES - set(services)}"


def test_only_the_simulators_and_scale_out_services_are_profiled(services):
    for name, service in services.items():
        assert service.get("profiles") == PROFILED.get(name), f"{name}: profiles {service.get('profiles')}"


def test_one_image_built_once_and_shared(services):
    builders = [name for name, service in services.items() if "build" in service]
    assert len(builders) == 1, f"exactly one service builds the image, got {builders}"
    builder = builders[0]
    assert services[builder].get("image") == APP_IMAGE, "the build must be tagged with the shared image"
    assert services[builder]["build"].get("context") in (".", "./"), "build from the repository root"
    for name, service in services.items():
        if name in PUBLIC_IMAGES:
            assert service.get("image") == PUBLIC_IMAGES[name] and "build" not in service
            continue
        assert service.get("image") == APP_IMAGE, f"{name} must run the project's image"
        if name != builder:
            # The tag exists only locally: a registry must never be asked for it.
            assert service.get("pull_policy") in ("never", "build"), f"{name}: pull_policy never"
            # `docker compose up <name>` must pull in the builder, or the image would not exist.
            if not service.get("profiles"):
                assert builder in ancestors(services, name), f"{name} does not depend on {builder}"


def test_restart_policies_are_valid_strings(services):
    # A bare `no` in YAML is the boolean false, which Compose rejects.
    for name, service in services.items():
        if "restart" in service:
            assert service["restart"] in RESTART_POLICIES, f"{name}: restart {service['restart']!r}"


def test_migrate_is_one_shot(services):
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert argv(migrate["command"])[:3] == ["retail-pipeline", "db", "migrate"]
    assert healthcheck(migrate) is None


def test_postgres_is_healthchecked_on_a_named_volume(compose, services):
    postgres = services["postgres"]
    check = healthcheck(postgres)
    assert check and "pg_isready" in " ".join(check)
    assert named_volume_mounts(postgres).get("/var/lib/postgresql/data") in compose["volumes"]


# --- depends_on --------------------------------------------------------------------------------


def test_depends_on_targets_exist_with_the_right_condition(services):
    for name, service in services.items():
        for target, spec in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert isinstance(spec, dict) and "condition" in spec, f"{name} -> {target}: no condition"
            condition = spec["condition"]
            if healthcheck(services[target]):
                expected = "service_healthy"
            else:
                assert services[target].get("restart") == "no", (
                    f"{name} -> {target}: a long-running dependency needs a healthcheck"
                )
                expected = "service_completed_successfully"
            assert condition == expected, f"{name} -> {target}: {condition}, expected {expected}"
            if not service.get("profiles"):
                assert not services[target].get("profiles"), f"{name} needs {target}, which is profiled"


def test_every_service_waited_on_for_health_has_a_healthcheck(services):
    for name, service in services.items():
        for target, spec in depends_on(service).items():
            if spec["condition"] == "service_healthy":
                assert healthcheck(services[target]), f"{name} waits for {target}, which has no healthcheck"


def test_migrate_runs_before_everything_that_uses_the_database(services):
    for name in ("code", "webserver", "daemon", "sidecar"):
        assert "migrate" in ancestors(services, name), name
    assert depends_on(services["code"])["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on(services["migrate"])["postgres"]["condition"] == "service_healthy"


def test_no_dependency_cycle(services):
    order = dependency_order(services)
    assert order.index("postgres") < order.index("migrate") < order.index("code") < order.index("webserver")


# --- commands ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def console_scripts() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group="console_scripts")}


def commands(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(service, what, argv) for each command and exec-form healthcheck of the project's image."""
    found = []
    for name, service in services.items():
        if service.get("image") != APP_IMAGE:
            continue
        assert service.get("command"), f"{name}: the image has no CMD, so every service names its command"
        found.append((name, "command", argv(service["command"])))
        check = healthcheck(service)
        if check:
            assert check[0] == "CMD", f"{name}: exec-form healthcheck (no shell assumptions)"
            found.append((name, "healthcheck", check[1:]))
    return found


def test_every_executable_is_in_the_image(services, console_scripts):
    pins = lock_pins()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name, what, args in commands(services):
        exe = args[0]
        if exe == "python":  # the base image's interpreter
            continue
        assert exe in CONSOLE_SCRIPTS, f"{name} {what}: unexpected executable {exe}"
        if exe == "retail-pipeline":
            # Installed by `pip install -e .` from this pyproject.
            assert pyproject["project"]["scripts"][exe] == "retail_pipeline.cli:main"
            continue
        assert exe in console_scripts, f"{exe} is not a console script of this environment"
        assert (Path(sys.executable).parent / exe).exists(), f"{exe} is not installed beside python"
        dist = console_scripts[exe].dist.name.lower()
        assert dist in pins, f"{exe} comes from {dist}, which requirements.lock does not install"


def test_retail_pipeline_commands_parse_with_the_real_cli(services):
    from retail_pipeline.cli import build_parser

    parsed = {}
    for name, what, args in commands(services):
        if args[0] != "retail-pipeline":
            continue
        try:
            ns = build_parser().parse_args(args[1:])
        except SystemExit as exc:  # argparse's way of refusing
            pytest.fail(f"{name} {what}: `{shlex.join(args)}` is refused by the CLI ({exc})")
        assert callable(ns.func)
        parsed[name] = ns
    assert parsed["migrate"].command == "db" and parsed["migrate"].action == "migrate"
    for name, subcommand in (("sidecar", "api"), ("simulators", "simulate")):
        ns = parsed[name]
        assert ns.command == subcommand
        assert ns.host == "0.0.0.0", f"{name} must listen beyond the container's loopback"
        assert ns.port is not None, f"{name}: pass --port explicitly"


def _click_command(ep: importlib.metadata.EntryPoint):
    import click

    target = ep.load()
    if isinstance(target, click.Command):
        return target
    cli = getattr(importlib.import_module(ep.module), "cli", None)  # dagster's main() wraps `cli`
    return cli if isinstance(cli, click.Command) else None


def _parse_click(command, args: list[str], prog: str):
    import click

    while isinstance(command, click.Group):
        assert args, f"{prog}: missing subcommand"
        ctx = command.make_context(prog, [args[0]], resilient_parsing=True)
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"`{prog}` has no subcommand {args[0]!r}"
        command, prog, args = sub, f"{prog} {args[0]}", args[1:]
    return command.make_context(prog, list(args))


def test_dagster_commands_parse_with_the_installed_clis(services, compose, console_scripts, tmp_path):
    import click

    for name, what, args in commands(services):
        if not args[0].startswith("dagster"):
            continue
        command = _click_command(console_scripts[args[0]])
        if command is None:  # not a click CLI any more: existence was checked above
            continue
        # Files that exist only in the container (configs) are materialised for click's Path checks.
        local = []
        for arg in args[1:]:
            source = config_mounts(services[name]).get(arg)
            if source:
                copy = tmp_path / f"{name}-{source}.yaml"
                copy.write_text(compose["configs"][source]["content"])
                arg = str(copy)
            local.append(arg)
        try:
            ctx = _parse_click(command, local, args[0])
        except click.ClickException as exc:
            pytest.fail(f"{name} {what}: `{shlex.join(args)}`: {exc.format_message()}")
        module = ctx.params.get("module_name")
        for mod in module if isinstance(module, tuple) else [module] if module else []:
            assert importlib.util.find_spec(mod) is not None, f"{name}: no module {mod}"


def test_http_healthchecks_probe_the_service_port(services):
    for name, what, args in commands(services):
        if what != "healthcheck" or args[0] != "python":
            continue
        assert args[1] == "-c"
        compile(args[2], f"<{name} healthcheck>", "exec")
        url = re.search(r"https?://[^'\"]+", args[2])
        assert url, f"{name}: healthcheck probes no URL"
        assert urlsplit(url.group(0)).port == listen_port(services[name]), f"{name}: probes the wrong port"


def test_shell_healthchecks_only_use_variables_the_container_has(raw, services):
    # `$${VAR}` reaches the container's shell as `${VAR}`; it must exist in the container.
    for name, service in services.items():
        check = healthcheck(service)
        if check and check[0] == "CMD-SHELL":
            for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", " ".join(check[1:])):
                assert var in (service.get("environment") or {}), f"{name}: healthcheck uses unset ${var}"


# --- the Dagster workspace ---------------------------------------------------------------------


def test_workspace_points_at_the_code_server(compose, services):
    code = argv(services["code"]["command"])
    assert code[:2] in (["dagster", "code-server"], ["dagster", "api"]), "code runs a Dagster gRPC server"
    assert option(code, "-h", "--host") == "0.0.0.0", "the gRPC server must accept other containers"
    code_port = listen_port(services["code"])
    code_check = healthcheck(services["code"])
    assert code_check, "the code server needs a healthcheck (webserver and daemon wait for it)"
    assert option(code_check, "-p", "--port") == str(code_port), "the healthcheck probes another port"

    repo_workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    location_name = repo_workspace["load_from"][0]["python_module"]["location_name"]

    for name in ("webserver", "daemon"):
        args = argv(services[name]["command"])
        path = option(args, "-w", "--workspace")
        assert path, f"{name}: pass the workspace with -w"
        source = config_mounts(services[name]).get(path)
        assert source in compose["configs"], f"{name}: {path} is not a mounted config"
        workspace = yaml.safe_load(compose["configs"][source]["content"])
        entries = workspace["load_from"]
        assert len(entries) == 1 and set(entries[0]) == {"grpc_server"}, "load the code over gRPC only"
        grpc = entries[0]["grpc_server"]
        assert grpc["host"] == "code" and "code" in services
        assert int(grpc["port"]) == code_port
        assert grpc["location_name"] == location_name == option(code, "--location-name", "--location_name")
        assert "code" in ancestors(services, name)


# --- environment -------------------------------------------------------------------------------


def app_services(services):
    return {name: s for name, s in services.items() if s.get("image") == APP_IMAGE}


def test_environment_is_shared_through_an_anchor(raw):
    text = COMPOSE_FILE.read_text()
    assert re.search(r"^x-[\w-]+:\s*&", text, re.M), "declare the shared environment as an x- anchor"
    envs = [s.get("environment") for s in app_services(raw["services"]).values()]
    assert envs and all(env is envs[0] for env in envs), "every app service uses the same anchored env"


@pytest.mark.parametrize(
    "env",
    [{}, {"POSTGRES_USER": "ops", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "shop"}],
    ids=["defaults", "overridden"],
)
def test_database_urls_agree_with_each_other_and_with_postgres(env):
    from retail_pipeline.db.urls import dagster_url

    services = load_compose(env)["services"]
    pg_env = services["postgres"]["environment"]
    for name, service in app_services(services).items():
        app_env = service["environment"]
        business = make_url(app_env["DATABASE_URL"])
        dagster = make_url(app_env["DAGSTER_POSTGRES_URL"])
        assert business.drivername == "postgresql", f"{name}: DATABASE_URL is a plain postgresql:// URL"
        assert dagster.drivername == "postgresql+psycopg2", "dagster-postgres needs psycopg2"
        assert dagster.query.get("options") == "-csearch_path=dagster"
        for url in (business, dagster):
            assert url.host == "postgres" and url.host in services
            assert (url.port or 5432) == 5432
            assert url.username == pg_env["POSTGRES_USER"]
            assert url.password == pg_env["POSTGRES_PASSWORD"]
            assert url.database == pg_env["POSTGRES_DB"]
        # The same URL the CLI derives for the embedded setup.
        assert app_env["DAGSTER_POSTGRES_URL"] == dagster_url(app_env["DATABASE_URL"])
    if env:
        assert pg_env["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"], "credentials come from the env"


def test_dagster_home_holds_the_repos_dagster_yaml(services):
    dagster_yaml = ROOT / "dagster.yaml"
    assert dagster_yaml.is_file()
    instance = yaml.safe_load(dagster_yaml.read_text())
    assert instance["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}

    builder = next(s for s in services.values() if "build" in s)
    lines = dockerfile_lines(builder["build"])
    for name, service in app_services(services).items():
        home = PurePosixPath(service["environment"]["DAGSTER_HOME"])
        copied = [
            args.split()
            for instruction, args in lines
            if instruction == "COPY" and args.split()[0] == "dagster.yaml"
        ]
        assert any(PurePosixPath(parts[-1]) in (home / "dagster.yaml", home) for parts in copied), (
            f"{name}: the image does not put dagster.yaml in DAGSTER_HOME={home}"
        )
        assert named_volume_mounts(service).get(str(home)) is None, "a volume would hide dagster.yaml"


def test_data_dir_is_one_volume_shared_by_code_daemon_and_sidecar(compose, services):
    volumes = set()
    for name in ("code", "daemon", "sidecar"):
        data_dir = services[name]["environment"]["RETAIL_DATA_DIR"]
        volume = named_volume_mounts(services[name]).get(data_dir)
        assert volume, f"{name}: RETAIL_DATA_DIR={data_dir} is not on a named volume"
        volumes.add(volume)
    assert len(volumes) == 1


def test_media_signing_key_is_never_a_committed_secret(raw, compose):
    value = next(iter(app_services(raw["services"]).values()))["environment"]["MEDIA_SIGNING_KEY"]
    assert re.fullmatch(r"\$\{MEDIA_SIGNING_KEY(:?[-?][^}]*)?\}", value), value
    services = load_compose({"MEDIA_SIGNING_KEY": "k"})["services"]
    assert all(s["environment"]["MEDIA_SIGNING_KEY"] == "k" for s in app_services(services).values())
    try:
        default = load_compose({})["services"]["sidecar"]["environment"]["MEDIA_SIGNING_KEY"]
    except MissingVariable:
        return  # required: compose refuses to start without it
    # A default must be blank: the app then generates one key in RETAIL_DATA_DIR, which the
    # services share through one volume (see the test above).
    assert default == ""


@pytest.mark.parametrize(
    "env",
    [{"MEDIA_STORAGE": "s3"}, {"MEDIA_STORAGE": "s3", "MEDIA_S3_BUCKET": "shop", "AWS_ACCESS_KEY_ID": "ops"}],
    ids=["defaults", "overridden"],
)
def test_s3_media_storage_points_every_app_service_at_the_minio_bucket(env):
    from retail_pipeline.settings import Settings

    services = load_compose(env)["services"]
    minio, bucket = services["minio"], services["minio_bucket"]
    assert minio["profiles"] == bucket["profiles"] == ["scale"]
    assert argv(minio["command"])[:2] == ["server", "/data"] and "--address" not in argv(minio["command"])
    created = bucket["environment"]["MEDIA_S3_BUCKET"]
    assert 'mc mb --ignore-existing "local/$MEDIA_S3_BUCKET"' in bucket["command"][0]
    assert "http://minio:9000" in bucket["command"][0]  # MinIO's default API port
    for name, service in app_services(services).items():
        app_env = service["environment"]
        assert app_env["MEDIA_STORAGE"] == "s3" and app_env["MEDIA_S3_BUCKET"] == created, name
        assert app_env["MEDIA_S3_ENDPOINT_URL"] == "http://minio:9000", name
        # The app signs with MinIO's root user: one pair of variables, the same defaults.
        for ours, theirs in (
            ("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"),
            ("AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD"),
        ):
            assert app_env[ours] == minio["environment"][theirs] == bucket["environment"][theirs], name
    assert len(minio["environment"]["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO refuses shorter
    settings = Settings(
        **{k.lower(): v for k, v in services["sidecar"]["environment"].items() if k.startswith("MEDIA_")}
    )
    assert (settings.media_storage, settings.media_s3_bucket) == ("s3", created)


def test_media_storage_defaults_to_the_data_volume_and_aws_is_config_only():
    app_env = load_compose({})["services"]["sidecar"]["environment"]
    assert app_env["MEDIA_STORAGE"] == "local" and app_env["MEDIA_PUBLIC_BASE_URL"] == ""
    aws = load_compose({"MEDIA_STORAGE": "s3", "MEDIA_S3_ENDPOINT_URL": "", "AWS_ACCESS_KEY_ID": ""})
    aws_env = aws["services"]["sidecar"]["environment"]
    # Blank stays blank: AWS S3 itself, and boto3's own credential chain (instance role, profile).
    assert aws_env["MEDIA_S3_ENDPOINT_URL"] == "" and aws_env["AWS_ACCESS_KEY_ID"] == ""


@pytest.mark.parametrize("env", [{}, {"DAGSTER_EXECUTOR": "celery"}], ids=["default", "celery"])
def test_scale_profile_workers_take_every_queue_from_the_broker_every_app_service_names(env):
    from retail_pipeline.cli import build_parser
    from retail_pipeline.scale_out import QUEUES, configured_executor
    from retail_pipeline.settings import Settings

    services = load_compose(env)["services"]
    redis = services["redis"]
    assert argv(redis["command"])[0] == "redis-server" and "--port" not in argv(redis["command"])
    taken: list[str] = []
    for name in ("worker", "browser_worker"):
        args = build_parser().parse_args(argv(services[name]["command"])[1:])
        assert args.command == "worker", name
        taken += args.queues
        assert "redis" in ancestors(services, name) and "migrate" in ancestors(services, name)
    assert sorted(taken) == sorted(QUEUES), "each queue has exactly one kind of worker"
    for name, service in app_services(services).items():
        app_env = service["environment"]
        broker = urlsplit(app_env["CELERY_BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379), name  # the default
        settings = Settings(dagster_executor=app_env["DAGSTER_EXECUTOR"])
        assert settings.dagster_executor == env.get("DAGSTER_EXECUTOR", "default"), name
        assert (configured_executor(settings) is None) == (not env), name


def test_simulator_url_points_at_the_simulators_service(services):
    port = listen_port(services["simulators"])
    for name, service in app_services(services).items():
        assert service["environment"]["SIMULATOR_URL"] == f"http://simulators:{port}", name


# --- ports, volumes, configs -------------------------------------------------------------------


def test_published_ports_do_not_collide_and_reach_the_listener(services):
    taken: dict[int, str] = {}
    for name, service in services.items():
        for _ip, host_port, container_port in published_ports(service):
            assert host_port not in taken, f"{name} and {taken[host_port]} both publish {host_port}"
            taken[host_port] = name
            assert container_port == listen_port(service), f"{name}: publishes {container_port}"
    assert {"webserver", "sidecar"} <= set(taken.values())


def test_volumes_and_configs_are_declared(compose, services):
    declared_volumes = set(compose.get("volumes") or {})
    declared_configs = set(compose.get("configs") or {})
    used_volumes, used_configs = set(), set()
    for name, service in services.items():
        for volume in named_volume_mounts(service).values():
            assert volume in declared_volumes, f"{name}: volume {volume} is not declared"
            used_volumes.add(volume)
        for config in config_mounts(service).values():
            assert config in declared_configs, f"{name}: config {config} is not declared"
            used_configs.add(config)
    assert used_volumes == declared_volumes and used_configs == declared_configs, "unused declarations"


# --- the image ---------------------------------------------------------------------------------


def test_dockerfile_installs_the_lock_then_the_project(services):
    from packaging.specifiers import SpecifierSet

    builder = next(s for s in services.values() if "build" in s)
    assert "dockerfile_inline" in builder["build"], "the repo has no Dockerfile: build it inline"
    lines = dockerfile_lines(builder["build"])
    instructions = [instruction for instruction, _ in lines]

    base = lines[0]
    assert base[0] == "FROM" and re.fullmatch(r"python:3\.11(\.\d+)?-slim", base[1])
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in SpecifierSet(requires)
    assert ("WORKDIR", "/opt/retail_pipeline") in lines

    runs = [(i, args) for i, (instruction, args) in enumerate(lines) if instruction == "RUN"]
    lock_step = next((i for i, args in runs if re.search(r"pip install .*-r requirements\.lock", args)), None)
    assert lock_step is not None, "the image must install the pinned requirements.lock"
    # Editable, so settings.PROJECT_ROOT is the source tree and finds sql/ and dagster.yaml.
    project_step = next(
        (i for i, args in runs if re.search(r"pip install .*--no-deps .*-e \.(\s|$)", args)), None
    )
    assert project_step is not None, "the image must `pip install --no-deps -e .` the project"
    assert lock_step < project_step

    assert (ROOT / "requirements.lock").is_file()
    pins, pyproject = lock_pins(), tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        name, _, version = requirement.partition("==")
        if version:  # the lock really carries the project's exact pins
            assert pins[name.lower()] == version, requirement

    copies = {}
    for i, (instruction, args) in enumerate(lines):
        if instruction == "COPY":
            parts = [p for p in args.split() if not p.startswith("--")]
            for source in parts[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copies[source.rstrip("/")] = i
    assert copies["requirements.lock"] < lock_step, "COPY the lock before installing it"
    needed = {"pyproject.toml", "retail_pipeline", "sql", "dagster.yaml", pyproject["project"]["readme"]}
    for source in needed:
        assert source in copies, f"the image lacks {source}"
    for source in ("pyproject.toml", "retail_pipeline", pyproject["project"]["readme"]):
        assert copies[source] < project_step, f"COPY {source} before `pip install -e .`"
    assert "USER" not in instructions or instructions.index("USER") > project_step
