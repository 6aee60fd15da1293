#!/usr/bin/env python3
"""Resets an HTTP connection while the server is writing to it (the attack that ended `vigil serve`
through SIGPIPE before its socket writes used MSG_NOSIGNAL).

With a small receive buffer it pipelines ROUNDS requests for the dashboard (no token needed) and
reads nothing, waits until the server has unsent bytes queued on its side (`ss`), half-closes
(the server's side goes to CLOSE_WAIT, also watched with `ss`), then closes with a reset. Every
wait is bounded (10 s). Prints `reset sent` or what it waited for in vain.
Usage: reset_while_writing.py PORT
"""
import socket
import struct
import subprocess
import sys
import time

port = int(sys.argv[1])
rounds = 300


def server_side(state):
    """The server's side of connections to PORT in `state` (ss -tn), one line each."""
    out = subprocess.run(["ss", "-Htn", "state", state, "( sport = :%d )" % port],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def wait_for(what, check):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    print("gave up waiting for: " + what)
    sys.exit(1)


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * rounds)
# ss columns for an established connection: Recv-Q Send-Q Local Peer.
wait_for("the server's send queue to fill",
         lambda: any(int(line.split()[1]) > 0 for line in server_side("established")))
s.shutdown(socket.SHUT_WR)
wait_for("the server's side to reach CLOSE_WAIT", lambda: len(server_side("close-wait")) > 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("reset sent")
