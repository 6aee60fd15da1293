#!/usr/bin/env python3
"""Opens N TCP connections from one source address to a collector on loopback and holds them.

Each connection sends one syslog line for host HOST (`conn-I`). After all are open it prints
`ready`, waits up to HOLD seconds (bounded to 30), then reports how many the server had closed
by then (a read sees end of stream or a reset) and closes the rest: `opened=N closed_by_server=M`.
Usage: hold_connections.py PORT N SOURCE HOST HOLD_SECONDS
"""
import resource
import select
import socket
import sys
import time

port, count, source, host, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
assert count <= 5000 and hold <= 30, "bounded"

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < count + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64) if hard != resource.RLIM_INFINITY else count + 64, hard))

sockets = []
for i in range(count):  # sequential connects: each is accepted (or refused) before the next
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    try:
        s.sendall(b"<13>1 - %s app - - - conn-%d\n" % (host.encode(), i))
    except OSError:
        pass  # already closed by the server
    sockets.append(s)

print("ready", flush=True)
closed = set()
poller = select.poll()
by_fd = {s.fileno(): s for s in sockets}
for fd in by_fd:
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
deadline = time.monotonic() + hold
while time.monotonic() < deadline and len(closed) < len(sockets):
    for fd, _ in poller.poll(200):
        try:
            data = by_fd[fd].recv(1, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if data == b"":
            closed.add(fd)
            poller.unregister(fd)
print(f"opened={len(sockets)} closed_by_server={len(closed)}")
for s in sockets:
    s.close()
