"""One exception family for everything Polku reports to a user.

The web layer maps ``PolkuError`` (and so every subclass) to a JSON ``{error, details}``
response with the subclass's HTTP status; the CLI prints ``str(error)`` and exits 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployment, a form submission or a request."""

    message: str
    file: str | None = None
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    field: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.element_id:
            where.append(self.element_id + (f" ({self.element_name!r})" if self.element_name else ""))
        if self.field:
            where.append(f"field {self.field!r}")
        text = (" ".join(where) + ": " if where else "") + self.message
        if self.fix:
            text += f" — {self.fix}"
        return text

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class PolkuError(Exception):
    """Base of every error Polku reports to a user."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {p}" for p in self.problems)

    def details(self) -> list[dict]:
        return [p.as_dict() for p in self.problems]


class DeploymentError(PolkuError):
    """A BPMN or form file cannot be deployed; ``problems`` lists every reason."""

    status = 422
    code = "invalid_deployment"


class FormValidationError(PolkuError):
    """Submitted form data does not satisfy the step's form; one problem per field."""

    status = 422
    code = "invalid_form_data"


class StepRefusedError(PolkuError):
    """A handler refused the step a person asked for (e.g. consent does not cover a member)."""

    status = 422
    code = "step_refused"


class RequestError(PolkuError):
    status = 400
    code = "bad_request"


class NotFoundError(PolkuError):
    status = 404
    code = "not_found"


class AuthenticationError(PolkuError):
    status = 401
    code = "not_authenticated"


class PermissionDeniedError(PolkuError):
    status = 403
    code = "forbidden"


class ConflictError(PolkuError):
    """The thing changed under the caller (stale version, task already done/claimed)."""

    status = 409
    code = "conflict"


class StateVersionError(PolkuError):
    """A case's state was written by another SpiffWorkflow version than the one running: it is
    refused, because another version can read it as an empty case without an error."""

    status = 409
    code = "case_state_version"

    def __init__(self, written_with: str, running: str, case_id: int | None = None):
        what = f"case {case_id}" if case_id is not None else "this case state"
        super().__init__(
            f"{what} was saved with {written_with}, but this Polku runs {running}: it is not loaded, because "
            f"another SpiffWorkflow version can read a case as if it were empty. Run Polku with {written_with} "
            f"for this case, or migrate the case's state to {running} first")
        self.written_with, self.running, self.case_id = written_with, running, case_id


class ExecutionError(PolkuError):
    """The engine could not run a step (e.g. a gateway with no matching condition): the data
    given leads nowhere, so the request is refused and nothing is saved."""

    status = 422
    code = "execution_error"

    def __init__(self, message: str, task_trace: list[str] | None = None, problems: list[Problem] | None = None):
        super().__init__(message, problems)
        self.task_trace = list(task_trace or [])
