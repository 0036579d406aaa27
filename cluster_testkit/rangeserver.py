"""A static HTTP server on 127.0.0.1 that honours `Range: bytes=N-` (as lookaside
mirrors and upstream release servers do), records each request with its Range, and
misbehaves on request, once per file: cuts the connection after some bytes, stalls
before the body (to time a client out), or sends no Content-Length."""
import http.server
import os
import re
import threading
import urllib.parse

RANGE_RE = re.compile(r"bytes=(\d+)-\Z")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        server = self.server.owner
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        path = os.path.realpath(os.path.join(server.directory, rel))
        header = self.headers.get("Range")
        server.requests.append((self.path, header))
        if not path.startswith(os.path.realpath(server.directory) + os.sep) or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as handle:
            data = handle.read()
        start = 0
        match = RANGE_RE.match(header or "")
        if match and server.ranges:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
        body = data[start:]
        name = os.path.basename(path)
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes {}-{}/{}".format(start, len(data) - 1, len(data)))
        if name not in server.no_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in server.stall:
            server.stall.discard(name)
            server.stopping.wait(30)
            return
        cut = server.cut.pop(name, None)
        if cut is not None:
            body = body[:cut]
        try:
            self.wfile.write(body)
        except OSError:
            pass


class RangeServer(object):
    def __init__(self, directory, ranges=True):
        self.directory = directory
        self.ranges = ranges                # False: a server that ignores Range (always 200)
        self.requests = []                  # (path, Range header or None)
        self.cut = {}                       # file name -> bytes sent before the connection closes (once)
        self.stall = set()                  # file names whose body never comes (until stop; once)
        self.stopping = threading.Event()
        self.no_length = set()              # file names sent without Content-Length
        self.httpd = None

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return "http://127.0.0.1:{}".format(self.httpd.server_address[1])

    def stop(self):
        self.stopping.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
