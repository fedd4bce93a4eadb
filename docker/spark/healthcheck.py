#!/usr/bin/env python3
"""Health check of the Spark standalone containers (docker-compose.yml).

    spark-healthcheck master   the master's JSON status page says ALIVE
    spark-healthcheck worker   this container's worker is registered with the master and ALIVE

Both read the master web UI's /json/ page (SPARK_MASTER_UI_URL). A worker registers under its
container IP (or hostname), so the check matches the master's worker list against this
container's addresses: scaled workers each report their own state.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import urllib.parse
import urllib.request

LOCAL_MASTER_UI = "http://127.0.0.1:8080/json/"


def master_state(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def master_alive(state: dict) -> bool:
    return state.get("status") == "ALIVE"


def own_addresses(master_host: str) -> set[str]:
    """Names and IPs a worker in this container may have registered under."""
    name = socket.gethostname()
    names = {name, socket.getfqdn()}
    with contextlib.suppress(OSError):
        names.update(socket.gethostbyname_ex(name)[2])
    # Spark skips a hostname that resolves to loopback and takes an interface address: the one
    # this container uses to reach the master (a UDP "connect" only picks the route).
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((master_host, 7077))
        names.add(sock.getsockname()[0])
    return names


def worker_registered(state: dict, addresses: set[str]) -> bool:
    return any(
        worker.get("state") == "ALIVE" and worker.get("host") in addresses
        for worker in state.get("workers", [])
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("master", "worker"):
        print(__doc__, file=sys.stderr)
        return 2
    role = argv[1]
    default = LOCAL_MASTER_UI if role == "master" else "http://spark-master:8080/json/"
    url = os.environ.get("SPARK_MASTER_UI_URL", default)
    try:
        state = master_state(url)
    except (OSError, ValueError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if role == "master":
        ok = master_alive(state)
    else:
        host = urllib.parse.urlsplit(url).hostname or "127.0.0.1"
        ok = worker_registered(state, own_addresses(host))
    print(f"{role}: {'healthy' if ok else 'not healthy'} ({url})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
