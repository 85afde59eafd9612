"""Creates template.yaml's resources in an AWS emulator (moto in-process for tests, moto server for `make run`).

Each supported resource type gets created from its template properties; the rest (IAM roles, log groups,
Cognito, the HTTP API itself) only get the Ref and attributes other resources point at. What it returns
is the Context that resolves every function's environment to these local resources.
"""

import json
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from local import intrinsics, template
from local.intrinsics import ACCOUNT_ID, REGION, STACK_NAME, Context

Provisioner = Callable[[str, dict[str, Any], Context, "Clients"], None]


class Clients:
    """boto3 clients for one emulator endpoint (None: whatever the environment points at)."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, region_name=REGION, endpoint_url=self._endpoint_url
            )
        return self._clients[service]


def physical_name(logical_id: str) -> str:
    return f"{STACK_NAME}-{logical_id}"


def provision(
    parameter_overrides: Mapping[str, Any] | None = None,
    *,
    endpoint_url: str | None = None,
    livekit_keys: tuple[str, str] | None = None,
    clients: Clients | None = None,
) -> Context:
    """Create every supported resource; returns the references each function's environment resolves to."""
    context = Context(parameters=intrinsics.parameters(parameter_overrides))
    clients = clients or Clients(endpoint_url)
    resources = template.resources()
    # Names and ARNs first, so resources that point at each other (a queue's DLQ) resolve in any order.
    for logical_id, spec in resources.items():
        _name_resource(logical_id, spec, context)
    for logical_id, spec in _in_dependency_order(resources):
        if "Condition" in spec and not intrinsics.condition(spec["Condition"], context):
            continue
        provisioner = PROVISIONERS.get(spec["Type"])
        if provisioner:
            provisioner(logical_id, spec.get("Properties", {}), context, clients)
    if livekit_keys:
        put_livekit_secret(context.parameters["LiveKitCredentialsSecretName"], *livekit_keys, clients=clients)
    return context


