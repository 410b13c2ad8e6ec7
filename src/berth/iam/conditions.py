"""Condition operators, compiled once per policy and evaluated against a request's context.

Within a block, operators are AND'ed, keys under an operator are AND'ed and the values of one key
are OR'ed. A negated operator (``StringNotEquals``...) is true when no value matches, and so true
when the key is missing. ``...IfExists`` is true when the key is missing. ``ForAllValues:`` is
true when the request's set is empty or missing; ``ForAnyValue:`` is false then.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from berth.iam.malformed import malformed
from berth.iam.patterns import Pattern, compile_arn_pattern, compile_pattern
from berth.iam.variables import RequestContext

__all__ = ["Condition", "compile_conditions", "conditions_hold"]

Test = Callable[[str, RequestContext], bool]
Builder = Callable[[Sequence[str], bool], Test]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FOR_ALL = "forallvalues"
FOR_ANY = "foranyvalue"
_EPOCH_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class Condition:
    """One key under one operator: ``{"StringEquals": {"aws:username": ["a", "b"]}}``."""

    operator: str
    key: str
    values: tuple[str, ...]
    qualifier: str = ""
    if_exists: bool = False
    negated: bool = False
    null: bool = False
    test: Test = field(default=lambda value, context: False, compare=False, repr=False)

    def holds(self, context: RequestContext) -> bool:
        value = context.get(self.key)
        if self.null:
            absent = value is None or value == ()
            return any((wanted == "true") == absent for wanted in self.values)
        if value is None or value == ():
            return self._missing()
        values = (value,) if isinstance(value, str) else value
        if self.qualifier == FOR_ALL:
            return all(self.test(item, context) != self.negated for item in values)
        if self.qualifier == FOR_ANY:
            return any(self.test(item, context) != self.negated for item in values)
        return any(self.test(item, context) for item in values) != self.negated

    def _missing(self) -> bool:
        if self.qualifier == FOR_ALL or self.if_exists:
            return True
        if self.qualifier == FOR_ANY:
            return False
        return self.negated


def conditions_hold(conditions: tuple[Condition, ...], context: RequestContext) -> bool:
    return all(condition.holds(context) for condition in conditions)


# -- builders: each returns "does this request value match any of the policy's values" ----------


def _string_equals(values: Sequence[str], variables: bool) -> Test:
    if not variables or not any("${" in value for value in values):
        accepted = frozenset(values)
        return lambda value, context: value in accepted
    return _any_pattern([_exact(value, False) for value in values])


def _string_equals_ignore_case(values: Sequence[str], variables: bool) -> Test:
    if not variables or not any("${" in value for value in values):
        accepted = frozenset(value.casefold() for value in values)
        return lambda value, context: value.casefold() in accepted
    return _any_pattern([_exact(value, True) for value in values])


def _exact(value: str, fold: bool) -> Pattern:
    return compile_pattern(value, wildcards=False, ignore_case=fold, variables=True)


def _string_like(values: Sequence[str], variables: bool) -> Test:
    return _any_pattern(
        [compile_pattern(v, wildcards=True, ignore_case=False, variables=variables) for v in values]
    )


def _arn_like(values: Sequence[str], variables: bool) -> Test:
    return _any_pattern([compile_arn_pattern(value, variables=variables) for value in values])


def _any_pattern(patterns: list[Pattern]) -> Test:
    return lambda value, context: any(pattern.matches(value, context) for pattern in patterns)


def _numeric(compare: Callable[[float, float], bool]) -> Builder:
    def build(values: Sequence[str], variables: bool) -> Test:
        numbers = [n for n in (_number(value) for value in values) if n is not None]
        return lambda value, context: _compare_all(_number(value), numbers, compare)

    return build


def _date(compare: Callable[[float, float], bool]) -> Builder:
    def build(values: Sequence[str], variables: bool) -> Test:
        dates = [d for d in (_timestamp(value) for value in values) if d is not None]
        return lambda value, context: _compare_all(_timestamp(value), dates, compare)

    return build


def _compare_all(
    actual: float | None, wanted: list[float], compare: Callable[[float, float], bool]
) -> bool:
    return actual is not None and any(compare(actual, item) for item in wanted)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _timestamp(text: str) -> float | None:
    """ISO 8601 (a missing zone is UTC) or epoch seconds."""
    if _EPOCH_RE.match(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _bool(values: Sequence[str], variables: bool) -> Test:
    accepted = frozenset(value.lower() for value in values)
    return lambda value, context: value.lower() in accepted


def _binary(values: Sequence[str], variables: bool) -> Test:
    accepted = frozenset(b for b in (_base64(value) for value in values) if b is not None)
    return lambda value, context: _base64(value) in accepted


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ip_address(values: Sequence[str], variables: bool) -> Test:
    networks = [n for n in (_network(value) for value in values) if n is not None]
    return lambda value, context: _in_networks(value, networks)


def _network(text: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _in_networks(text: str, networks: list[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)


_FAMILIES: dict[str, tuple[Builder, bool]] = {
    "stringequals": (_string_equals, False),
    "stringnotequals": (_string_equals, True),
    "stringequalsignorecase": (_string_equals_ignore_case, False),
    "stringnotequalsignorecase": (_string_equals_ignore_case, True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "numericequals": (_numeric(operator.eq), False),
    "numericnotequals": (_numeric(operator.eq), True),
    "numericlessthan": (_numeric(operator.lt), False),
    "numericlessthanequals": (_numeric(operator.le), False),
    "numericgreaterthan": (_numeric(operator.gt), False),
    "numericgreaterthanequals": (_numeric(operator.ge), False),
    "dateequals": (_date(operator.eq), False),
    "datenotequals": (_date(operator.eq), True),
    "datelessthan": (_date(operator.lt), False),
    "datelessthanequals": (_date(operator.le), False),
    "dategreaterthan": (_date(operator.gt), False),
    "dategreaterthanequals": (_date(operator.ge), False),
    "bool": (_bool, False),
    "binaryequals": (_binary, False),
    "ipaddress": (_ip_address, False),
    "notipaddress": (_ip_address, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}


# -- parsing ------------------------------------------------------------------------------------


def compile_conditions(block: object, variables: bool) -> tuple[Condition, ...]:
    """Compile a statement's ``Condition`` element; an unknown operator is malformed."""
    if not isinstance(block, Mapping):
        raise malformed("Syntax errors in policy.", "Condition must be an object")
    conditions: list[Condition] = []
    for name, keys in block.items():
        if not isinstance(keys, Mapping):
            raise malformed("Syntax errors in policy.", f"condition {name!r} must be an object")
        conditions.extend(_compile_operator(name, keys, variables))
    return tuple(conditions)


