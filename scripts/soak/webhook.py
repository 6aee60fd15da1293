#!/usr/bin/env python3
"""A webhook receiver on 127.0.0.1:PORT for scripts/soak.sh: answers every POST with 204 and
keeps the number of alerts received in COUNT_FILE (rewritten after each one).
Usage: webhook.py PORT COUNT_FILE
"""
import http.server
import sys

port, count_file = int(sys.argv[1]), sys.argv[2]
try:
    received = int(open(count_file).read().strip() or 0)
except (OSError, ValueError):
    received = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global received
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received += 1
        with open(count_file, "w") as f:
            f.write("%d\n" % received)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
