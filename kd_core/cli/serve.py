"""`kd-studio serve`: the web app."""

from __future__ import annotations

import argparse

from kd_core.cli.common import command


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import launch

    launch(host=args.host, port=args.port, project=args.project, auth_file=args.auth_file, max_upload_mb=args.max_upload_mb)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--project", default=None, help="project folder to open (default: the demo project)")
    serve.add_argument("--auth-file", default=None,
                       help="accounts file (user:password lines, chmod 600): required to listen on any address but this machine's")
    serve.add_argument("--max-upload-mb", type=int, default=200, help="largest file a browser may upload")
