"""``python run.py COMMAND``: every command honours ``DATABASE_URL``; errors exit 1, never a traceback."""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from .config import load_config
from .errors import PolkuError

PROJECT = Path(__file__).resolve().parent.parent


def _env():
    from .services.env import bootstrap
    from .web import settings_from
    cfg = load_config()
    return bootstrap(cfg["DATABASE_URL"], settings_from(cfg))


def reports_errors(func):
    """Print a PolkuError as its message list and exit 1 (bad usage is click's exit 2)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PolkuError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    return wrapper


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Polku — BPMN service-pathway orchestrator. Without a command: serve."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("spiff").setLevel(logging.WARNING)  # it logs every task state change at INFO
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="do not create demo regions and users in a new database")
@click.option("--no-worker", is_flag=True, help="do not run the timer/outbox worker in this process")
@reports_errors
def serve(host: str, port: int, no_demo: bool, no_worker: bool) -> None:
    """Migrate, deploy processes/ and forms/, seed demo data if new, and serve."""
    from . import demo
    from .web import create_app
    from .worker import start_in_thread
    app = create_app()
    env = app.extensions["polku"]
    _upgrade(env)
    _deploy_folders(env)
    if not no_demo and demo.is_empty(env):
        rows = demo.seed(env)
        _demo_cases(env, DEMO_CASES_ON_FIRST_START)
        click.echo(f"\nDemo users (password '{demo.DEMO_PASSWORD}'):")
        for username, role, regions in rows:
            click.echo(f"  {username:16} {role:16} {regions}")
    if not no_worker:
        start_in_thread(env, float(app.config["WORKER_INTERVAL_SECONDS"]))
    click.echo(f"\nPolku serving on http://{host}:{port}  (database: {env.engine.url.render_as_string()})\n")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


DEMO_CASES_ON_FIRST_START = 24


def _demo_cases(env, count: int, seed_value: int = 2026) -> None:
    from rich.progress import Progress

    from . import demo
    with Progress(transient=False) as bar:
        job = bar.add_task("demo cases", total=count)
        made = demo.create_cases(env, count, seed_value, progress=lambda: bar.advance(job))
    for (pathway, status), n in sorted(made.items()):
        click.echo(f"  {pathway:28} {status:12} {n}")


@cli.command(name="demo")
@click.option("--cases", "count", default=40, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", "seed_value", default=2026, show_default=True, type=int)
@reports_errors
def demo_cmd(count: int, seed_value: int) -> None:
    """Create COUNT realistic cases over the four pathways and six regions (real services)."""
    from . import demo
    env = _env()
    _upgrade(env)
    _deploy_folders(env)
    if demo.is_empty(env):
        demo.seed(env)
    elif users_missing(env):
        raise click.UsageError("this database has users but not the demo staff; run demo on a new database")
    _demo_cases(env, count, seed_value)


def users_missing(env) -> bool:
    from . import demo
    from .services import users
    return users.principal_for(env, demo.username("referrer", "pohjoinen")) is None


def _deploy_folders(env) -> None:
    from .services import deploy
    paths = [str(PROJECT / "processes"), str(PROJECT / "forms")]
    bpmn, forms = deploy.collect_files(paths)
    for d in deploy.deploy(env, None, bpmn, forms):
        click.echo(f"{'deployed' if d.changed else 'unchanged'}: {d.process_id} version {d.version}")


@cli.command()
@click.option("--interval", default=1.0, show_default=True, type=float)
@reports_errors
def worker(interval: float) -> None:
    """Fire due timers and deliver the outbox in a loop (Ctrl-C stops)."""
    from .worker import run_forever
    run_forever(_env(), interval)


@cli.command(name="deploy")
@click.argument("paths", nargs=-1, required=True)
@reports_errors
def deploy_cmd(paths: tuple[str, ...]) -> None:
    """Validate and deploy BPMN and form files (files or folders)."""
    from .services import deploy
    env = _env()
    _upgrade(env)
    bpmn, forms = deploy.collect_files(list(paths))
    for d in deploy.deploy(env, None, bpmn, forms):
        click.echo(f"{'deployed' if d.changed else 'unchanged'}: {d.process_id} version {d.version}")


@cli.group()
def region() -> None:
    """Manage regions."""


@region.command("add")
@click.argument("key")
@click.argument("name")
@reports_errors
def region_add(key: str, name: str) -> None:
    from .services import users
    env = _env()
    _upgrade(env)
    users.add_region(env, key, name)
    click.echo(f"region {key} added")


@cli.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--roles", required=True, help="comma-separated role keys")
@click.option("--regions", required=True, help="comma-separated region keys")
@click.option("--password", required=True)
@click.option("--email", default=None)
@click.option("--organisation", default=None, help="organisation key (what a client's consent must cover)")
@reports_errors
def user_add(name: str, roles: str, regions: str, password: str, email: str | None,
             organisation: str | None) -> None:
    from .services import users
    env = _env()
    _upgrade(env)
    users.add_user(env, name, password, _split(roles), _split(regions), email=email, organisation=organisation)
    click.echo(f"user {name} added")


@user.command("set-roles")
@click.argument("name")
@click.option("--roles", default=None, help="comma-separated role keys (replaces the current ones)")
@click.option("--regions", default=None, help="comma-separated region keys (replaces the current ones)")
@reports_errors
def user_set_roles(name: str, roles: str | None, regions: str | None) -> None:
    from .services import users
    if roles is None and regions is None:
        raise click.UsageError("give --roles and/or --regions")
    users.set_roles(_env(), name, _split(roles) if roles is not None else None,
                    _split(regions) if regions is not None else None)
    click.echo(f"user {name} updated")


@user.command("disable")
@click.argument("name")
@reports_errors
def user_disable(name: str) -> None:
    from .services import users
    users.set_active(_env(), name, False)
    click.echo(f"user {name} disabled")


@user.command("enable")
@click.argument("name")
@reports_errors
def user_enable(name: str) -> None:
    from .services import users
    users.set_active(_env(), name, True)
    click.echo(f"user {name} enabled")


@cli.command("access-report")
@click.argument("client_ref")
@reports_errors
def access_report(client_ref: str) -> None:
    """Who has read the client's data and when (Client Data Act 703/2023)."""
    from .services.access import access_report as report
    rows = report(_env(), client_ref)
    click.echo(f"Access to the data of client {client_ref}: {len(rows)} event(s)")
    for r in rows:
        click.echo(f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['username']:16} case {r['case_id'] or '-':>5} "
                   f"{(r['pathway'] or ''):26} {r['action']:14} {r['reason']}")


