"""A TCP fault proxy: forwards 127.0.0.1 connections to a server until a test cuts it.

Put in front of PostgreSQL or Redis, it lets a test take the server away from the app
without touching the server itself (shared with other people and CI):

- :meth:`FaultProxy.cut` closes every open connection and refuses new ones, as a server
  that went down (the app sees its connections reset, then "connection refused");
- :meth:`FaultProxy.restore` listens again on the same port, as the server back up;
- :meth:`FaultProxy.cut_when` cuts at a precise moment: when the client sends bytes
  holding a pattern (e.g. ``b"COMMIT"``), either before they reach the server or just
  after (the server acts on them, the client never hears back);
- :meth:`FaultProxy.flap` cuts and restores on a background thread, again and again;
- :meth:`FaultProxy.stall` is a server that went silent (a host gone, no one to refuse):
  connections are accepted and never answered.

PostgreSQL must be reached with ``sslmode=disable`` for the patterns to be seen.
"""

from __future__ import annotations

import socket
import threading
import time

CHUNK = 65536
TAIL = 256  # bytes kept to find a pattern split across two reads


class _Link:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy, client, upstream):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.tail = b""  # the end of the bytes sent upstream so far (patterns across chunks)
        self.muted = False  # the server's answers no longer reach the client
        self.primed = False  # sent the ``after`` pattern of the armed trigger

    def start(self):
        """Start pumping both ways."""
        for source, target, upward in (
            (self.client, self.upstream, True),
            (self.upstream, self.client, False),
        ):
            threading.Thread(
                target=self._pump,
                args=(source, target, upward),
                daemon=True,
                name="fault-proxy-pump",
            ).start()

    def _pump(self, source, target, upward):
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                verdict = self.proxy._inspect(self, data) if upward else None
                if verdict == "before":
                    self.proxy._trip()
                    break
                if verdict == "after":
                    self.muted = True
                if not (self.muted and not upward):
                    target.sendall(data)
                if verdict == "after":
                    time.sleep(0.2)  # the server acts on the bytes; its answer is dropped
                    self.proxy._trip()
                    break
        except OSError:
            pass
        finally:
            self.close()

    def close(self):
        """Reset both connections (wakes the pump threads blocked on them)."""
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        self.proxy._forget(self)


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` until cut; see the module docstring."""

    def __init__(self, upstream_host, upstream_port):
        self.upstream = (upstream_host, int(upstream_port))
        self.lock = threading.Lock()
        self.links = set()
        self.accepted = 0  # connections forwarded so far
        self.cuts = 0  # times the proxy was cut
        self.port = None
        self._listener = None
        self._accepting = None
        self._accept_thread = None
        self._trigger = None  # (pattern, forward_first, after) armed by cut_when
        self._down_for = None
        self.tripped = threading.Event()  # set when the armed trigger cut the proxy
        self._flapping = None
        self.closed = False
        self.stalled = []  # connections accepted while stalled, never answered
        self._stalling = False
        self.restore()

    # -- what a test calls --------------------------------------------------------------

    @property
    def is_up(self):
        """Whether the proxy is forwarding."""
        return self._listener is not None

    def url_for(self, url):
        """``url`` (scheme://user@host:port/...) pointed at this proxy instead."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self):
        """Close every open connection and refuse new ones (the server is down)."""
        with self.lock:
            self._stalling = False
            for sock in self.stalled:
                sock.close()
            self.stalled = []
            listener, self._listener = self._listener, None
            accepting, thread = self._accepting, self._accept_thread
            links = list(self.links)
            self._trigger = None
            if listener is not None:
                self.cuts += 1
        if listener is not None:
            accepting.clear()
            if thread is not threading.current_thread():
                thread.join(timeout=5)
            listener.close()
        for link in links:
            link.close()

    def restore(self):
        """Listen again on the same port (the server is back)."""
        if self._stalling and self._listener is not None:
            self.cut()  # from stalled to forwarding: start over
        with self.lock:
            if self._listener is not None or self.closed:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port or 0))
            listener.listen(64)
            listener.settimeout(0.05)
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._accepting = threading.Event()
            self._accepting.set()
            self._accept_thread = threading.Thread(
                target=self._accept,
                args=(listener, self._accepting),
                daemon=True,
                name="fault-proxy-accept",
            )
            self._accept_thread.start()

    def cut_when(self, pattern, forward_first=True, after=None, down_for=None):
        """Cut the moment a client sends bytes holding ``pattern``.

        ``forward_first``: the server gets those bytes first (and acts on them) but the
        client never hears its answer; else they never reach the server. ``after``: only
        on a connection that sent ``after`` earlier (e.g. the ``COMMIT`` of a transaction
        that staged readings). ``down_for``: restore that many seconds after the cut.
        """
        with self.lock:
            self._trigger = (pattern, forward_first, after)
            self._down_for = down_for
            self.tripped = threading.Event()
            for link in self.links:
                link.primed = False

    def stall(self):
        """Drop every open connection; accept new ones but never answer (until restored)."""
        self.cut()
        with self.lock:
            self._stalling = True
        self.restore()

    def flap(self, down_seconds, up_seconds):
        """Cut and restore over and over on a thread, until :meth:`stop_flapping`."""
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                self.cut()
                if stop.wait(down_seconds):
                    break
                self.restore()
                stop.wait(up_seconds)
            self.restore()

        thread = threading.Thread(target=loop, daemon=True, name="fault-proxy-flap")
        self._flapping = (stop, thread)
        thread.start()

    def stop_flapping(self):
        """Stop :meth:`flap`, leaving the proxy up."""
        if self._flapping is not None:
            stop, thread = self._flapping
            stop.set()
            thread.join(timeout=10)
            self._flapping = None
        self.restore()

    def close(self):
        """Stop everything and release the port."""
        self.stop_flapping()
        self.closed = True
        self.cut()

    # -- the machinery ------------------------------------------------------------------

    def _accept(self, listener, accepting):
        while accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self.lock:
                if self._stalling:
                    self.stalled.append(client)
                    continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self.lock:
                if not accepting.is_set():
                    refused = True
                else:
                    refused = False
                    self.links.add(link)
                    self.accepted += 1
            if refused:
                link.close()
                return
            link.start()

    def _inspect(self, link, data):
        """``"before"``/``"after"`` when ``data`` trips the armed trigger, else None.

        Only occurrences that end in ``data`` count (the tail kept from earlier reads
        finds a pattern split across two of them, not one seen before the trigger).
        """
        with self.lock:
            trigger = self._trigger
            window, kept = link.tail + data, len(link.tail)
            link.tail = window[-TAIL:]
            if trigger is None:
                return None
            pattern, forward_first, after = trigger
            start = 0
            if after is not None and not link.primed:
                position = window.find(after, max(0, kept - len(after) + 1))
                if position < 0:
                    return None
                link.primed = True
                start = position + len(after)
            if window.find(pattern, max(start, kept - len(pattern) + 1)) < 0:
                return None
            self._trigger = None
        return "after" if forward_first else "before"

    def _trip(self):
        """Cut for the armed trigger; restore later when it says so."""
        down_for = self._down_for
        self.tripped.set()
        self.cut()
        if down_for is not None:
            timer = threading.Timer(down_for, self.restore)
            timer.daemon = True
            timer.start()

    def _forget(self, link):
        with self.lock:
            self.links.discard(link)
