"""The worker loop: fire due timers and deliver the outbox, until stopped."""
from __future__ import annotations

import logging
import threading

from .services.env import Env
from .services.outbox import Backend, backend_for, deliver_outbox
from .services.timers import fire_due_timers

log = logging.getLogger("polku.worker")


def run_once(env: Env, backend: Backend) -> tuple[int, int]:
    fired = fire_due_timers(env)
    sent, _failed = deliver_outbox(env, backend)
    return fired, sent


def run_forever(env: Env, interval: float = 1.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    backend = backend_for(env.settings)
    log.info("worker started (interval %.1fs)", interval)
    while not stop.is_set():
        try:
            fired, sent = run_once(env, backend)
            if fired or sent:
                log.info("fired %d timer(s), sent %d message(s)", fired, sent)
        except Exception:  # noqa: BLE001 - the loop must survive a bad round (e.g. DB restart)
            log.exception("worker round failed; retrying")
        stop.wait(interval)


def start_in_thread(env: Env, interval: float = 1.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(env, interval, stop), name="polku-worker", daemon=True).start()
    return stop
