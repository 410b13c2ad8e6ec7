"""``berth policy check`` (local validation and lint) and ``berth policy simulate`` (the server).

``check`` runs the same parser as the server (``berth.iam.parse_policy``) and points at the line and
column of the problem. ``simulate`` asks the server's IAM API (SimulatePrincipalPolicy, or
SimulateCustomPolicy with ``--policy-file``) and says which statement decided.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from berth.cli.aws import EXIT_USAGE, aws_errors, fail, options_of
from berth.cli.jsonpos import show_line
from berth.cli.output import emit
from berth.cli.policy_lint import Finding, lint, locate_error, statement_position
from berth.errors import MalformedPolicyDocumentError
from berth.iam import AuthorizationRequest, NamedPolicy, PolicyKind, evaluate, parse_policy
from berth.types import Principal, PrincipalKind

__all__ = ["app", "check", "simulate"]

app = typer.Typer(help="Check policy documents and simulate decisions.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)

_KINDS = {kind.value: kind for kind in PolicyKind}
_CONTEXT_TYPES = {
    "aws:sourceip": "ip",
    "aws:securetransport": "boolean",
    "aws:multifactorauthpresent": "boolean",
    "aws:currenttime": "date",
    "aws:epochtime": "numeric",
}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}", EXIT_USAGE)


def _print_finding(path: Path, text: str, finding: Finding) -> None:
    colour = "red" if finding.severity == "error" else "yellow"
    where = f"{path}:{finding.position.line}:{finding.position.column}"
    out.print(f"{where}: [{colour}]{finding.severity}[/{colour}]: ", end="")
    out.print(finding.message, markup=False)
    out.print(show_line(text, finding.position), markup=False)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The policy document (JSON).")],
    kind: Annotated[
        str, typer.Option(help="identity, resource (a repository policy) or trust.")
    ] = "identity",
    strict: Annotated[bool, typer.Option(help="Warnings fail the check too.")] = False,
) -> None:
    """Validate and lint a policy document; exit 0 when valid, 1 when not."""
    policy_kind = _KINDS.get(kind.lower())
    if policy_kind is None:
        fail(f"--kind must be one of {', '.join(_KINDS)}, not {kind!r}", EXIT_USAGE)
    text = _read(file)
    try:
        policy = parse_policy(text, policy_kind)
    except MalformedPolicyDocumentError as error:
        _print_finding(file, text, locate_error(text, error))
        out.print(f"{file}: invalid {policy_kind.value} policy", markup=False)
        raise typer.Exit(1) from None
    warnings = lint(text, policy)
    for warning in warnings:
        _print_finding(file, text, warning)
    count = len(policy.statements)
    noun = "statement" if count == 1 else "statements"
    out.print(
        f"{file}: valid {policy_kind.value} policy ({count} {noun}, {len(warnings)} warnings)",
        markup=False,
    )
    if strict and warnings:
        raise typer.Exit(1)


def _checked(path: Path, kind: PolicyKind) -> str:
    """The file's text; an invalid policy stops here, pointed at, before the server is asked."""
    text = _read(path)
    try:
        parse_policy(text, kind)
    except MalformedPolicyDocumentError as error:
        _print_finding(path, text, locate_error(text, error))
        raise typer.Exit(EXIT_USAGE) from None
    return text


def _context_entries(pairs: list[str]) -> list[dict[str, Any]]:
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            fail(f"--context takes KEY=VALUE, not {pair!r}", EXIT_USAGE)
        values.setdefault(key, []).append(value)
    entries = []
    for key, found in values.items():
        kind = _CONTEXT_TYPES.get(key.lower(), "string")
        entries.append(
            {
                "ContextKeyName": key,
                "ContextKeyValues": found,
                "ContextKeyType": kind + ("List" if len(found) > 1 else ""),
            }
        )
    return entries


def _request(
    principal: str, actions: list[str], resources: list[str], context: list[str]
) -> dict[str, Any]:
    request: dict[str, Any] = {"ActionNames": actions, "ResourceArns": resources}
    if context:
        request["ContextEntries"] = _context_entries(context)
    return request


