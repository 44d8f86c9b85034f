"""`python -m loadtests.scenarios`: start the local stack, run the locust scenarios headless, stop it.

Users and run time are always bounded; reports go to reports/locust.html and reports/locust_*.csv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from loadtests.bench.auth import bench_client
from loadtests.bench.stack import running_stack
from loadtests.scenarios.common import TENANT

_REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    """Run locust against a freshly started stack; exit with locust's code (1 when requests failed)."""
    p = argparse.ArgumentParser(prog="python -m loadtests.scenarios", description=__doc__)
    p.add_argument("-u", "--users", type=int, default=320, help="simulated users (320: 270 ploughs + 50)")
    p.add_argument("-r", "--spawn-rate", type=float, default=50, help="users started per second (50)")
    p.add_argument("-t", "--run-time", default="30s", help="how long to run (30s)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="report folder (reports)")
    p.add_argument(
        "--auth", choices=("oidc", "open"), default="oidc", help="gateway auth (oidc: with tokens)"
    )
    p.add_argument("user_classes", nargs="*", help="run only these user classes (default: the whole mix)")
    args = p.parse_args(argv)
    if args.users < 1 or args.spawn_rate <= 0:
        raise SystemExit("--users and --spawn-rate must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="cityos-locust-") as work,
        running_stack(Path(work), _REPO, args.auth) as stack,
    ):
        env = dict(os.environ)
        if stack.auth_mode != "open":
            # A backend client of the scenarios' tenant; its token (15 minutes) outlives a bounded run.
            client = bench_client(stack.gateway_url, stack.admin_password_file, TENANT)
            env["LOADTEST_TOKEN"] = client.token()
        print(f"stack ready at {stack.gateway_url} (auth {stack.auth_mode}); locust for {args.run_time}")
        argv_locust = [sys.executable, "-m", "locust", "-f", str(_REPO / "loadtests" / "locustfile.py")]
        argv_locust += ["--host", stack.gateway_url, "--headless", "-u", str(args.users)]
        argv_locust += ["-r", str(args.spawn_rate), "-t", args.run_time, "--stop-timeout", "5"]
        argv_locust += ["--html", str(args.out / "locust.html"), "--csv", str(args.out / "locust")]
        return subprocess.run([*argv_locust, *args.user_classes], cwd=_REPO, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
