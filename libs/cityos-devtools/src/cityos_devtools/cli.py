"""The `cityos-dev` command: `cityos-dev run` starts the whole City OS locally."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cityos_devtools.stack import RunOptions, run


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0 = any free port), got {port}")
    return port


def _replicas(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= count <= 8:
        raise argparse.ArgumentTypeError(f"replicas must be 1-8, got {count}")
    return count


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; defaults read from `environ` (os.environ when None)."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="cityos-dev", description="City OS developer tools.", allow_abbrev=False
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run",
        allow_abbrev=False,
        help="run the whole City OS locally (embedded Valkey and S3 unless REDIS_URL / S3_ENDPOINT are set)",
        description="Start Valkey and S3 (embedded unless REDIS_URL / S3_ENDPOINT are set), every service, "
        "seed the demo data and wait; Ctrl-C stops everything. Data stays in the data folder.",
    )
    run_cmd.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env.get("CITYOS_DATA_DIR") or ".data"),
        help="folder for data and logs (default: $CITYOS_DATA_DIR or .data)",
    )
    run_cmd.add_argument(
        "--gateway-port", type=_port, default=8080, help="gateway HTTP port (default 8080; 0 = any free port)"
    )
    run_cmd.add_argument(
        "--auth",
        choices=("oidc", "open"),
        default="oidc",
        help="gateway authentication: oidc (default, tokens required) or open (development only: no checks)",
    )
    run_cmd.add_argument(
        "--broker-replicas",
        type=_replicas,
        default=1,
        metavar="N",
        help="broker processes (default 1); the gateway spreads its calls over all of them (round robin)",
    )
    run_cmd.add_argument(
        "--broker-workers",
        action="store_true",
        help="run the notifier and the history recorder in a broker process of their own (broker-worker); "
        "the brokers the gateway calls then only serve requests",
    )
    run_cmd.add_argument("--no-seed", dest="seed", action="store_false", help="do not upsert the demo data")
    run_cmd.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="write {gateway_url, redis_url, s3_endpoint} as JSON here once the stack is ready",
    )
    return parser


def parse_run_options(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> RunOptions:
    """RunOptions from `cityos-dev run ...` arguments (argparse exits with code 2 on bad input)."""
    args = build_parser(environ).parse_args(list(argv))
    return RunOptions(
        data_dir=args.data_dir,
        gateway_port=args.gateway_port,
        seed=args.seed,
        ready_file=args.ready_file,
        auth=args.auth,
        broker_replicas=args.broker_replicas,
        broker_workers=args.broker_workers,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `cityos-dev` and `python -m cityos_devtools`."""
    options = parse_run_options(sys.argv[1:] if argv is None else argv)
    return run(options)
