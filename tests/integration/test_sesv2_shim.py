"""local/sesv2_shim.py: SendBulkEmail rendered from moto's SES template store and delivered through moto.

moto runs as a server on a free loopback port (ThreadedMotoServer) with template.yaml's resources
provisioned into it, the shim in front; the production code path (reels_live.integrations.ses) calls it through
AWS_ENDPOINT_URL_SESV2, as the local stack will.
"""

import email
import email.policy
import json

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from local import provision, sesv2_shim
from local.intrinsics import ACCOUNT_ID, REGION
from reels_live.core import aws
from reels_live.integrations import ses as email_module
from tests.support import stack


@pytest.fixture
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    yield url
    requests.post(f"{url}/moto-api/reset", timeout=5)
    server.stop()


@pytest.fixture
def shim(moto_url, monkeypatch):
    context = provision.provision({"LiveKitUrl": "ws://127.0.0.1:9"}, endpoint_url=moto_url)
    stack.activate(context)
    running = sesv2_shim.serve(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", running.url)
    aws.reset()
    yield running
    running.stop()


def sesv2(shim) -> object:
    return boto3.client("sesv2", region_name=REGION, endpoint_url=shim.url)


def delivered() -> list[email.message.EmailMessage]:
    return [
        email.message_from_string(message.raw_data, policy=email.policy.default)
        for message in ses_backends[ACCOUNT_ID][REGION].sent_messages
    ]


def test_production_bulk_send_arrives_in_moto_rendered_with_its_headers(shim):
    with stack.function_environment("DeliverNotificationsFunction"):
        outcomes = email_module.send_bulk(
            [
                email_module.Destination(
                    to=f"{user}@example.com",
                    template_data={
                        "creatorName": "Alice",
                        "title": "Skate <live> & more",
                        "link": "https://reels.example.com/live/S1",
                        "unsubscribeUrl": f"https://api.example.com/unsubscribe?t={user}",
                    },
                    headers={
                        "List-Unsubscribe": f"<https://api.example.com/unsubscribe?t={user}>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    },
                )
                for user in ["bob", "dave"]
            ],
            default_data={"creatorName": "Alice", "title": "Skate <live> & more", "link": "x"},
        )

    assert outcomes == [email_module.Outcome.SENT, email_module.Outcome.SENT]
    bob, dave = delivered()
    assert bob["To"] == "bob@example.com"
    assert bob["From"] == "live@example.com"
    assert bob["Subject"] == "Alice is live: Skate <live> & more"
    assert bob["List-Unsubscribe"] == "<https://api.example.com/unsubscribe?t=bob>"
    assert bob["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert dave["List-Unsubscribe"] == "<https://api.example.com/unsubscribe?t=dave>"
    text = bob.get_body(preferencelist=("plain",)).get_content()
    html = bob.get_body(preferencelist=("html",)).get_content()
    assert "Stop go-live emails: https://api.example.com/unsubscribe?t=bob" in text
    assert "Skate &lt;live&gt; &amp; more" in html
    assert 'href="https://api.example.com/unsubscribe?t=bob"' in html


DATA = json.dumps({"creatorName": "Alice", "title": "Skate", "link": "x", "unsubscribeUrl": "y"})


def test_an_unverified_sender_is_rejected_per_destination(shim):
    response = sesv2(shim).send_bulk_email(
        FromEmailAddress="someone@unverified.example",
        DefaultContent={
            "Template": {"TemplateName": stack.current().refs["GoLiveEmailTemplate"], "TemplateData": DATA}
        },
        BulkEmailEntries=[{"Destination": {"ToAddresses": ["bob@example.com"]}}],
    )

    [result] = response["BulkEmailEntryResults"]
    assert result["Status"] == "MESSAGE_REJECTED"
    assert delivered() == []


def test_a_destination_whose_data_cannot_render_the_template_is_not_sent(shim):
    response = sesv2(shim).send_bulk_email(
        FromEmailAddress="live@example.com",
        DefaultContent={
            "Template": {"TemplateName": stack.current().refs["GoLiveEmailTemplate"], "TemplateData": "{}"}
        },
        BulkEmailEntries=[
            {"Destination": {"ToAddresses": ["bob@example.com"]}},
            {
                "Destination": {"ToAddresses": ["dave@example.com"]},
                "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": DATA}},
            },
        ],
    )

    assert [result["Status"] for result in response["BulkEmailEntryResults"]] == [
        "INVALID_PARAMETER",
        "SUCCESS",
    ]
    [dave] = delivered()
    assert dave["To"] == "dave@example.com"


def test_an_unknown_template_is_not_found(shim):
    with pytest.raises(ClientError) as raised:
        sesv2(shim).send_bulk_email(
            FromEmailAddress="live@example.com",
            DefaultContent={"Template": {"TemplateName": "no-such-template", "TemplateData": "{}"}},
            BulkEmailEntries=[{"Destination": {"ToAddresses": ["bob@example.com"]}}],
        )

    assert raised.value.response["Error"]["Code"] == "NotFoundException"


def test_more_than_fifty_destinations_is_a_bad_request(shim):
    with pytest.raises(ClientError) as raised:
        sesv2(shim).send_bulk_email(
            FromEmailAddress="live@example.com",
            DefaultContent={"Template": {"TemplateName": stack.current().refs["GoLiveEmailTemplate"]}},
            BulkEmailEntries=[{"Destination": {"ToAddresses": [f"u{i}@example.com"]}} for i in range(51)],
        )

    assert raised.value.response["Error"]["Code"] == "BadRequestException"


def test_every_other_sesv2_call_goes_to_moto_unchanged(shim):
    client = sesv2(shim)

    identity = client.get_email_identity(EmailIdentity="example.com")
    client.send_email(
        FromEmailAddress="live@example.com",
        Destination={"ToAddresses": ["bob@example.com"]},
        Content={"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "plain"}}}},
    )

    assert identity["IdentityType"] == "DOMAIN"
    assert len(ses_backends[ACCOUNT_ID][REGION].sent_messages) == 1
