"""Grafana (deploy/grafana, the `grafana` service in docker-compose.yml): the provisioning is wired the way
Grafana reads it, and every dashboard panel's SQL runs against a migrated database holding a realistic
fortnight and returns columns Grafana can plot, so a schema change that breaks a panel fails here."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

import pytest
import yaml
from sqlalchemy import Engine

from retail_pipeline.settings import PROJECT_ROOT
from retail_pipeline_tests.seeds.console_ops import seed_console_ops
from retail_pipeline_tests.test_docker_compose import load_compose

GRAFANA = PROJECT_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
NUMERIC = {20, 21, 23, 700, 701, 1700}  # int8 int2 int4 float4 float8 numeric
TIME = NUMERIC | {1114, 1184}  # epoch seconds or timestamp(tz)
TEXT = {19, 25, 1042, 1043}  # name text bpchar varchar
INTERVAL = re.compile(r"^(\d+)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# --- Grafana's PostgreSQL macros, as its data source expands them ------------------------------------


class UnknownMacro(ValueError):
    pass


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """$__timeFilter(col), $__timeGroup(col, '1d'), $__timeGroupAlias(col, '1d'), $__time(col),
    $__timeEpoch(col), $__timeFrom(), $__timeTo(), $__unixEpochFilter(col); anything else is refused."""
    start_s, end_s = (f"'{t.strftime('%Y-%m-%dT%H:%M:%SZ')}'" for t in (start, end))

    def interval(arg: str) -> int:
        match = INTERVAL.match(arg.strip().strip("'\""))
        assert match, f"unsupported interval {arg!r}"
        return int(match.group(1)) * SECONDS[match.group(2)]

    def macro(match: re.Match[str]) -> str:
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")] if match.group(2) else []
        if name == "timeFilter":
            return f"{args[0]} BETWEEN {start_s} AND {end_s}"
        if name in ("timeGroup", "timeGroupAlias"):
            step = interval(args[1])
            group = f"floor(extract(epoch from {args[0]})/{step})*{step}"
            return f'{group} AS "time"' if name == "timeGroupAlias" else group
        if name == "time":
            return f'{args[0]} AS "time"'
        if name == "timeEpoch":
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "timeFrom":
            return start_s
        if name == "timeTo":
            return end_s
        if name == "unixEpochFilter":
            return f"{args[0]} >= {int(start.timestamp())} AND {args[0]} <= {int(end.timestamp())}"
        raise UnknownMacro(f"$__{name}")

    expanded = re.sub(r"\$__(\w+)\(([^()]*)\)", macro, sql)
    if "$" in expanded:
        raise UnknownMacro(f"unexpanded variable in: {expanded}")
    return expanded


def test_macros_expand_as_grafana_does():
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 15, tzinfo=UTC)
    assert expand_macros("WHERE $__timeFilter(o.placed_at)", start, end) == (
        "WHERE o.placed_at BETWEEN '2026-11-01T00:00:00Z' AND '2026-11-15T00:00:00Z'"
    )
    assert expand_macros("SELECT $__timeGroupAlias(placed_at, '1d')", start, end) == (
        'SELECT floor(extract(epoch from placed_at)/86400)*86400 AS "time"'
    )
    with pytest.raises(UnknownMacro):
        expand_macros("SELECT $__timeGroupMagic(placed_at)", start, end)
    with pytest.raises(UnknownMacro):
        expand_macros("SELECT $channel", start, end)  # a dashboard variable this test cannot fill


# --- provisioning --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grafana_service() -> dict:
    return load_compose()["services"]["grafana"]


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host path, for the bind mounts."""
    mounts = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_the_service_mounts_the_provisioning_and_the_dashboards(grafana_service):
    image, _, tag = grafana_service["image"].partition(":")
    assert image.startswith("grafana/") and re.fullmatch(r"\d+\.\d+\.\d+", tag), (
        "pin an exact Grafana version"
    )
    mounts = _mounts(grafana_service)
    assert (PROJECT_ROOT / mounts["/etc/grafana/provisioning"]).resolve() == GRAFANA / "provisioning"
    [provider_file] = (GRAFANA / "provisioning" / "dashboards").glob("*.yml")
    [provider] = yaml.safe_load(provider_file.read_text())["providers"]
    dashboards_dir = mounts[provider["options"]["path"]]  # the provider reads what the service mounts
    assert (PROJECT_ROOT / dashboards_dir).resolve() == GRAFANA / "dashboards"
    home = grafana_service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert PurePosixPath(home).parent == PurePosixPath(provider["options"]["path"])
    assert (GRAFANA / "dashboards" / PurePosixPath(home).name).is_file()
    assert DASHBOARDS, "no dashboard JSON"


def test_the_data_source_takes_its_credentials_from_the_environment(grafana_service):
    text = (GRAFANA / "provisioning" / "datasources" / "postgres.yml").read_text()
    [source] = yaml.safe_load(text)["datasources"]
    assert source["type"] in ("grafana-postgresql-datasource", "postgres")
    assert source["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"  # never a literal secret
    environment = grafana_service["environment"]
    for variable in re.findall(r"\$\{(\w+)\}", text):
        assert variable in environment, f"the data source reads ${variable}, which the service does not set"
    assert environment["GRAFANA_DB_HOST"] == "postgres:5432"
    # Every panel names this data source by uid.
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == source["uid"], panel["title"]


# --- every panel's SQL, against the schema --------------------------------------------------------


def _panels() -> list[tuple[str, dict, dict]]:
    return [
        (f"{path.stem}: {panel['title']}", panel, target)
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
        for target in panel.get("targets", [])
    ]


@pytest.fixture
def fortnight(engine: Engine, settings_env) -> None:
    seed_console_ops(engine, settings_env.data_dir, orders=60)


def test_the_dashboard_covers_what_the_issue_asks_for():
    titles = " ".join(title.lower() for title, _, _ in _panels())
    for topic in ("orders per day by channel", "fulfilment", "failures", "listings", "llm tokens"):
        assert topic in titles, f"no panel about {topic}"


def test_every_panel_query_runs_and_returns_plottable_columns(engine: Engine, fortnight):
    end = datetime.now(UTC)
    start = end - timedelta(days=14)
    checked = 0
    with engine.connect() as conn:
        for title, panel, target in _panels():
            assert target.get("rawQuery") and target.get("rawSql"), f"{title}: not a raw SQL target"
            sql = expand_macros(target["rawSql"], start, end)
            result = conn.exec_driver_sql(sql)
            columns = [(c.name, c.type_code) for c in result.cursor.description]
            rows = result.all()
            assert rows, f"{title}: no rows over a fortnight of data"
            values = [name for name, oid in columns if oid in NUMERIC and name != "time"]
            labels = [name for name, oid in columns if oid in TEXT]
            assert values, f"{title}: no numeric column to plot in {columns}"
            if target["format"] == "time_series":
                assert columns[0][0] == "time" and columns[0][1] in TIME, (
                    f"{title}: the first column is not time"
                )
                assert labels in ([], ["metric"]), f"{title}: a series label must be the column `metric`"
                times = [row[0] for row in rows]
                assert times == sorted(times), (
                    f"{title}: rows not in time order (Grafana needs ORDER BY time)"
                )
            else:
                assert target["format"] == "table", title
                assert len(labels) <= 1, f"{title}: one label column at most, got {labels}"
                if panel["type"] == "stat":
                    assert len(rows) == 1, f"{title}: a stat reads one row"
            checked += 1
    assert checked >= 10
