"""SQLAlchemy 2 models. The inbox and dashboards read only ``tasks``/``cases``/``events``;
nothing here ever needs a workflow deserialized to answer a list query."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Always UTC and always timezone-aware, on SQLite (which keeps naive text) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


UTC = UTCDateTime()


class Region(Base):
    __tablename__ = "regions"
    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str] = mapped_column(sa.String(5), default="fi")
    organisation: Mapped[str | None] = mapped_column(sa.String(40))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTC)
    created_at: Mapped[datetime] = mapped_column(UTC)
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    regions: Mapped[list[UserRegion]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_keys(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def region_keys(self) -> set[str]:
        return {r.region_key for r in self.regions}


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class UserRegion(Base):
    __tablename__ = "user_regions"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    region_key: Mapped[str] = mapped_column(sa.ForeignKey("regions.key"), primary_key=True, index=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC)
    revoked: Mapped[bool] = mapped_column(default=False)


class ProcessVersion(Base):
    """One deployed version of one process; the spec lives here once, not in every case."""

    __tablename__ = "process_versions"
    __table_args__ = (sa.UniqueConstraint("process_id", "version"),
                      sa.UniqueConstraint("process_id", "content_hash"))
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(100), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    filename: Mapped[str] = mapped_column(sa.String(300))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    bpmn: Mapped[str] = mapped_column(sa.Text)
    forms_json: Mapped[str] = mapped_column(sa.Text)
    deployed_by: Mapped[str] = mapped_column(sa.String(80))
    deployed_at: Mapped[datetime] = mapped_column(UTC)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (sa.Index("ix_cases_pathway_status", "pathway", "status"),
                      # covering the measures' filters (bench/dashboard.py)
                      sa.Index("ix_cases_pathway_started", "pathway", "started_at", "region", "outcome"),
                      sa.Index("ix_cases_pathway_ended", "pathway", "ended_at", "region", "status", "outcome"))
    id: Mapped[int] = mapped_column(primary_key=True)
    pathway: Mapped[str] = mapped_column(sa.String(100))
    process_version_id: Mapped[int] = mapped_column(sa.ForeignKey("process_versions.id"))
    region: Mapped[str] = mapped_column(sa.ForeignKey("regions.key"), index=True)
    client_ref: Mapped[str] = mapped_column(sa.String(100), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="active")  # active | completed
    current_steps: Mapped[list] = mapped_column(sa.JSON, default=list)
    has_incident: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(sa.String(100))
    started_by: Mapped[str] = mapped_column(sa.String(80))
    started_at: Mapped[datetime] = mapped_column(UTC)
    updated_at: Mapped[datetime] = mapped_column(UTC)
    ended_at: Mapped[datetime | None] = mapped_column(UTC)
    library_version: Mapped[str] = mapped_column(sa.String(40))
    serializer_version: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.Text)
    # listable business fields of the case (polku.listable), for measures such as caseloads
    tags: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # what the measures need of the case's history, kept on write (services/measure_counts.py):
    # {"reached": {element_id: first completion ISO time}, "observed": {key: [first, latest, count]}}
    facts: Mapped[dict] = mapped_column(sa.JSON, default=dict, server_default="{}")
    version_no: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version_no}


class Task(Base):
    """The task index: one row per human task, open or closed."""

    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_inbox_role", "status", "region", "role"),
        sa.Index("ix_tasks_inbox_assignee", "status", "assignee"),
        sa.Index("ix_tasks_step", "pathway", "status", "element_id"),
        sa.Index("ix_tasks_case", "case_id", "status"),
        sa.Index("ix_tasks_engine", "case_id", "engine_task_id"),
        # a step's open tasks, longest waiting first (the manager's step list)
        sa.Index("ix_tasks_overview", "pathway", "status", "element_id", "created_at", "region", "due_at"),
        # open tasks falling due today (the rest of "overdue" is counted on write)
        sa.Index("ix_tasks_due", "status", "due_at"),
    )
    # Polku's own id: a loop rewound by the engine may reuse an engine task id (see runtime).
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    engine_task_id: Mapped[str] = mapped_column(sa.String(36))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    pathway: Mapped[str] = mapped_column(sa.String(100))
    element_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(300))
    role: Mapped[str | None] = mapped_column(sa.String(40))
    region: Mapped[str] = mapped_column(sa.String(40))
    client_ref: Mapped[str] = mapped_column(sa.String(100))
    assignee: Mapped[str | None] = mapped_column(sa.String(80))
    candidate_groups: Mapped[list] = mapped_column(sa.JSON, default=list)
    candidate_users: Mapped[list] = mapped_column(sa.JSON, default=list)
    form_id: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")  # open | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UTC)
    due_at: Mapped[datetime | None] = mapped_column(UTC)
    follow_up_at: Mapped[datetime | None] = mapped_column(UTC)
    claimed_at: Mapped[datetime | None] = mapped_column(UTC)
    completed_at: Mapped[datetime | None] = mapped_column(UTC)
    completed_by: Mapped[str | None] = mapped_column(sa.String(80))
    # the person who delegated the task to the assignee, and may take it back
    delegated_by: Mapped[str | None] = mapped_column(sa.String(80))
    # business fields the process marks listable (polku.listable), copied for inbox filters
    listed: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    draft: Mapped[dict | None] = mapped_column(sa.JSON)
    draft_by: Mapped[str | None] = mapped_column(sa.String(80))
    draft_at: Mapped[datetime | None] = mapped_column(UTC)


class SavedFilter(Base):
    """An inbox filter kept on the server, private or shared with everyone holding a role."""

    __tablename__ = "saved_filters"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    owner: Mapped[str] = mapped_column(sa.String(80), index=True)
    shared_role: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    query: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTC)


class Event(Base):
    """Append-only audit trail: who did what to which case, when."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTC, index=True)
    actor: Mapped[str] = mapped_column(sa.String(80))
    kind: Mapped[str] = mapped_column(sa.String(40))
    element_id: Mapped[str | None] = mapped_column(sa.String(100))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class AccessLog(Base):
    """Who read which client's data, when and why (Client Data Act 703/2023)."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC)
    username: Mapped[str] = mapped_column(sa.String(80))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    client_ref: Mapped[str] = mapped_column(sa.String(100), index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.String(300), default="")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(20))  # email | letter | sms | internal
    recipient: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    shares_client_data: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending|sending|sent|failed|cancelled
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTC)
    lease_until: Mapped[datetime | None] = mapped_column(UTC)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTC)
    sent_at: Mapped[datetime | None] = mapped_column(UTC)


class TimerRow(Base):
    """A copy of each waiting timer's deadline, so the worker never scans workflows."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    element_id: Mapped[str] = mapped_column(sa.String(100))
    due_at: Mapped[datetime] = mapped_column(UTC, index=True)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    element_id: Mapped[str | None] = mapped_column(sa.String(100))
    topic: Mapped[str | None] = mapped_column(sa.String(100))
    message: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTC)
    resolved_at: Mapped[datetime | None] = mapped_column(UTC)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(80))


