#!/usr/bin/env python3
"""Mixed traffic for scripts/soak.sh, to a collector on loopback, for SECONDS seconds:

  tcp    realistic sshd and nginx lines, RFC 5424 octet-counted, RATE per second, on one connection
  lf     the same, LF-framed, RATE/2 per second, on another
  udp    the same as datagrams, RATE/5 per second (may be lost; vigil counts what it drops)
  churn  every 30 s, 1,000 connections from 20 addresses each send one line, held 5 s, closed
  hostile every 2 s a connection sends one hostile frame (garbage, an absurd or non-numeric
         octet count, an oversized frame, NUL and invalid UTF-8, an unfinished frame) and closes
  attack every 15 s a new address sends 8 failed passwords for root to one host, on its own
         connection: an ssh_bruteforce alert fires (and later resolves) for each

Every line that must be stored carries `soak-<kind>-<n>` as its MSGID (in the header, so the
sshd and nginx text stays exactly what the extractors expect: a tag after sshd's `ssh2` would
make the line no event). At the end it prints one JSON object
with what each kind sent. A TCP connection that the collector closes is reopened; what a writer
had written before that is counted as sent (vigil only closes idle connections).
Usage: traffic.py PORT RATE SECONDS [UDP_PORT]   (datagrams go to UDP_PORT, default PORT)
"""
import json
import random
import socket
import sys
import threading
import time

port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
udp_port = int(sys.argv[4]) if len(sys.argv) > 4 else port
assert rate <= 20000 and seconds <= 7200, "bounded"
stop_at = time.monotonic() + seconds
sent = {"tcp": 0, "lf": 0, "udp": 0, "churn": 0, "hostile": 0, "attack": 0}
lock = threading.Lock()
hosts = ["soak-web%02d" % i for i in range(1, 21)] + ["soak-db%02d" % i for i in range(1, 6)]


def line(kind, n):
    """One realistic message: an sshd failure, an accepted login, or an nginx request."""
    host = random.choice(hosts)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # From 4 million addresses: by chance, one rarely fails often enough to raise an alert.
    ip = "100.%d.%d.%d" % (random.randint(64, 127), random.randint(0, 255), random.randint(1, 254))
    tag = "soak-%s-%d" % (kind, n)
    r = random.random()
    if r < 0.5:
        return "<38>1 %s %s sshd %d %s - Failed password for root from %s port %d ssh2" % (
            now, host, random.randint(100, 99999), tag, ip, random.randint(1024, 65535))
    if r < 0.6:
        return "<38>1 %s %s sshd %d %s - Accepted publickey for deploy from %s port %d ssh2" % (
            now, host, random.randint(100, 99999), tag, ip, random.randint(1024, 65535))
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    status = random.choice([200, 200, 200, 304, 404, 500])
    return '<190>1 %s %s nginx - %s - %s - - [%s] "GET /pages/%d HTTP/1.1" %d %d "-" "curl/7.88.1"' % (
        now, host, tag, ip, stamp, random.randint(1, 50), status, random.randint(10, 5000))


def paced(kind, per_second, send):
    """Calls send(message) per_second times a second until the end."""
    n = 0
    interval = 1.0 / max(1, per_second)
    next_at = time.monotonic()
    while time.monotonic() < stop_at:
        send(line(kind, n))
        n += 1
        with lock:
            sent[kind] += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def stream(kind, per_second, octet):
    sock = None

    def send(message):
        nonlocal sock
        data = message.encode()
        frame = b"%d %s" % (len(data), data) if octet else data + b"\n"
        while True:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
                sock.sendall(frame)
                return
            except OSError:
                sock = None
                time.sleep(0.1)

    paced(kind, per_second, send)
    if sock:
        sock.close()


def datagrams(per_second):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    paced("udp", per_second, lambda m: sock.sendto(m.encode(), ("127.0.0.1", udp_port)))


def churn():
    n = 0
    while time.monotonic() + 40 < stop_at:
        conns = []
        for i in range(1000):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                             source_address=("127.0.1.%d" % (1 + i % 20), 0))
                s.sendall((line("churn", n) + "\n").encode())
                conns.append(s)
                n += 1
            except OSError:
                pass
        with lock:
            sent["churn"] += len(conns)
        time.sleep(5)
        for s in conns:
            s.close()
        time.sleep(25)


def hostile():
    frames = [
        b"\x00\xff\xfe garbage \x01\x02\n",
        b"99999999999 <13>1 - soak-hostile app - - - absurd count",
        b"12a <13>1 - soak-hostile app - - - bad count",
        b"70010 <13>1 - soak-hostile app - - - oversized " + b"x" * 70000,
        b"<13>1 - soak-hostile app - - - invalid utf8 \xc3\x28 and nul \x00 inside\n",
        b"<13>1 - soak-hostile app - - - never finished " + b"y" * 30000,
    ]
    while time.monotonic() < stop_at:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(random.choice(frames))
            s.close()
            with lock:
                sent["hostile"] += 1
        except OSError:
            pass
        time.sleep(2)


def attack():
    n = 0
    while time.monotonic() < stop_at:
        ip = "198.51.%d.%d" % (100 + n // 250 % 100, 1 + n % 250)
        host = hosts[n % len(hosts)]
        frames = b""
        for i in range(8):
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            message = ("<38>1 %s %s sshd %d soak-attack-%d - Failed password for root from %s port %d ssh2"
                       % (now, host, 1000 + i, n * 8 + i, ip, 40000 + i)).encode()
            frames += b"%d %s" % (len(message), message)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=120)
            s.sendall(frames)
            s.close()
            with lock:
                sent["attack"] += 8
        except OSError:
            pass
        n += 1
        time.sleep(15)


threads = [
    threading.Thread(target=stream, args=("tcp", rate, True)),
    threading.Thread(target=stream, args=("lf", rate // 2, False)),
    threading.Thread(target=datagrams, args=(rate // 5,)),
    threading.Thread(target=churn),
    threading.Thread(target=hostile),
    threading.Thread(target=attack),
]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(sent), flush=True)