def _compile_operator(name: str, keys: Mapping[str, object], variables: bool) -> list[Condition]:
    qualifier, base, if_exists = _split_operator(name)
    if base == "null":
        return [_null_condition(name, key, _values(name, key, raw)) for key, raw in keys.items()]
    builder, negated = _FAMILIES[base]
    compiled = []
    for key, raw in keys.items():
        values = _values(name, _checked_key(key), raw)
        test = builder(values, variables)
        compiled.append(
            Condition(name, key.lower(), values, qualifier, if_exists, negated, False, test)
        )
    return compiled


def _null_condition(name: str, key: str, values: tuple[str, ...]) -> Condition:
    return Condition(name, _checked_key(key).lower(), tuple(v.lower() for v in values), null=True)


def _split_operator(name: str) -> tuple[str, str, bool]:
    pieces = name.split(":")
    if len(pieces) > 2:
        raise malformed("Actions/Condition can contain only one colon.", f"operator {name!r}")
    qualifier = pieces[0].lower() if len(pieces) == 2 else ""
    base = pieces[-1].lower()
    if_exists = base.endswith("ifexists") and base != "ifexists"
    if if_exists:
        base = base[: -len("ifexists")]
    known = base in _FAMILIES or (base == "null" and not if_exists)
    if qualifier not in ("", FOR_ALL, FOR_ANY) or not known:
        raise malformed(f"Invalid Condition type : {name}.", f"unknown operator {name!r}")
    return qualifier, base, if_exists


def _checked_key(key: str) -> str:
    vendor, colon, _ = key.split("/", 1)[0].partition(":")
    if not colon or not vendor:
        raise malformed(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            f"condition key {key!r}",
        )
    if ":" in key.split("/", 1)[0].split(":", 1)[1]:
        raise malformed("Actions/Condition can contain only one colon.", f"key {key!r}")
    return key


def _values(name: str, key: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    values = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            raise malformed(
                "Syntax errors in policy.",
                f"values of {name} {key!r} must be strings, numbers or booleans",
            )
    return tuple(values)