@app.command()
def simulate(
    ctx: typer.Context,
    *,
    principal: Annotated[str, typer.Option(help="The user, group or role ARN (the caller).")],
    action: Annotated[list[str], typer.Option(help="An action such as ecr:BatchGetImage.")],
    resource: Annotated[list[str] | None, typer.Option(help="A resource ARN.")] = None,
    context: Annotated[
        list[str] | None, typer.Option(help="A condition key and value, KEY=VALUE.")
    ] = None,
    policy_file: Annotated[
        list[Path] | None,
        typer.Option(help="Simulate these identity policies instead of the principal's own."),
    ] = None,
    resource_policy: Annotated[
        Path | None, typer.Option(help="A resource (repository) policy to include.")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Print the raw response as json, text or table.")
    ] = None,
) -> None:
    """Ask the server whether PRINCIPAL may do ACTION on RESOURCE; exit 0 allowed, 1 denied."""
    options = options_of(ctx).merged(output=output)
    request = _request(principal, action, resource or ["*"], context or [])
    texts = [_checked(path, PolicyKind.IDENTITY) for path in policy_file or []]
    if resource_policy is not None:
        request["ResourcePolicy"] = _checked(resource_policy, PolicyKind.RESOURCE)
    with aws_errors():
        output = options.output_format()
        client = options.client("iam")
        if texts:
            response = client.simulate_custom_policy(
                PolicyInputList=texts, CallerArn=principal, **request
            )
        else:
            response = client.simulate_principal_policy(PolicySourceArn=principal, **request)
    results = response.get("EvaluationResults", [])
    if options.output is not None:
        emit("SimulatePolicy", response, output, options.query)
    else:
        for result in results:
            _explain(result, principal, policy_file or [], texts, context or [])
    allowed = bool(results) and all(r.get("EvalDecision") == "allowed" for r in results)
    raise typer.Exit(0 if allowed else 1)


def _explain(
    result: dict[str, Any], principal: str, files: list[Path], texts: list[str], context: list[str]
) -> None:
    decision = str(result.get("EvalDecision"))
    verdict = (
        "[green]allowed[/green]" if decision == "allowed" else f"[red]denied[/red] ({decision})"
    )
    out.print(f"{result['EvalActionName']} on {result.get('EvalResourceName', '*')}: {verdict}")
    matched = result.get("MatchedStatements") or []
    if not matched:
        out.print("  no statement allows it (implicit deny)")
    for statement in matched:
        source = str(statement.get("SourcePolicyId", "?"))
        where = _local_statement(
            source, result=result, principal=principal, files=files, texts=texts, context=context
        )
        kind = statement.get("SourcePolicyType", "")
        out.print(f"  decided by {source} ({kind}){where}", markup=False)


def _local_statement(
    source: str,
    *,
    result: dict[str, Any],
    principal: str,
    files: list[Path],
    texts: list[str],
    context: list[str],
) -> str:
    """For a --policy-file, the deciding statement's Sid/index and line, found by the same engine."""
    prefix = "PolicyInputList."
    if not source.startswith(prefix) or not source[len(prefix) :].isdigit():
        return ""
    number = int(source[len(prefix) :])
    if not 0 < number <= len(texts):
        return ""
    text = texts[number - 1]
    policies = tuple(
        NamedPolicy(f"{prefix}{i}", parse_policy(t, PolicyKind.IDENTITY))
        for i, t in enumerate(texts, start=1)
    )
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    values: dict[str, str | list[str]] = {}
    for pair in context:
        key, _, value = pair.partition("=")
        values[key] = value
    request = AuthorizationRequest(
        principal=Principal(
            PrincipalKind.USER, account, principal, "AIDASIMULATED", principal.rsplit("/", 1)[-1]
        ),
        action=str(result["EvalActionName"]),
        resource=str(result.get("EvalResourceName", "*")),
        resource_account=account,
        context=values,
        identity_policies=policies,
    )
    deciding = evaluate(request).statement
    if deciding is None or deciding.policy_name != source:
        return f": {files[number - 1]}"
    position = statement_position(text, deciding.index)
    line = f":{position.line}:{position.column}" if position else ""
    return f": statement {deciding.statement} at {files[number - 1]}{line}"
