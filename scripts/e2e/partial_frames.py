#!/usr/bin/env python3
"""Opens N TCP connections to a collector on loopback, each sending SIZE bytes of a frame it never
finishes (no LF), from 50 source addresses. Prints `ready` once all have sent, waits for a line on
stdin (bounded to 60 s), then closes them all and prints `closed`.
Usage: partial_frames.py PORT N SIZE
"""
import resource
import select
import socket
import sys

port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert count <= 10000 and size <= 1 << 20, "bounded"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64) if hard != resource.RLIM_INFINITY else count + 64, hard))

body = b"<13>1 - e2e-partial app - - - " + b"p" * size
sockets = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.%d" % (1 + i % 50), 0))
    s.sendall(body)
    sockets.append(s)
print("ready", flush=True)
select.select([sys.stdin], [], [], 60)
for s in sockets:
    s.close()
print("closed", flush=True)