def put_livekit_secret(
    name: str, api_key: str, api_secret: str, *, previous: dict[str, str] | None = None, clients: Clients
) -> None:
    """The secret the functions read at run time (the template names it; it is not a stack resource)."""
    secrets = clients("secretsmanager")
    value = json.dumps({"apiKey": api_key, "apiSecret": api_secret, "previousKeys": previous or {}})
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def _name_resource(logical_id: str, spec: dict[str, Any], context: Context) -> None:
    kind = spec["Type"]
    props = spec.get("Properties", {})
    name = physical_name(logical_id)
    arn_service = {"AWS::SQS::Queue": "sqs", "AWS::SNS::Topic": "sns"}.get(kind)
    if kind == "AWS::DynamoDB::Table":
        context.refs[logical_id] = name
        context.attributes[logical_id] = {"Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"}
    elif kind == "AWS::S3::Bucket":
        bucket = name.lower()
        context.refs[logical_id] = bucket
        context.attributes[logical_id] = {
            "Arn": f"arn:aws:s3:::{bucket}",
            "DomainName": f"{bucket}.s3.amazonaws.com",
        }
    elif kind == "AWS::SQS::Queue":
        queue = name + (".fifo" if props.get("FifoQueue") else "")
        context.refs[logical_id] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue}"
        context.attributes[logical_id] = {
            "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}",
            "QueueName": queue,
        }
    elif arn_service:
        context.refs[logical_id] = f"arn:aws:{arn_service}:{REGION}:{ACCOUNT_ID}:{name}"
        context.attributes[logical_id] = {"TopicName": name, "TopicArn": context.refs[logical_id]}
    elif kind == "AWS::IAM::Role":
        context.refs[logical_id] = name
        context.attributes[logical_id] = {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "RoleId": name}
    elif kind == "AWS::Serverless::Function":
        context.refs[logical_id] = name
        context.attributes[logical_id] = {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"}
    elif kind == "AWS::Logs::LogGroup":
        context.refs[logical_id] = name
        context.attributes[logical_id] = {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}"}
    elif kind == "AWS::SES::Template":
        context.refs[logical_id] = intrinsics.resolve(props["Template"].get("TemplateName") or name, context)
        context.attributes[logical_id] = {"Id": context.refs[logical_id]}
    elif kind == "AWS::SES::EmailIdentity":
        context.refs[logical_id] = intrinsics.resolve(props["EmailIdentity"], context)
        context.attributes[logical_id] = {}
    elif kind == "AWS::SecretsManager::Secret":
        # The real ARN ends in a random suffix; the secret's provisioner replaces this with moto's.
        context.refs[logical_id] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}"
        context.attributes[logical_id] = {"Id": context.refs[logical_id]}
    else:
        context.refs[logical_id] = intrinsics.resolve(
            props.get("Name") or props.get("TemplateName") or name, context
        )
        context.attributes[logical_id] = {"Arn": f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{name}"}


def _in_dependency_order(resources: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Resources a queue's redrive policy or a bucket policy points at come before them."""
    order = {"AWS::SQS::Queue": 1, "AWS::S3::BucketPolicy": 2}
    with_dlq = {
        logical_id
        for logical_id, spec in resources.items()
        if spec["Type"] == "AWS::SQS::Queue" and spec.get("Properties", {}).get("RedrivePolicy")
    }
    return sorted(
        resources.items(), key=lambda item: (order.get(item[1]["Type"], 0), item[0] in with_dlq, item[0])
    )


def _table(logical_id: str, _props: dict[str, Any], context: Context, clients: Clients) -> None:
    definition = template.table_definitions()[logical_id]
    ttl = definition.pop("TimeToLive", None)
    dynamodb = clients("dynamodb")
    dynamodb.create_table(TableName=context.refs[logical_id], **definition)
    if ttl:
        dynamodb.update_time_to_live(TableName=context.refs[logical_id], TimeToLiveSpecification=ttl)


def _bucket(logical_id: str, _props: dict[str, Any], context: Context, clients: Clients) -> None:
    clients("s3").create_bucket(Bucket=context.refs[logical_id])


def _queue(logical_id: str, props: dict[str, Any], context: Context, clients: Clients) -> None:
    resolved = intrinsics.resolve(props, context)
    attributes = {
        name: json.dumps(value)
        if isinstance(value, dict)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for name, value in resolved.items()
        if name in _QUEUE_ATTRIBUTES
    }
    clients("sqs").create_queue(QueueName=context.attributes[logical_id]["QueueName"], Attributes=attributes)


_QUEUE_ATTRIBUTES = {
    "DelaySeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "VisibilityTimeout",
}


def _topic(logical_id: str, _props: dict[str, Any], context: Context, clients: Clients) -> None:
    clients("sns").create_topic(Name=context.attributes[logical_id]["TopicName"])


def _email_template(logical_id: str, props: dict[str, Any], context: Context, clients: Clients) -> None:
    """Where CloudFormation's AWS::SES::Template puts it: SES's template store (shared by SES v1 and v2)."""
    template_props = intrinsics.resolve(props["Template"], context)
    template_props["TemplateName"] = context.refs[logical_id]
    clients("ses").create_template(Template=template_props)


def _configuration_set(logical_id: str, _props: dict[str, Any], context: Context, clients: Clients) -> None:
    clients("sesv2").create_configuration_set(ConfigurationSetName=context.refs[logical_id])


def _email_identity(logical_id: str, _props: dict[str, Any], context: Context, clients: Clients) -> None:
    # moto treats a created identity as verified, so mail from it is accepted as SES would after DNS checks.
    clients("sesv2").create_email_identity(EmailIdentity=context.refs[logical_id])


def _secret(logical_id: str, props: dict[str, Any], context: Context, clients: Clients) -> None:
    """A secret with GenerateSecretString gets a random value here, as CloudFormation would make one."""
    resolved = intrinsics.resolve(props, context)
    value = resolved.get("SecretString")
    if value is None:
        length = int(resolved.get("GenerateSecretString", {}).get("PasswordLength", 32))
        alphabet = string.ascii_letters + string.digits
        value = "".join(secrets.choice(alphabet) for _ in range(length))
    name = resolved.get("Name") or physical_name(logical_id)
    arn = clients("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
    context.refs[logical_id] = arn
    context.attributes[logical_id] = {"Id": arn}


# Platforms the template's *PlatformApplicationArn parameters stand for (CloudFormation cannot create them).
PLATFORM_APPLICATIONS = {
    "ApnsPlatformApplicationArn": "APNS",
    "ApnsSandboxPlatformApplicationArn": "APNS_SANDBOX",
    "FcmPlatformApplicationArn": "GCM",
}


def create_platform_applications(clients: Clients) -> dict[str, str]:
    """SNS platform applications in the emulator, as parameter overrides {parameter: application ARN}."""
    sns = clients("sns")
    arns = {}
    for parameter, platform in PLATFORM_APPLICATIONS.items():
        response = sns.create_platform_application(
            Name=f"{STACK_NAME}-{platform.lower()}",
            Platform=platform,
            Attributes={"PlatformCredential": "local-credential", "PlatformPrincipal": "local-principal"},
        )
        arns[parameter] = response["PlatformApplicationArn"]
    return arns


PROVISIONERS: dict[str, Provisioner] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::SES::Template": _email_template,
    "AWS::SES::ConfigurationSet": _configuration_set,
    "AWS::SES::EmailIdentity": _email_identity,
    "AWS::SecretsManager::Secret": _secret,
}
