"""`retail-pipeline`: the one command line. Every subcommand runs the same code Dagster runs."""

from __future__ import annotations

import argparse
import json
import os
import sys

from retail_pipeline.settings import get_settings


def _cmd_db(args: argparse.Namespace) -> int:
    from retail_pipeline.db import embedded, migrations
    from retail_pipeline.db.engine import resolve_database_url
    from retail_pipeline.db.urls import libpq_url, redact

    settings = get_settings()
    if args.action == "stop":
        if settings.database_url:
            print("DATABASE_URL is set: that server is not ours to stop.", file=sys.stderr)
            return 1
        stopped = embedded.stop(settings.embedded_pgdata)
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
        return 0
    url = resolve_database_url(settings)  # `start` and the rest: the embedded server comes up on demand
    if args.action == "url":
        print(libpq_url(url))
    elif args.action == "start":
        print(f"PostgreSQL ready: {redact(libpq_url(url))}")
    elif args.action == "migrate":
        applied = migrations.migrate(url, settings.sql_dir)
        print("\n".join(f"applied {m.path.name}" for m in applied) or "database is up to date")
    elif args.action == "status":
        state = migrations.status(url, settings.sql_dir)
        print(json.dumps({"applied": state.applied, "pending": [m.path.name for m in state.pending]}))
    return 0


def _cmd_apikey(args: argparse.Namespace) -> int:
    from retail_pipeline.api import keys
    from retail_pipeline.runtime import prepare

    engine = _engine_after(prepare())
    if args.action == "create":
        key = keys.create_api_key(engine, args.role, label=args.label)
        print(key)
        print(f"(role {args.role}; shown once, only its hash is stored)", file=sys.stderr)
    elif args.action == "revoke":
        keys.revoke_api_key(engine, args.key)
        print(f"revoked {args.key}")
    elif args.action == "list":
        for row in keys.list_api_keys(engine):
            print(json.dumps(row, default=str))
    return 0


def _engine_after(runtime):
    from retail_pipeline.db.engine import get_engine

    return get_engine(runtime.database_url)


