"""The account summary and the policy simulator."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result
from berth.iam.variables import ContextInput
from berth.services.iam_simulation import EvaluationResult, SimulationInput

__all__ = ["OPERATIONS"]

_LIST_TYPES = frozenset({"stringList", "numericList", "booleanList", "ipList", "binaryList"})
_LIST_TYPES |= {"dateList"}


async def get_account_summary(call: Call) -> Result:
    await call.authorize("iam:GetAccountSummary", "*")
    return {"SummaryMap": await call.identities.account_summary()}


def _context(entries: list[dict[str, Any]]) -> dict[str, ContextInput]:
    context: dict[str, ContextInput] = {}
    for entry in entries:
        values = [str(v) for v in entry.get("ContextKeyValues") or []]
        name = str(entry.get("ContextKeyName", ""))
        if entry.get("ContextKeyType") in _LIST_TYPES:
            context[name] = values
        elif values:
            context[name] = values[0]
    return context


def _input(call: Call) -> SimulationInput:
    params = call.params
    return SimulationInput(
        actions=list(params.get("ActionNames") or []),
        resources=list(params.get("ResourceArns") or ["*"]),
        policies=list(params.get("PolicyInputList") or []),
        boundaries=list(params.get("PermissionsBoundaryPolicyInputList") or []),
        resource_policy=params.get("ResourcePolicy"),
        resource_owner=params.get("ResourceOwner"),
        caller_arn=params.get("CallerArn"),
        context=_context(list(params.get("ContextEntries") or [])),
    )


def _results(call: Call, results: list[EvaluationResult]) -> Result:
    start = int(call.text("Marker", "0") or 0) if call.text("Marker").isdigit() else 0
    limit = call.number("MaxItems") or 100
    shown = results[start : start + limit]
    more = start + limit < len(results)
    return {
        "EvaluationResults": [_result_out(r) for r in shown],
        "IsTruncated": more,
        "Marker": str(start + limit) if more else None,
    }


def _result_out(result: EvaluationResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EvalActionName": result.action,
        "EvalResourceName": result.resource,
        "EvalDecision": result.decision,
        "MatchedStatements": [
            {"SourcePolicyId": m.source_policy_id, "SourcePolicyType": m.source_policy_type}
            for m in result.matched
        ],
        "MissingContextValues": [],
    }
    if result.allowed_by_boundary is not None:
        out["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": result.allowed_by_boundary
        }
    return out


async def simulate_principal_policy(call: Call) -> Result:
    source = call.text("PolicySourceArn")
    await call.authorize("iam:SimulatePrincipalPolicy", source)
    results = await call.identities.simulator.simulate_principal(source, _input(call))
    return _results(call, results)


async def simulate_custom_policy(call: Call) -> Result:
    await call.authorize("iam:SimulateCustomPolicy", "*")
    return _results(call, call.identities.simulator.simulate_custom(_input(call)))


OPERATIONS: dict[str, Handler] = {
    "GetAccountSummary": get_account_summary,
    "SimulatePrincipalPolicy": simulate_principal_policy,
    "SimulateCustomPolicy": simulate_custom_policy,
}
