"""A static HTTP server on 127.0.0.1 for repositories, as any mirror serves them,
recording every requested path so tests and benchmarks can count fetches, and able to
hold requests for chosen files (a download in progress, to interrupt)."""
import functools
import http.server
import threading


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        for suffix, release in list(self.server.holds.items()):
            if self.path.endswith(suffix):
                release.wait(120)
        return http.server.SimpleHTTPRequestHandler.do_GET(self)


class RepoServer(object):
    def __init__(self, directory):
        self.directory = directory
        self.httpd = None
        self.requests = []
        self.holds = {}                              # path suffix -> threading.Event

    def start(self, port=0):
        handler = functools.partial(_Handler, directory=self.directory)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = self.requests
        self.httpd.holds = self.holds
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def hold(self, suffix):
        """Requests for paths ending in `suffix` wait (at most two minutes) until
        release(suffix); the request is recorded before it waits."""
        self.holds[suffix] = threading.Event()

    def release(self, suffix):
        event = self.holds.pop(suffix, None)
        if event is not None:
            event.set()

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:{}".format(self.port)

    def stop(self):
        for suffix in list(self.holds):
            self.release(suffix)
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
