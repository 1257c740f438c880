"""Request bodies and query strings, checked with marshmallow before any service runs."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate


class LoginSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class StartCaseSchema(Schema):
    class Meta:
        unknown = RAISE

    pathway = fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = fields.String(required=True, validate=validate.Length(min=1, max=40))
    client_ref = fields.String(validate=validate.Length(min=1, max=100))
    data = fields.Dict(keys=fields.String(), load_default=dict)


class CompleteTaskSchema(Schema):
    class Meta:
        unknown = RAISE

    data = fields.Dict(keys=fields.String(), load_default=dict)
    version_no = fields.Integer(validate=validate.Range(min=1))


class TaskQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    scope = fields.String(load_default="role", validate=validate.OneOf(["mine", "role", "unassigned"]))
    pathway = fields.String()
    step = fields.String()
    sort = fields.String(load_default="due", validate=validate.OneOf(["due", "created", "-created"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class DeploySchema(Schema):
    """JSON alternative to a multipart upload: ``{"files": {"name.bpmn": "<xml>", …}}``."""

    class Meta:
        unknown = RAISE

    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ConsentSchema(Schema):
    class Meta:
        unknown = RAISE

    organisations = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    given_by = fields.String(load_default="asiakas", validate=validate.Length(max=200))
    valid_until = fields.Date()


class ClientLeadSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    reason = fields.String(load_default="", validate=validate.Length(max=300))


class MeasureQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    region = fields.String()
    pathway = fields.String()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")


class MessageSchema(Schema):
    """``POST /api/messages``: the data is checked by the message service (the CLI shares it)."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    case_id = fields.Integer(validate=validate.Range(min=1))
    client_ref = fields.String(validate=validate.Length(min=1, max=100))
    pathway = fields.String(validate=validate.Length(min=1, max=100))
    data = fields.Raw(load_default=dict)
