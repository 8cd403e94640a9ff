"""A real 3-master Redis Cluster on free loopback ports, for tests (no replicas: fast to form)."""

from __future__ import annotations

import random
import socket
import time

import redis

from common.redis_process import RedisProcess

SLOTS = 16384


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, so at most 55535."""
    while True:
        port = random.randint(20000, 45000)
        if _free(port) and _free(port + 10000):
            return port


class LocalCluster:
    def __init__(self, masters: int = 3) -> None:
        self.nodes = [
            RedisProcess(
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", port=cluster_port(),
            )
            for _ in range(masters)
        ]

    @property
    def url(self) -> str:
        """Any node will do as the seed; the client discovers the rest."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 15.0) -> LocalCluster:
        for node in self.nodes:
            node.start()
        clients = [redis.Redis(port=node.port) for node in self.nodes]
        try:
            share = SLOTS // len(clients)
            for index, client in enumerate(clients):
                first = index * share
                last = SLOTS if index == len(clients) - 1 else first + share
                for chunk in range(first, last, 1024):  # Redis 6.2 has no ADDSLOTSRANGE
                    slots = range(chunk, min(chunk + 1024, last))
                    client.execute_command("CLUSTER ADDSLOTS", *slots)
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)
            deadline = time.monotonic() + timeout
            while not all(self._ready(client) for client in clients):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not form in time")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()
        return self

    def _ready(self, client: redis.Redis) -> bool:
        info = client.execute_command("CLUSTER INFO")
        return info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == len(self.nodes)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()
