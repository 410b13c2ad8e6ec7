"""Commands generated from a botocore service model, as the aws CLI generates its own.

Each operation becomes a kebab-case command (``DescribeRepositories`` -> ``describe-repositories``);
each input member a ``--kebab-case`` flag with the aws CLI's name. Booleans are ``--x/--no-x``;
lists take several values (``--image-ids imageTag=a imageTag=b``) or JSON; structures take JSON or
shorthand (``Key=Value,...``); any value may be ``file://PATH`` or ``fileb://PATH``;
``--cli-input-json`` supplies the whole input. Operations with a paginator page automatically.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from typing import Annotated, Any

import botocore.exceptions
import botocore.session
import typer
import typer.main
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape
from typer.core import TyperCommand, TyperGroup

from berth.cli.aws import EXIT_USAGE, AwsOptions, aws_errors, fail, options_of
from berth.cli.output import FORMATS, emit
from berth.cli.shorthand import ParamError, load_param, parse_value

__all__ = [
    "GLOBAL_PARAMS",
    "ModelGroup",
    "command_options",
    "gather_lists",
    "operation_command",
    "service_model",
]

_LIST_MARK = "\x00"
_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


@cache
def _session() -> botocore.session.Session:
    """Models only: loading them once per process keeps start-up short."""
    return botocore.session.get_session()


@cache
def service_model(service: str) -> ServiceModel:
    return _session().get_service_model(service)


@cache
def _paginators(service: str) -> Any:
    try:
        return _session().get_paginator_model(service)
    except botocore.exceptions.DataNotFoundError:
        return None


def _help(documentation: str, limit: int = 300) -> str:
    text = _SPACE_RE.sub(" ", _TAG_RE.sub("", documentation or "")).strip()
    first = text.split(". ")[0].rstrip(".")
    return (first[:limit] + "...") if len(first) > limit else (first + "." if first else "")


_GLOBAL = "Global options"


def _opt(decl: str, help_text: str, panel: str | None = None, **extra: Any) -> Any:
    return typer.Option(decl, help=help_text, rich_help_panel=panel, show_default=False, **extra)


def _param(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


def _global_params() -> list[inspect.Parameter]:
    text = Annotated[str | None, None]
    return [
        _param(
            "profile", Annotated[text, _opt("--profile", "A profile from your config.", _GLOBAL)]
        ),
        _param("region", Annotated[text, _opt("--region", "The region to use.", _GLOBAL)]),
        _param(
            "endpoint_url",
            Annotated[text, _opt("--endpoint-url", "The Berth server's URL.", _GLOBAL)],
        ),
        _param("output", Annotated[text, _opt("--output", "json, text or table.", _GLOBAL)]),
        _param("query", Annotated[text, _opt("--query", "A JMESPath query.", _GLOBAL)]),
        _param(
            "no_verify_ssl",
            Annotated[bool, _opt("--no-verify-ssl", "Do not verify TLS certificates.", _GLOBAL)],
            False,
        ),
    ]


GLOBAL_PARAMS = ("profile", "region", "endpoint_url", "output", "query", "no_verify_ssl")


def command_options(ctx: typer.Context, values: dict[str, Any]) -> AwsOptions:
    """The root's global options, overridden by those given on this command."""
    verify = False if values.pop("no_verify_ssl", False) else None
    given = {name: values.pop(name, None) for name in GLOBAL_PARAMS if name != "no_verify_ssl"}
    output = given.get("output")
    if output is not None and output not in FORMATS:
        fail(f"--output must be one of {', '.join(FORMATS)}, not {output!r}", EXIT_USAGE)
    return options_of(ctx).merged(verify_ssl=verify, **given)


def gather_lists(args: list[str], list_flags: frozenset[str]) -> list[str]:
    """``--flag a b c`` (the aws CLI's list syntax) as one value click can carry."""
    result: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        result.append(arg)
        index += 1
        if arg == "--":
            return result + args[index:]
        if arg not in list_flags:
            continue
        values: list[str] = []
        while index < len(args) and not args[index].startswith("--"):
            values.append(args[index])
            index += 1
        if len(values) == 1:
            result.append(values[0])
        elif values:
            result.append(_LIST_MARK + json.dumps(values))
    return result