class Document(Base):
    """Versioned JSON records on a case (health-check summary, joint plan, consent, …)."""

    __tablename__ = "documents"
    __table_args__ = (sa.UniqueConstraint("case_id", "kind", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTC)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    element_id: Mapped[str | None] = mapped_column(sa.String(100))


class Consent(Base):
    """A client's consent to multi-agency work (Kela Y100 or equivalent), per client."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_ref: Mapped[str] = mapped_column(sa.String(100), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="SET NULL"))
    organisations: Mapped[list] = mapped_column(sa.JSON)
    given_by: Mapped[str] = mapped_column(sa.String(200))
    given_at: Mapped[datetime] = mapped_column(UTC)
    valid_until: Mapped[datetime | None] = mapped_column(UTC)
    recorded_by: Mapped[str] = mapped_column(sa.String(80))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTC)
    withdrawn_by: Mapped[str | None] = mapped_column(sa.String(80))


class CaseLink(Base):
    """One case handed the client over to another (one contact, no bouncing)."""

    __tablename__ = "case_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    from_case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    to_case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="handover")
    created_at: Mapped[datetime] = mapped_column(UTC)


class Observation(Base):
    """A measured value recorded at a step (polku.measures, e.g. workability_score 0-10)."""

    __tablename__ = "observations"
    __table_args__ = (sa.Index("ix_observations_measure", "pathway", "key", "case_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    pathway: Mapped[str] = mapped_column(sa.String(100))
    region: Mapped[str] = mapped_column(sa.String(40))
    key: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[float]
    at: Mapped[datetime] = mapped_column(UTC)


class MeasureCount(Base):
    """Counts kept up to date on every write, so a measure sums a few hundred rows instead
    of scanning cases and tasks (services/measure_counts.py says what each metric counts).

    ``month`` is the Helsinki calendar month the count belongs to ('' for counts of now, such
    as caseloads); ``bucket`` is a whole number of days, or a score in tenths.
    """

    __tablename__ = "measure_counts"
    metric: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    pathway: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    # key order: a measure asks for one metric, usually of one pathway and step (label)
    label: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]
