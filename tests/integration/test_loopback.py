"""Every native service listens on loopback only: no listening socket of the stack's
processes (or their children) is bound to a wildcard or an external address."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from lakehouse.platform.services import Stack


def _listening() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every listening TCP socket (IPv4 and IPv6)."""
    out = {}
    for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(path).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            hex_ip, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_ip)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            out[int(fields[9])] = (socket.inet_ntop(family, raw), int(hex_port, 16))
    return out


def _descendants(pids: set[int]) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, ()))
    return seen


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_native_services_listen_on_loopback_only(local_profile):
    stack = Stack(local_profile)
    down = {n: st for n, st in stack.status().items() if not st.startswith("healthy")}
    assert not down, f"start the stack first (`make services-up`): {down}"
    pids = _descendants(stack.pids())
    listening = _listening()
    ours = {listening[i] for pid in pids for i in _socket_inodes(pid) if i in listening}
    assert ours, "no listening socket found for the stack's processes"
    exposed = sorted(a for a in ours if not _loopback(a[0]))
    assert exposed == [], f"listening beyond loopback: {exposed}"
