#!/usr/bin/env python3
"""Opens N TCP connections to a collector on loopback and keeps them all open at once.

They come from 50 source addresses (127.0.0.1 to 127.0.0.50), as from a fleet: one address may
hold at most `max_connections_per_source` (1000) connections.

Each connection sends one syslog message for host HOST carrying TOKEN and its index; a few
connections in between send hostile frames (a non-numeric octet count, an absurd count, an
oversized counted frame followed by a good one). Only after every connection is open and has
written does it close them. Prints `opened=N sent=N` and exits non-zero on a connection error.
Usage: many_connections.py PORT N HOST TOKEN
"""
import resource
import socket
import sys

port, count, host, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
assert count <= 20000, "bounded"
hostile = {
    count // 4: b"12a <13>1 - hostile app - - - never stored",
    count // 2: b"99999999999 <13>1 - hostile app - - - never stored",
}
big = b"<13>1 - %s app - - - oversized " % host.encode() + b"x" * 70000
after = b"<13>1 - %s app - - - %s after-oversized" % (host.encode(), token.encode())
hostile[3 * count // 4] = b"%d %s%d %s" % (len(big), big, len(after), after)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64) if hard != resource.RLIM_INFINITY else count + 64, hard))

sockets = []
sent = 0
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=("127.0.0.%d" % (1 + i % 50), 0))
    if i in hostile:
        s.sendall(hostile[i])
    else:
        s.sendall(b"<13>1 - %s app - - - %s conn-%d\n" % (host.encode(), token.encode(), i))
        sent += 1
    sockets.append(s)
for s in sockets:
    s.close()
print(f"opened={len(sockets)} sent={sent}")