def _cmd_sign_in(args: argparse.Namespace) -> int:
    """Sign in to a channel's website and save the session its client reuses; a person solves a
    bot-protection challenge in the headed browser (never the pipeline)."""
    import asyncio

    from retail_pipeline.db.ops_tasks import resolve_task
    from retail_pipeline.integrations.marketplaces.base import ChannelBlocked, ChannelError
    from retail_pipeline.runtime import prepare

    plugin, sign_in = args.channel, args.channel.sign_in
    try:
        saved = asyncio.run(sign_in.run(args.headed))
    except ChannelBlocked as blocked:
        print(
            f"{sign_in.command} login: {blocked.message}; run it with --headed and solve it yourself",
            file=sys.stderr,
        )
        return 1
    except ChannelError as error:
        print(f"{sign_in.command} login: {error}", file=sys.stderr)
        return 1
    print(f"signed in to {plugin.title}; session saved to {saved}")
    with _engine_after(prepare()).begin() as conn:
        key = f"{sign_in.task_kind}:{plugin.name}"
        if resolve_task(conn, kind=sign_in.task_kind, key=key, by=f"cli:{sign_in.command} login"):
            print(f"resolved the open {sign_in.task_kind} task")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    """Print the environment Dagster's own tools need, for `eval "$(retail-pipeline env)"`."""
    import shlex

    from retail_pipeline.runtime import prepare

    prepare()
    for name in ("DATABASE_URL", "DAGSTER_HOME", "DAGSTER_POSTGRES_URL"):
        print(f"export {name}={shlex.quote(os.environ[name])}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from retail_pipeline.simulators.server import serve

    serve(host=args.host, port=args.port or get_settings().simulator_port)
    return 0


def _cmd_api(args: argparse.Namespace) -> int:
    from retail_pipeline.api.server import serve
    from retail_pipeline.runtime import prepare

    prepare()
    settings = get_settings()
    serve(host=args.host or settings.api_host, port=args.port or settings.api_port)
    return 0


def _cmd_run_once(args: argparse.Namespace) -> int:
    from retail_pipeline.orchestration import run_once

    summary = run_once(use_simulators=not args.no_simulators)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        for stage, counts in summary["stages"].items():
            print(f"{stage:<28} {counts}")
        print("ok" if summary["ok"] else f"FAILED: {summary.get('error')}")
    return 0 if summary["ok"] else 1


def _cmd_worker(args: argparse.Namespace) -> int:
    """A Celery worker for DAGSTER_EXECUTOR=celery runs: the definitions loaded once before it forks, so
    each step starts warm; the Dagster instance and database as every other process sees them."""
    from retail_pipeline.definitions import defs
    from retail_pipeline.runtime import prepare
    from retail_pipeline.scale_out import QUEUES, worker_app, worker_argv

    args.queues = args.queues or list(QUEUES)
    unknown = set(args.queues) - set(QUEUES)
    if unknown:
        print(f"unknown queue(s) {sorted(unknown)}; known: {', '.join(QUEUES)}", file=sys.stderr)
        return 2
    prepare(migrate=False)
    defs()
    argv = worker_argv(args.queues, concurrency=args.concurrency, pool=args.pool, name=args.name)
    worker_app().worker_main(argv)
    return 0


def _cmd_extract_product(args: argparse.Namespace) -> int:
    """Print the normalised product of one page: the first step when onboarding a new supplier."""
    from retail_pipeline.integrations.suppliers.extraction.extract import extract_product_json, load_page

    html, url = load_page(args.source, args.base_url)
    print(json.dumps(extract_product_json(html, url, base_url=args.base_url), indent=2, ensure_ascii=False))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from retail_pipeline.demo import run_demo

    return run_demo(no_first_run=args.no_first_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retail-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the database: embedded by default, DATABASE_URL when set")
    db.add_argument("action", choices=["start", "stop", "url", "migrate", "status"])
    db.set_defaults(func=_cmd_db)

    apikey = sub.add_parser("apikey", help="sidecar API keys (stored hashed)")
    apikey_sub = apikey.add_subparsers(dest="action", required=True)
    create = apikey_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    create.add_argument("--label", default=None)
    revoke = apikey_sub.add_parser("revoke", help="revoke a key by its prefix or id")
    revoke.add_argument("key")
    apikey_sub.add_parser("list", help="list keys (never the secret)")
    apikey.set_defaults(func=_cmd_apikey)

    env = sub.add_parser("env", help="print exports for running dagster/dg commands against this instance")
    env.set_defaults(func=_cmd_env)

    simulate = sub.add_parser("simulate", help="serve every simulated external system")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=None)
    simulate.set_defaults(func=_cmd_simulate)

    api = sub.add_parser("api", help="serve the FastAPI sidecar")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.set_defaults(func=_cmd_api)

    run_once = sub.add_parser("run-once", help="materialise the whole graph once, headless")
    run_once.add_argument("--json", action="store_true", help="print the JSON summary")
    run_once.add_argument(
        "--no-simulators",
        action="store_true",
        help="use the configured endpoints instead of in-process simulators",
    )
    run_once.set_defaults(func=_cmd_run_once)

    worker = sub.add_parser("worker", help="a Celery worker for DAGSTER_EXECUTOR=celery (CELERY_BROKER_URL)")
    worker.add_argument(  # the known queues are checked in _cmd_worker: naming them here imports Dagster
        "--queues",
        type=lambda value: [q for q in value.split(",") if q],
        default=None,
        help="comma-separated queues to take steps from (default: all; see README, Steps on Celery workers)",
    )
    worker.add_argument("--concurrency", type=int, default=1, help="steps at once (default 1)")
    worker.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    worker.add_argument("--name", default=None, help="the worker's name (NAME@host)")
    worker.set_defaults(func=_cmd_worker)

    extract = sub.add_parser("extract-product", help="print the normalised product found in a page")
    extract.add_argument("source", metavar="FILE_OR_URL")
    extract.add_argument(
        "--base-url", default=None, help="resolve relative links (and stand in for a file's URL)"
    )
    extract.set_defaults(func=_cmd_extract_product)

    from retail_pipeline.channels.registry import all_channels

    for plugin in all_channels():  # channels a person signs into for us: `<command> login`
        if plugin.sign_in is not None:
            site = sub.add_parser(
                plugin.sign_in.command, help=f"{plugin.title}'s website (driven by a browser)"
            )
            actions = site.add_subparsers(dest="action", required=True)
            login = actions.add_parser(
                "login", help="sign in and save the session the channel's client reuses"
            )
            login.add_argument(
                "--headed", action="store_true", help="show the browser: a person solves a challenge"
            )
            site.set_defaults(func=_cmd_sign_in, channel=plugin)

    demo = sub.add_parser("demo", help="database, simulators, sidecar, Dagster UI and a first run")
    demo.add_argument("--no-first-run", action="store_true")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from retail_pipeline.db.migrations import MigrationError
    from retail_pipeline.processes import stop_on_signals

    args = build_parser().parse_args(argv)
    # Explicitly, not as inherited: a background job starts with SIGINT ignored (see processes.py).
    stop_on_signals()
    try:
        return args.func(args)
    except MigrationError as error:  # a person can act on this; a traceback adds nothing
        print(f"migrations: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # SIGINT or SIGTERM: what was started has been cleaned up on the way out
        print(f"{args.command}: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
