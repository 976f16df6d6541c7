import os, signal, socket, sys, threading, time

ppid = os.getppid()
threads = int(sys.argv[1])

def die():
    try:
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        time.sleep(3)
        os._exit(0)

def watch_stdin():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    die()

def watch_parent():
    while os.getppid() == ppid:
        time.sleep(0.5)
    die()

threading.Thread(target=watch_stdin, daemon=True).start()
threading.Thread(target=watch_parent, daemon=True).start()

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.set_inheritable(True)
port = sock.getsockname()[1]

import httpbin
from gunicorn.app.base import BaseApplication

class Server(BaseApplication):
    def load_config(self):
        options = {
            "bind": "fd://%d" % sock.fileno(),
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "keepalive": 5,
            "timeout": 120,
            "graceful_timeout": 2,
            "loglevel": "warning",
            "accesslog": None,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        return httpbin.app

print("PORT %d" % port, flush=True)
Server().run()
