"""`kd-studio serve`: the web app; `kd-studio users`: its accounts file."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from kd_core.cli.common import command
from kd_core.errors import KDError


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from kd_core.limits import Limits
    from ui.app import launch
    from ui.server import ServerSettings

    # --trust-remote-code / --allow-pickle: granted by `main` from this command line, never from a project file
    limits = Limits.from_args(args).replace(upload_mb=args.max_upload_mb, queue_size=args.queue_size)
    project = args.project
    if project is None and not args.no_demo:
        from kd_core.demo.project import first_start

        # A first start opens the demo project, made now from the recorded runs (seconds, no model runs).
        project = first_start(args.projects_root)
        if project:
            print(f"opening the demo project {os.path.join(args.projects_root, project)} (--no-demo: start with none)")
    launch(ServerSettings(
        host=args.host, port=args.port, project=project, auth_file=args.auth_file, projects_root=args.projects_root,
        models_dirs=args.models_dir or [], max_body_kb=args.max_body_kb, ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
        limits=limits))
    return 0


def _password(args: argparse.Namespace) -> str:
    """From --password-stdin (one line, kept as typed but for its newline), else asked twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise KDError("the two passwords differ")
    return first


@command("users add")
@command("users remove")
@command("users list")
def cmd_users(args: argparse.Namespace) -> int:
    from kd_core.access.accounts import add_user, read_accounts, remove_user

    if args.users_command == "add":
        projects = tuple(x.strip() for x in args.projects.split(",") if x.strip())
        account = add_user(args.auth_file, args.name, _password(args), args.role, projects)
        print(f"{args.auth_file}: {account.user} ({account.role}; projects: {','.join(account.projects)})")
    elif args.users_command == "remove":
        remove_user(args.auth_file, args.name)
        print(f"{args.auth_file}: {args.name} removed")
    else:
        for a in read_accounts(args.auth_file).values():
            print(f"{a.user}\t{a.role}\t{','.join(a.projects)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--projects-root", default=os.environ.get("KD_STUDIO_PROJECTS", "projects"),
                       help="the folder every project of the web app lives in; a page can name nothing outside it "
                            "(default: projects/ in the folder the server starts in)")
    serve.add_argument("--project", default=None,
                       help="project (under the projects root) to open first; default: the demo project, made on the "
                            "first start (when the projects root holds no project) from the recorded demo runs")
    serve.add_argument("--no-demo", action="store_true", help="open no project when --project is not given")
    serve.add_argument("--models-dir", action="append", default=None,
                       help="a folder of models pages may name (repeatable); demo:NAME and hub ids need none")
    serve.add_argument("--auth-file", default=None,
                       help="accounts file written by `kd-studio users add`: required to listen on any address but this machine's")
    serve.add_argument("--max-upload-mb", type=int, default=200, help="largest file a browser may upload")
    serve.add_argument("--max-body-kb", type=int, default=1024, help="largest request that is not an upload")
    serve.add_argument("--queue-size", type=int, default=64, help="events waiting at once, across sessions")
    serve.add_argument("--ssl-certfile", default=None, help="TLS certificate (PEM): serve https")
    serve.add_argument("--ssl-keyfile", default=None, help="TLS private key (PEM)")
    serve.add_argument("--trust-remote-code", action="store_true",
                       help="let models this server loads run their repositories' code (never switched on by a project file)")
    serve.add_argument("--allow-pickle", action="store_true", help="let this server load pickled (.bin) weights")
    limits = serve.add_argument_group("limits (kd_core/limits.py)")
    from kd_core.limits import Limits

    Limits.add_arguments(limits)
    for action in limits._group_actions:  # --max-upload-mb and --queue-size above say these two
        if action.dest in ("limit_upload_mb", "limit_queue_size"):
            action.help = argparse.SUPPRESS

    users = sub.add_parser("users", help="add, remove or list the web app's accounts (hashed passwords)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    for name in ("add", "remove", "list"):
        p = users_sub.add_parser(name, help={"add": "add an account or change its password, role or projects",
                                             "remove": "remove an account", "list": "list accounts (never passwords)"}[name])
        if name != "list":
            p.add_argument("name")
        p.add_argument("--auth-file", required=True, help="the accounts file (created chmod 600)")
        if name == "add":
            p.add_argument("--role", choices=("admin", "curator"), default="curator")
            p.add_argument("--projects", default="*", help="projects the account may open: names under the root, comma-separated, or *")
            p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