@cli.command()
@click.argument("username")
@reports_errors
def token(username: str) -> None:
    """Print a new API bearer token for USERNAME."""
    from .services import users
    click.echo(users.create_token(_env(), username))


@cli.command()
@click.option("--status", type=click.Choice(["active", "completed"]))
@reports_errors
def cases(status: str | None) -> None:
    """List cases (newest first)."""
    from .services import cases as case_service
    rows = case_service.list_cases(_env(), None, status)
    if not rows:
        click.echo("no cases")
    for c in rows:
        click.echo(f"{c['id']:>6}  {c['pathway']:28} {c['region']:10} {c['status']:9} "
                   f"{','.join(c['current_steps']) or (c['outcome'] or '')}")


@cli.command()
@click.argument("name")
@click.option("--case", "case_id", type=int, default=None, help="the case the message is for")
@click.option("--client-ref", default=None, help="with --pathway: the client's one case waiting for it")
@click.option("--pathway", default=None)
@click.option("--data", "data_json", default="{}", show_default=True, help="a JSON object merged into the case")
@reports_errors
def message(name: str, case_id: int | None, client_ref: str | None, pathway: str | None, data_json: str) -> None:
    """Send message NAME to the case waiting for it (exit 1 if none or several wait)."""
    import json

    from .services import messages
    try:
        data = json.loads(data_json)
        messages.check_message(name, data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--data") from None
    except PolkuError as exc:
        raise click.BadParameter(str(exc), param_hint="--data" if data_json != "{}" else "NAME") from None
    if case_id is None and not (client_ref and pathway):
        raise click.UsageError("say which case: --case ID, or --client-ref and --pathway")
    result = messages.send_message(_env(), None, name, data, case_id=case_id, client_ref=client_ref,
                                   pathway=pathway)
    case = result["case"]
    caught = ", ".join(f"{c['name']} ({c['element_id']})" for c in result["caught"])
    click.echo(f"case {case['id']}: message {name!r} caught at {caught}")
    for step in result["steps"]:
        click.echo(f"  {step['element_id']:28} {step['name']}")
    click.echo(f"now: {case['status']} {', '.join(case['current_steps']) or (case['outcome'] or '')}".rstrip())


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@reports_errors
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    env = _env()
    _upgrade(env)
    click.echo("database is up to date")


@db.command("rebuild-measures")
@reports_errors
def db_rebuild_measures() -> None:
    """Recompute the managers' measure counts from the task index (run with the service stopped)."""
    from .services import measure_counts
    rows = measure_counts.rebuild(_env())
    click.echo(f"measure counts rebuilt: {rows} rows")


@db.command("recheck")
@reports_errors
def db_recheck() -> None:
    """Re-check every active case: restore inbox rows a case waits on, flag stuck cases."""
    from .services.recheck import recheck_active_cases
    report = recheck_active_cases(_env())
    click.echo(f"{report.checked} active cases checked: {report.tasks_restored} inbox task(s) restored, "
               f"{len(report.stuck)} stuck" + (f" (cases {', '.join(map(str, report.stuck))})" if report.stuck else ""))
    for case_id, reason in sorted(report.refused.items()):
        click.echo(f"case {case_id} not checked: {reason}", err=True)
    if report.refused:
        raise SystemExit(1)


@cli.command()
@click.option("--markdown", is_flag=True, help="print the designer guide's topic section")
@click.option("--update-guide", "guide", type=click.Path(exists=True, dir_okay=False),
              help="rewrite the topic section of this guide (docs/designer-guide.md)")
@reports_errors
def topics(markdown: bool, guide: str | None) -> None:
    """List the handler topics a service task can call, with their parameters."""
    from .services.handler_api import load_handlers
    from .services.handler_docs import registry_markdown, with_topics
    registry = load_handlers()
    if guide:
        path = Path(guide)
        try:
            path.write_text(with_topics(path.read_text(encoding="utf-8"), registry_markdown(registry)),
                            encoding="utf-8")
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"updated the topic section of {guide}")
    elif markdown:
        click.echo(registry_markdown(registry), nl=False)
    else:
        specs = registry.specs
        for topic in registry.topics:
            spec = specs.get(topic)
            params = ", ".join(p.name + ("" if p.required else "?") for p in spec.params) if spec else "(undeclared)"
            click.echo(f"{topic:12} {params}")


def _upgrade(env) -> None:
    from .services import measure_counts
    from .store.migrate import upgrade
    before = upgrade(env.engine)
    if before == "0001":  # 0002 added the measure counts: fill them from what is there
        click.echo(f"measure counts rebuilt from the task index: {measure_counts.rebuild(env)} rows")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main() -> None:
    cli(prog_name="run.py")
