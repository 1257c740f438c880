"""Deploy-time rules for timers, and how a timer text is read.

* where a timer may sit: a top-level timer start event is refused (a Polku case is opened by a
  person for a client), a cycle only on a non-interrupting boundary or event-subprocess start;
* a cycle must be an ISO-8601 repeating interval; a Camunda 7 cron expression is refused with
  the ISO-8601 form to write instead;
* a naive date-time in a timer text is Finnish time (``localize_timer_text``).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .bpmn_xml import BPMN, local
from .expressions import HELSINKI, ISO_DATE, ISO_RECURRING

_CRON_FIELD = r"[0-9*?/,#LW\-]+|[A-Za-z]{3}(?:[-,][A-Za-z]{3})*"
_CRON = re.compile(rf"^\s*(?:{_CRON_FIELD})(?:\s+(?:{_CRON_FIELD})){{4,6}}\s*$")


def is_cron(text: str) -> bool:
    """``0 0 9 * * ?``, ``0 0/5 * * * ?``: a Quartz/Camunda 7 cron expression."""
    return bool(_CRON.match(text)) and any(ch in text for ch in "*?/")


def cron_to_iso(text: str, today: datetime | None = None) -> str | None:
    """The ISO-8601 cycle closest to a simple cron expression, or None if there is none.

    Every N minutes/hours → ``R/PT5M``; every day at hh:mm → ``R/<tomorrow>T09:00/P1D``; one
    weekday at hh:mm → weekly from the next such day. Anything else has no ISO-8601 form.
    """
    fields = text.split()
    if len(fields) == 5:  # unix cron has no seconds field
        fields = ["0", *fields]
    if len(fields) not in (6, 7):
        return None
    sec, minute, hour, dom, month, dow = fields[:6]
    if month not in ("*", "?") or (len(fields) == 7 and fields[6] not in ("*", "?")):
        return None
    every = re.fullmatch(r"(?:0|\*)/(\d+)", minute)
    if every and hour == "*" and dom in ("*", "?") and dow in ("*", "?"):
        return f"R/PT{int(every.group(1))}M"
    every = re.fullmatch(r"(?:0|\*)/(\d+)", hour)
    if every and minute.isdigit() and dom in ("*", "?") and dow in ("*", "?"):
        return f"R/PT{int(every.group(1))}H"
    if not (sec.isdigit() and minute.isdigit() and hour.isdigit()) or dom not in ("*", "?"):
        return None
    base = (today or datetime.now(UTC)).date() + timedelta(days=1)
    if dow in ("*", "?"):
        return f"R/{base.isoformat()}T{int(hour):02d}:{int(minute):02d}/P1D"
    days = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
    wanted = days.get(dow.upper()) if not dow.isdigit() else (int(dow) - 2) % 7  # Quartz: 1 = Sunday
    if wanted is None:
        return None
    first = base + timedelta(days=(wanted - base.weekday()) % 7)
    return f"R/{first.isoformat()}T{int(hour):02d}:{int(minute):02d}/P1W"


def cron_fix(text: str) -> str:
    iso = cron_to_iso(text)
    general = ("write an ISO-8601 repeating interval: R/PT5M (every 5 minutes), R3/PT12H (three times, "
               "12 hours apart), R/2026-12-02T09:00/P1D (every day at 09:00, Finnish time)")
    return f"write {iso} instead ({general})" if iso else general


def cycle_problem(text: str) -> str | None:
    """Why a literal timeCycle cannot run, or None when it can."""
    if not text.upper().startswith("R"):
        return f"the cycle {text!r} does not repeat: a cycle starts with R (R/{text} for ever, R3/{text} three times)"
    try:
        TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception:  # noqa: BLE001 - the library raises bare Exception/ValueError for bad text
        return f"the cycle {text!r} is not an ISO-8601 repeating interval"
    return None


def timer_placement_problem(ted: etree._Element, kind: str) -> tuple[str, str] | None:
    """(message, fix) when a timer sits where Polku cannot run it."""
    event = ted.getparent()
    tag = local(event.tag)
    scope = event.getparent()
    in_event_subprocess = scope is not None and scope.tag == f"{BPMN}subProcess" \
        and scope.get("triggeredByEvent") == "true"
    if tag == "startEvent" and not in_event_subprocess:
        if scope is not None and scope.tag == f"{BPMN}process":
            return ("a timer start event would open cases by itself, but a Polku case is opened by a person "
                    "for a client",
                    "use a plain start event (with the referral form); to wait first, follow it with an "
                    "intermediate timer event; for a recurring reminder use a non-interrupting timer "
                    "boundary event or an event subprocess with a timer start")
        return ("an embedded subprocess starts when the flow reaches it; a timer start event cannot start it",
                "use a plain start event in the subprocess and an intermediate timer event after it")
    interrupting = (tag == "boundaryEvent" and event.get("cancelActivity", "true") != "false") or (
        tag == "startEvent" and event.get("isInterrupting", "true") != "false")
    if interrupting and kind == "timeCycle":
        return ("an interrupting timer fires once: it stops what it interrupts, so a cycle has no second round",
                "write a duration (PT12H) or a date, or make the event non-interrupting to repeat it")
    if tag == "intermediateCatchEvent" and kind == "timeCycle":
        return ("an intermediate timer waits once; a cycle on it would only wait for its first repetition",
                "write a duration (P3D) or a date; for repeated reminders use a non-interrupting timer "
                "boundary event with a cycle")
    return None


def localize_timer_text(value: object) -> object:
    """Give a naive date-time in a timer text the Finnish offset of that day.

    Polku reads a date-time without an offset as Finnish time everywhere (forms, due dates,
    ``add_days``); SpiffWorkflow would read it in the server's zone. ``R/2026-12-02T09:00/P1D``
    becomes ``R/2026-12-02T09:00+02:00/P1D``. Anything else is returned unchanged.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if ISO_RECURRING.match(text):
        head, *parts = text.split("/")
        return "/".join([head, *(str(localize_timer_text(p)) for p in parts)])
    if ISO_DATE.match(text) and ("T" in text or " " in text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=HELSINKI).isoformat()
    return value
