#!/usr/bin/env python3
"""A TCP receiver that accepts connections and never reads from them (a stalled sink).

Usage: stalled_receiver.py PORT [SECONDS]  — listens on 127.0.0.1:PORT, exits after SECONDS (default 600).
"""
import socket
import sys
import time

port = int(sys.argv[1])
deadline = time.time() + (int(sys.argv[2]) if len(sys.argv) > 2 else 600)
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
server.bind(("127.0.0.1", port))
server.listen(16)
server.settimeout(0.5)
held = []
while time.time() < deadline:
    try:
        conn, _ = server.accept()
        held.append(conn)  # kept open, never read
    except socket.timeout:
        pass
