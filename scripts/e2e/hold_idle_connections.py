#!/usr/bin/env python3
"""Holds idle TCP connections to a server on loopback: PER_SOURCE from each of SOURCES addresses
(127.0.0.2, 127.0.0.3, ...), sending nothing (the API lockout a review found: 1,024 idle
connections kept everyone else out). Prints `ready N` once they are open (N: connections the
server had not closed by then), then holds them until stdin closes or 30 s pass.
Usage: hold_idle_connections.py PORT SOURCES PER_SOURCE
"""
import resource
import select
import socket
import sys

port, sources, per_source = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert sources <= 16 and per_source <= 512, "bounded"
need = sources * per_source + 64
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else min(hard, need), hard))

held = []
for s in range(sources):
    for _ in range(per_source):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.bind(("127.0.0.%d" % (2 + s), 0))
        c.connect(("127.0.0.1", port))
        held.append(c)
# Those the server closed at once (refused or evicted) read as ended.
poller = select.poll()
for c in held:
    poller.register(c, select.POLLIN)
ended = len(poller.poll(500))
print("ready %d" % (len(held) - ended), flush=True)
stdin = select.poll()
stdin.register(sys.stdin, select.POLLIN)
stdin.poll(30000)
for c in held:
    c.close()
