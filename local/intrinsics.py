"""Resolves CloudFormation intrinsic functions of template.yaml against local values.

Tests and the local stack use it to give each function exactly the environment the template declares
(Globals merged with the function's own variables), with references pointing at local resources.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local import template

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "reels-live-local"
# Fixed so the egress external id (derived from the stack id) is stable across local runs.
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/5c3e8f0a-7b1d-4c2e-9f3a-0d6b8e4a2c71"
)


@dataclass
class Context:
    """What references resolve to: parameter values and each resource's Ref and attributes."""

    parameters: dict[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": STACK_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }


def parameters(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Template parameter values: defaults, then overrides (strings, as CloudFormation passes them)."""
    values = dict(template.parameter_defaults())
    values.update(overrides or {})
    return values


def condition(name: str, context: Context) -> bool:
    return bool(resolve(template.load().get("Conditions", {})[name], context))


def resolve(value: Any, context: Context) -> Any:
    """The value with every intrinsic function evaluated."""
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        function = _FUNCTIONS.get(name)
        if function:
            return function(argument, context)
    return {key: resolve(item, context) for key, item in value.items()}


def _ref(name: str, context: Context) -> Any:
    if name in context.pseudo:
        return context.pseudo[name]
    if name in context.parameters:
        return context.parameters[name]
    if name in context.refs:
        return context.refs[name]
    raise KeyError(f"template reference {name!r} has no local value")


def _get_att(argument: list[str] | str, context: Context) -> Any:
    resource, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    try:
        return context.attributes[resource][attribute]
    except KeyError:
        raise KeyError(f"template attribute {resource}.{attribute} has no local value") from None


def _sub(argument: str | list[Any], context: Context) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
    values = {name: resolve(item, context) for name, item in variables.items()}
    out, position = [], 0
    while (start := text.find("${", position)) >= 0:
        end = text.index("}", start)
        out.append(text[position:start])
        name = text[start + 2 : end]
        if name.startswith("!"):
            out.append("${" + name[1:] + "}")
        elif name in values:
            out.append(str(values[name]))
        elif "." in name and name.split(".", 1)[0] in context.attributes:
            out.append(str(_get_att(name, context)))
        else:
            out.append(str(_ref(name, context)))
        position = end + 1
    out.append(text[position:])
    return "".join(out)


def _if(argument: list[Any], context: Context) -> Any:
    name, when_true, when_false = argument
    return resolve(when_true if condition(name, context) else when_false, context)


def _select(argument: list[Any], context: Context) -> Any:
    index, values = resolve(argument[0], context), resolve(argument[1], context)
    return values[int(index)]


def _split(argument: list[Any], context: Context) -> list[str]:
    return str(resolve(argument[1], context)).split(argument[0])


def _join(argument: list[Any], context: Context) -> str:
    return argument[0].join(str(item) for item in resolve(argument[1], context))


def _equals(argument: list[Any], context: Context) -> bool:
    left, right = (resolve(item, context) for item in argument)
    return str(left) == str(right)


_FUNCTIONS = {
    "Ref": lambda argument, context: _ref(argument, context),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::If": _if,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Join": _join,
    "Fn::Equals": _equals,
    "Fn::Not": lambda argument, context: not resolve(argument[0], context),
    "Fn::And": lambda argument, context: all(resolve(item, context) for item in argument),
    "Fn::Or": lambda argument, context: any(resolve(item, context) for item in argument),
    "Condition": lambda argument, context: condition(argument, context),
}


def function_environment(function: str, context: Context) -> dict[str, str]:
    """A function's variables as Lambda would set them: Globals, then its own, every value a string."""
    doc = template.load()
    global_vars = doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    props = template.resources("AWS::Serverless::Function")[function]["Properties"]
    own = props.get("Environment", {}).get("Variables", {})
    resolved = {name: resolve(value, context) for name, value in {**global_vars, **own}.items()}
    return {name: _as_env_string(value) for name, value in resolved.items() if value is not None}


def function_setting(function: str, name: str, default: Any = None) -> Any:
    """A function property with Globals applied (Timeout, MemorySize, Runtime, ...)."""
    props = template.resources("AWS::Serverless::Function")[function]["Properties"]
    if name in props:
        return props[name]
    return template.load().get("Globals", {}).get("Function", {}).get(name, default)


def _as_env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
