"""A TCP proxy the tests can cut: the server reaches PostgreSQL through it, and `cut()` makes PostgreSQL
"go down" for the server (open connections dropped, new ones refused) without touching the real one."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int] | str):
        self.target = target   # (host, port), or the path of a Unix socket
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                if isinstance(self.target, str):
                    upstream = socket.socket(socket.AF_UNIX)
                    upstream.connect(self.target)
                else:
                    upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._open = []

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def proxied_database_url(url: str) -> tuple["TcpProxy", str]:
    """A proxy in front of the PostgreSQL of `url` (TCP or Unix socket) and the URL that goes through it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    if socket_dir:
        target = f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}"
    else:
        target = (parsed.host or "127.0.0.1", parsed.port or 5432)
    proxy = TcpProxy(target)
    through = parsed.set(host="127.0.0.1", port=proxy.port, query={})
    return proxy, through.render_as_string(hide_password=False)
