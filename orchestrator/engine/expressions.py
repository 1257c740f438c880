"""Designer expressions: an allow-listed evaluator, never ``eval``.

Conditions, assignee and due-date expressions and computed timers are small Python-like
expressions. They are parsed with :mod:`ast` and interpreted node by node: only the node
types below, no attribute access at all (so no ``__class__`` escape), no imports, and calls
only to the named functions in ``SAFE_FUNCTIONS``. A name that the case data does not hold
evaluates to ``None`` — so ``rebooked != True`` works before anyone has set ``rebooked`` —
while deploy-time validation rejects names that no form of the process can set.
"""
from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")
MAX_SEQUENCE = 10_000  # longest string/list an expression may build

JUEL = re.compile(r"[$#]\{\s*(.*?)\s*\}", re.S)
_SIMPLE_JUEL = re.compile(r"^\s*\$\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\s*$")
ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
ISO_RECURRING = re.compile(r"^R\d*/.+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


class ExpressionError(ValueError):
    """An expression uses something outside the allow-list or cannot be evaluated."""


def to_datetime(value: object) -> datetime:
    """Accept a datetime, a date or an ISO string; a naive time is Finnish local time."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ExpressionError(f"{value!r} is not an ISO date or date-time") from None
    else:
        raise ExpressionError(f"{value!r} is not a date")
    if result.tzinfo is None:
        result = result.replace(tzinfo=HELSINKI)
    return result


def _add_days(value: object, days: object) -> str:
    if not isinstance(days, int | float) or isinstance(days, bool):
        raise ExpressionError("add_days(date, n): n must be a number")
    return (to_datetime(value) + timedelta(days=days)).astimezone(UTC).isoformat()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _round(value: object, ndigits: object = 0) -> object:
    # round(1, -10**9) would compute 10**(10**9): keep the precision to a sane range
    if not isinstance(ndigits, int) or isinstance(ndigits, bool) or not -20 <= ndigits <= 20:
        raise ExpressionError("round(x, n): n must be a whole number from -20 to 20")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ExpressionError("round() takes a number")
    return round(value, ndigits)


def _checked_len(value: object) -> int:
    if not isinstance(value, str | list | tuple | dict):
        raise ExpressionError("len() takes a text or a list")
    return len(value)


SAFE_FUNCTIONS: dict[str, Callable[..., object]] = {
    "add_days": _add_days,
    "now": _now,
    "len": _checked_len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": _round,
}
MAX_SOURCE = 2_000  # characters in one expression
CONSTANTS = {"True": True, "False": False, "None": None, "true": True, "false": False, "null": None}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not}
_UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, data: Mapping[str, object]) -> object:
        try:
            return _Interpreter(data).visit(self.tree.body)
        except ExpressionError:
            raise
        except RecursionError:
            raise ExpressionError(f"cannot evaluate {self.source!r}: too deeply nested") from None
        except (TypeError, ValueError, ZeroDivisionError, KeyError, IndexError, OverflowError) as exc:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {exc}") from None


def juel_hint(source: str) -> str | None:
    """If ``source`` is Camunda JUEL, say what to write instead."""
    m = JUEL.search(source)
    if not m:
        return None
    inner = m.group(1) or "…"
    if re.fullmatch(r"[A-Za-z_]\w*", inner):
        inner = f"{inner} == True"
    inner = inner.replace("&&", " and ").replace("||", " or ").replace("!", "not ").replace("not =", "!=")
    return f"`{source.strip()}` is a JUEL expression; write `{' '.join(inner.split())}`"


def simple_reference(source: str) -> str | None:
    """``${client_lead}`` → ``client_lead``: the one JUEL form accepted (assignee, due date)."""
    m = _SIMPLE_JUEL.match(source)
    return m.group(1) if m else None


def is_iso_timer_literal(text: str) -> bool:
    t = text.strip()
    return bool(ISO_DURATION.match(t) or ISO_RECURRING.match(t) or ISO_DATE.match(t))


def compile_expression(source: str) -> Expression:
    """Parse and check ``source``; raise ``ExpressionError`` with the reason."""
    if not source or not source.strip():
        raise ExpressionError("the expression is empty")
    hint = juel_hint(source)
    if hint:
        raise ExpressionError(hint)
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"the expression is {len(source)} characters long; the limit is {MAX_SOURCE}")
    try:
        tree = ast.parse(source.strip(), mode="eval")
        names: set[str] = set()
        _check(tree.body, names)
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in {source.strip()!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is too deeply nested") from None
    return Expression(source.strip(), tree, frozenset(names))


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            raise ExpressionError(f"constant {node.value!r} is not allowed")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(f"name {node.id!r} is not allowed (names may not start with '_')")
        if node.id in SAFE_FUNCTIONS:
            raise ExpressionError(f"{node.id} is a function; call it as {node.id}(…)")
        if node.id not in CONSTANTS:
            names.add(node.id)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(
                f"calling {called!r} is not allowed; allowed functions: {', '.join(sorted(SAFE_FUNCTIONS))}")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed")
        for arg in node.args:
            _check(arg, names)
        return
    if isinstance(node, ast.Attribute):
        raise ExpressionError(f"attribute access ({ast.unparse(node)}) is not allowed")
    if isinstance(node, ast.BoolOp | ast.Compare | ast.IfExp | ast.List | ast.Tuple):
        pass
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Slice):
            raise ExpressionError("slices are not allowed")
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.operator | ast.cmpop | ast.boolop | ast.unaryop | ast.expr_context):
            continue
        _check(child, names)


class _Interpreter:
    def __init__(self, data: Mapping[str, object]):
        self.data = data

    def visit(self, node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            return self.data.get(node.id)
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: object = True
                for value in node.values:
                    result = self.visit(value)
                    if not result:
                        return result
                return result
            result = False
            for value in node.values:
                result = self.visit(value)
                if result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.visit(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if isinstance(node.op, ast.Mod) and not (isinstance(left, int | float) and isinstance(right, int | float)):
                raise ExpressionError("% works on numbers only (text formatting is not allowed)")
            if isinstance(node.op, ast.Mult) and (isinstance(left, str | list | tuple)
                                                  or isinstance(right, str | list | tuple)):
                count = right if isinstance(left, str | list | tuple) else left
                seq = left if isinstance(left, str | list | tuple) else right
                if isinstance(count, int) and len(seq) * max(count, 0) > MAX_SEQUENCE:
                    raise ExpressionError("the result would be too long")
            result = _BINOPS[type(node.op)](left, right)
            if isinstance(result, str | list | tuple) and len(result) > MAX_SEQUENCE:
                raise ExpressionError("the result would be too long")
            return result
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comparator)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)
        if isinstance(node, ast.List):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.visit(e) for e in node.elts)
        if isinstance(node, ast.Subscript):
            container = self.visit(node.value)
            if not isinstance(container, str | list | tuple | dict):
                raise ExpressionError("only texts, lists and records can be indexed")
            return container[self.visit(node.slice)]
        if isinstance(node, ast.Call):
            func = SAFE_FUNCTIONS[node.func.id]  # type: ignore[union-attr]
            return func(*[self.visit(a) for a in node.args])
        raise ExpressionError(f"{type(node).__name__} is not allowed")  # unreachable after _check
