#!/usr/bin/env python3
"""Holds idle connections to the API on loopback: PER_SOURCE from each of SOURCES addresses
(127.0.0.1, the operator's own, then 127.0.0.2, ...), each after one tokenless `GET /` (kept
alive, its answer left unread): the API lockout a review found, where they kept everyone else
out. Prints `ready N` once they are open (N: connections the server had not closed by then),
then holds them until stdin closes or 30 s pass.
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
        c.bind(("127.0.0.%d" % (1 + s), 0))
        c.connect(("127.0.0.1", port))
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        held.append(c)
# Those the server closed (refused or evicted) read as ended (POLLRDHUP; answers are readable too).
poller = select.poll()
for c in held:
    poller.register(c, select.POLLRDHUP)
ended = len(poller.poll(500))
print("ready %d" % (len(held) - ended), flush=True)
stdin = select.poll()
stdin.register(sys.stdin, select.POLLIN)
stdin.poll(30000)
for c in held:
    c.close()