def _flag(member: str) -> str:
    return "--" + str(xform_name(member, "-"))


def _member_param(
    name: str, shape: Shape, required: bool, hidden: bool = False
) -> inspect.Parameter:
    flag = _flag(name)
    help_text = _help(shape.documentation) + (" (required)" if required else "")
    if shape.type_name == "boolean":
        option = _opt(f"{flag}/--no-{flag[2:]}", help_text, hidden=hidden)
        return _param("m_" + name, Annotated[bool | None, option])
    metavar = {"list": "LIST", "structure": "STRUCT", "map": "MAP"}.get(shape.type_name, "TEXT")
    option = _opt(flag, help_text, metavar=metavar, hidden=hidden)
    return _param("m_" + name, Annotated[str | None, option])


_PAGING_FLAGS = frozenset({"--starting-token", "--page-size", "--max-items", "--no-paginate"})


def _paging_members(service: str, operation: str) -> frozenset[str]:
    """The members the paginator drives (``nextToken``, ``maxResults``, ``Marker``, ...)."""
    found = _paginator(service, operation)
    if found is None:
        return frozenset()
    tokens = found.get("input_token")
    names = [*(tokens if isinstance(tokens, list) else [tokens]), found.get("limit_key")]
    return frozenset(str(name) for name in names if name)


def _member_params(
    service: str, operation: OperationModel, members: dict[str, Shape], required: set[str]
) -> list[inspect.Parameter]:
    """As the aws CLI: paging members are hidden, and dropped where a paging flag has the name."""
    paging = _paging_members(service, operation.name)
    params = []
    for name, member in members.items():
        if name in paging and _flag(name) in _PAGING_FLAGS:
            continue
        params.append(_member_param(name, member, name in required, hidden=name in paging))
    return params


def _pagination_params() -> list[inspect.Parameter]:
    panel = "Pagination"
    return [
        _param(
            "starting_token",
            Annotated[
                str | None, _opt("--starting-token", "A token from a truncated response.", panel)
            ],
        ),
        _param(
            "page_size",
            Annotated[int | None, _opt("--page-size", "Items per service call.", panel)],
        ),
        _param(
            "max_items",
            Annotated[int | None, _opt("--max-items", "Items to return in all.", panel)],
        ),
        _param(
            "no_paginate",
            Annotated[bool, _opt("--no-paginate", "Make one call only.", panel)],
            False,
        ),
    ]


def _input_params() -> list[inspect.Parameter]:
    return [
        _param(
            "cli_input_json",
            Annotated[
                str | None, _opt("--cli-input-json", "The whole input as JSON (or file://PATH).")
            ],
        ),
        _param(
            "generate_cli_skeleton",
            Annotated[
                bool, _opt("--generate-cli-skeleton", "Print the input's JSON skeleton and exit.")
            ],
            False,
        ),
    ]


class ModelCommand(TyperCommand):
    """One operation; gathers ``--list a b c`` values before click parses."""

    list_flags: frozenset[str] = frozenset()

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return list(super().parse_args(ctx, gather_lists(args, self.list_flags)))


def _paginator(service: str, operation: str) -> dict[str, Any] | None:
    paginators = _paginators(service)
    if paginators is None:
        return None
    try:
        return dict(paginators.get_paginator(operation))
    except ValueError:
        return None


def operation_command(service: str, operation: OperationModel) -> Any:
    """The (click) command for one operation of ``service``."""
    shape = operation.input_shape
    members = dict(shape.members) if shape is not None else {}
    required = set(shape.required_members) if shape is not None else set()
    paginate = _paginator(service, operation.name) is not None
    params = [_param("ctx", typer.Context, inspect.Parameter.empty)]
    params += _member_params(service, operation, members, required)
    params += _input_params() + (_pagination_params() if paginate else []) + _global_params()

    def run(ctx: typer.Context, **values: Any) -> None:
        options = command_options(ctx, values)
        invoke(
            service,
            operation=operation,
            members=members,
            paginate=paginate,
            options=options,
            values=values,
        )

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    run.__doc__ = _help(operation.documentation, 600)
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    holder.command(xform_name(operation.name, "-"), cls=ModelCommand)(run)
    command = typer.main.get_command(holder)
    assert isinstance(command, ModelCommand)
    command.list_flags = frozenset(
        _flag(name) for name, member in members.items() if member.type_name == "list"
    )
    return command


