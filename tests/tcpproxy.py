"""A TCP proxy for outage tests: put it between the service and a dependency, then pull the plug.

``TCPProxy(target_port).start()`` listens on 127.0.0.1 (on a port the OS
picks the first time) and forwards every connection to the target.
``stop()`` is an outage as a client sees it: the listener closes (new
connections are refused) and every live connection is shut down (the
client reads end-of-stream mid-conversation). ``start()`` again listens on
the same port, so whatever was configured with ``url`` recovers by itself.
"""

from __future__ import annotations

import socket
import threading

#: How long the accept loop blocks before it looks whether it should stop.
ACCEPT_POLL_SECONDS = 0.1
#: Connecting to the target: a dead target is a refused client, not a hung one.
CONNECT_TIMEOUT_SECONDS = 5
CHUNK_SIZE = 64 * 1024


class TCPProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._pumps: list[threading.Thread] = []

    @property
    def url_netloc(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connection_count(self) -> int:
        """Client connections currently forwarded (each counts once)."""
        with self._lock:
            return len(self._live) // 2

    def start(self) -> TCPProxy:
        if self._listener is not None:
            raise RuntimeError("the proxy is already running")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The same port again right after stop(), although closed connections linger in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._accepting = threading.Thread(target=self._accept_loop, name=f"tcpproxy-{self.port}", daemon=True)
        self._accepting.start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut every live one. Safe to call twice."""
        self._stopping.set()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            live, self._live = self._live, set()
            pumps, self._pumps = self._pumps, []
        for conn in live:
            _shut(conn)
        for pump in pumps:
            pump.join(timeout=5)
        for conn in live:
            conn.close()

    def __enter__(self) -> TCPProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=CONNECT_TIMEOUT_SECONDS)
            except OSError:
                # The target is down too: the client sees its connection closed.
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._stopping.is_set():
                    client.close()
                    upstream.close()
                    return
                self._live.update((client, upstream))
                self._pumps = [pump for pump in self._pumps if pump.is_alive()]
                for source, sink in ((client, upstream), (upstream, client)):
                    pump = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                    self._pumps.append(pump)
                    pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(CHUNK_SIZE):
                sink.sendall(chunk)
        except OSError:
            pass
        # One side ended: end both, as a dropped connection does.
        _shut(sink)
        _shut(source)
        with self._lock:
            for conn in (source, sink):
                if conn in self._live:
                    self._live.discard(conn)
                    conn.close()


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
