"""Linux network namespaces for network-fault tests: one namespace and address per node.

`NetnsLab(count)` creates a hub namespace holding a bridge and `count` node namespaces,
each linked to the bridge by a veth pair and given the address 10.99.<subnet>.<i + 1>/24.
Without a `subnet`, one that no address of this host's namespace uses is chosen, so that
labs of test runs side by side (several users of one machine) never share a route.
Only namespaces this lab created are touched, and all of them are deleted by `destroy()`
(or on leaving the `with` block); deleting a namespace removes its veth ends. The bridge
is the only path between nodes, so no traffic loop can form.

With `host_link=True` the namespace this process runs in joins the bridge too, as
10.99.<subnet>.254, so a test can reach servers inside the node namespaces (JSON-RPC);
partitions never cut that link. Choosing the subnet and taking it in this namespace
happen under a lock shared by every lab on the machine (`LOCK_PATH`): two labs created at
once would otherwise both find a subnet free and route each other's traffic (a test
then talks to the other lab's nodes, or is refused).

`partition(groups)` drops traffic between nodes of different groups with blackhole
routes inside the node namespaces; `heal()` removes them. Needs root and iproute2.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from peerchain.core.errors import PeerChainError

LOCK_PATH = "/run/lock/peerchain-netns.lock"


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Exclusive across the processes of this machine while the block runs."""
    with open(LOCK_PATH, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class NetnsError(PeerChainError):
    """A namespace command failed (not root, no iproute2, name clash...)."""


def netns_available() -> bool:
    """Whether this process may create network namespaces (root and `ip` present)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def free_subnet() -> int:
    """A subnet 10.99.<n>.0/24 that no address of this namespace is in (the scan starts at
    a place that depends on the process id, so that concurrent runs rarely pick the same).
    Raises NetnsError when all are taken."""
    if shutil.which("ip") is None:
        raise NetnsError("network namespaces need iproute2 (the ip command)")
    result = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True)
    used = {int(n) for n in re.findall(r"inet 10\.99\.(\d+)\.", result.stdout)}
    start = os.getpid() % 250
    for offset in range(250):
        candidate = 1 + (start + offset) % 250
        if candidate not in used:
            return candidate
    raise NetnsError("every 10.99.<n>.0/24 subnet is in use on this host")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass(frozen=True, slots=True)
class NodeNamespace:
    """One node's namespace: its name and its address on the lab's bridge."""

    name: str
    address: str

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` prefixed to run inside this namespace (for subprocess)."""
        return ["ip", "netns", "exec", self.name, *args]


@dataclass
class NetnsLab:
    """A bridge and `count` node namespaces; see the module docstring."""

    count: int
    subnet: int | None = None
    host_link: bool = False
    tag: str = field(default_factory=lambda: f"pc{os.getpid() % 100000}")
    nodes: list[NodeNamespace] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)
    _blackholes: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 200 or not 0 <= (self.subnet or 0) <= 255:
            raise ValueError("count must be 1..200 and subnet 0..255")

    @property
    def hub(self) -> str:
        return f"{self.tag}-hub"

    @property
    def host_address(self) -> str:
        """This process's address on the bridge (with `host_link`)."""
        return f"10.99.{self.subnet}.254"

    @property
    def _host_device(self) -> str:
        return f"{self.tag}-h"

    def create(self) -> NetnsLab:
        """Make the namespaces, the bridge and the links. Raises NetnsError."""
        if not netns_available():
            raise NetnsError("network namespaces need root and iproute2")
        try:
            with _machine_lock():  # the subnet is chosen and taken in one step
                if self.subnet is None:
                    self.subnet = free_subnet()
                self._add_namespace(self.hub)
                _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
                _ip("-n", self.hub, "link", "set", "br0", "up")
                if self.host_link:
                    self._add_host_link()
            for index in range(self.count):
                self._add_node(index)
        except NetnsError:
            self.destroy()
            raise
        return self

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _add_node(self, index: int) -> None:
        name = f"{self.tag}-n{index}"
        address = f"10.99.{self.subnet}.{index + 1}"
        self._add_namespace(name)
        outside, inside = f"v{index}h", f"v{index}n"
        _ip("-n", self.hub, "link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("-n", self.hub, "link", "set", inside, "netns", name)
        _ip("-n", self.hub, "link", "set", outside, "master", "br0")
        _ip("-n", self.hub, "link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        self.nodes.append(NodeNamespace(name, address))

    def _add_host_link(self) -> None:
        device = self._host_device
        _ip("link", "add", device, "type", "veth", "peer", "name", "host", "netns", self.hub)
        _ip("-n", self.hub, "link", "set", "host", "master", "br0")
        _ip("-n", self.hub, "link", "set", "host", "up")
        _ip("addr", "add", f"{self.host_address}/24", "dev", device)
        _ip("link", "set", device, "up")

    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Cut traffic between nodes (by index) of different groups, both directions."""
        self.heal()
        group_of = {index: g for g, members in enumerate(groups) for index in members}
        for a, node in enumerate(self.nodes):
            for b, other in enumerate(self.nodes):
                if a != b and group_of.get(a) != group_of.get(b):
                    _ip("-n", node.name, "route", "add", "blackhole", f"{other.address}/32")
                    self._blackholes.append((node.name, other.address))

    def heal(self) -> None:
        """Remove every cut made by `partition`."""
        while self._blackholes:
            name, address = self._blackholes.pop()
            _ip("-n", name, "route", "del", "blackhole", f"{address}/32")

    def destroy(self) -> None:
        """Delete every namespace this lab created (their links go with them)."""
        if self.host_link:  # goes with the hub's end too; deleted here in case it did not
            subprocess.run(["ip", "link", "del", self._host_device], capture_output=True)
        while self._created:
            name = self._created.pop()
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.nodes.clear()
        self._blackholes.clear()

    def __enter__(self) -> NetnsLab:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.destroy()