def _read_values(members: dict[str, Shape], values: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    raw_input = values.pop("cli_input_json", None)
    if raw_input is not None:
        params.update(_input_json(raw_input))
    for name, shape in members.items():
        raw = values.pop("m_" + name, None)
        if raw is None:
            continue
        if shape.type_name == "boolean":
            params[name] = raw
        elif isinstance(raw, str) and raw.startswith(_LIST_MARK):
            params[name] = [
                item
                for text in json.loads(raw[1:])
                for item in parse_value(shape, text, _flag(name))
            ]
        else:
            params[name] = parse_value(shape, raw, _flag(name))
    return params


def _input_json(raw: str) -> dict[str, Any]:
    text = load_param(raw)
    try:
        loaded = json.loads(text)
    except ValueError as error:
        raise ParamError(f"Invalid JSON received for --cli-input-json: {error}") from None
    if not isinstance(loaded, dict):
        raise ParamError("--cli-input-json must be a JSON object")
    return loaded


def skeleton(shape: Shape | None, depth: int = 0) -> Any:
    """An input skeleton as ``--generate-cli-skeleton`` prints it."""
    if shape is None or depth > 8:
        return {}
    kind = shape.type_name
    if kind == "structure":
        return {name: skeleton(member, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        return [skeleton(shape.member, depth + 1)]
    if kind == "map":
        return {"KeyName": skeleton(shape.value, depth + 1)}
    return {"boolean": True, "integer": 0, "long": 0, "float": 0.0, "double": 0.0}.get(kind, "")


def invoke(
    service: str,
    *,
    operation: OperationModel,
    members: dict[str, Shape],
    paginate: bool,
    options: AwsOptions,
    values: dict[str, Any],
) -> None:
    if values.pop("generate_cli_skeleton", False):
        typer.echo(json.dumps(skeleton(operation.input_shape), indent=4))
        return
    try:
        params = _read_values(members, values)
    except ParamError as error:
        fail(str(error), EXIT_USAGE)
    with aws_errors():
        output = options.output_format()
        client = options.client(service)
        method_name = xform_name(operation.name)
        if paginate and _paginating(service, operation, params, values):
            config = {
                "StartingToken": values.get("starting_token"),
                "PageSize": values.get("page_size"),
                "MaxItems": values.get("max_items"),
            }
            paginator = client.get_paginator(method_name)
            pages = paginator.paginate(
                **params, PaginationConfig={k: v for k, v in config.items() if v is not None}
            )
            response = pages.build_full_result()
        else:
            response = getattr(client, method_name)(**params)
    emit(operation.name, response, output, options.query)


def _paginating(
    service: str, operation: OperationModel, params: dict[str, Any], values: dict[str, Any]
) -> bool:
    """Page automatically unless asked not to or given the paging members themselves."""
    if values.get("no_paginate") or _paginator(service, operation.name) is None:
        return False
    return not any(name in params for name in _paging_members(service, operation.name))


class ModelGroup(TyperGroup):
    """A group whose commands are the operations of one service model, built on demand.

    Hand-written commands registered on the group (``get-login-password``) come first.
    """

    service = ""

    def _names(self) -> dict[str, str]:
        model = service_model(self.service)
        return {xform_name(op, "-"): op for op in model.operation_names}

    def list_commands(self, ctx: Any) -> list[str]:
        own = super().list_commands(ctx)
        return own + sorted(name for name in self._names() if name not in own)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        operation = self._names().get(cmd_name)
        if operation is None:
            return None
        command = operation_command(
            self.service, service_model(self.service).operation_model(operation)
        )
        self.commands[cmd_name] = command
        return command


def model_group(service: str) -> type[ModelGroup]:
    """A ModelGroup subclass bound to ``service``, for ``typer.Typer(cls=...)``."""
    return type(f"{service.title()}Group", (ModelGroup,), {"service": service})


def service_app(service: str, help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=model_group(service), help=help_text, no_args_is_help=True, add_completion=False
    )
