"""``run.py serve`` on a new database, as ``make run`` starts it: migrated, processes
deployed, demo users printed and able to sign in, worker running."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar

from .conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("serve did not answer within the limit")


def test_serve_on_a_new_database_has_demo_users_and_the_health_check(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}",
           "POLKU_SECRET_KEY": "x", "POLKU_OUTBOX_LOG_PATH": str(tmp_path / "outbox.log")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base + "/healthz", proc)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

        def call(path: str, body: dict | None = None) -> dict:
            req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
            with opener.open(req, timeout=10) as r:
                return json.loads(r.read())

        assert call("/api/login", {"username": "designer", "password": "polku-demo"})["roles"] == ["designer"]
        processes = call("/api/processes")
        assert "unemployed_health_check" in [p["process_id"] for p in processes]
        call("/api/logout", {})
        call("/api/login", {"username": "manager", "password": "polku-demo"})
        stats = call("/api/stats/unemployed_health_check")
        assert stats["cases"]["active"] + stats["cases"]["completed"] > 0  # a living system, not empty
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "Demo users (password 'polku-demo')" in output
    assert "deployed: unemployed_health_check version 1" in output
    assert "(and <user>-<region> in each region)" in output
    assert "unemployed_health_check" in output.split("demo cases", 1)[1]
