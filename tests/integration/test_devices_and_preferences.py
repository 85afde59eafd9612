"""Push devices as SNS platform endpoints, and notification preferences, through the handlers."""

import pytest

from reels_live.store import keys
from tests.support import api, stack
from tests.support import aws as table
from tests.support.aws import sns

pytestmark = pytest.mark.usefixtures("aws_backend")

IOS_TOKEN = "a" * 64
ANDROID_TOKEN = "fcm-registration-token:APA91bH" + "x" * 100


def endpoints(parameter: str) -> list[dict]:
    application = stack.current().parameters[parameter]
    return sns().list_endpoints_by_platform_application(PlatformApplicationArn=application)["Endpoints"]


def devices_of(user: str) -> dict:
    item = table.get(keys.devices(user))
    return item["devices"] if item else {}


# ---------------------------------------------------------------- devices


def test_registering_a_token_creates_one_enabled_endpoint_labelled_with_the_user(frozen_clock):
    response = api.request(
        "POST", "/me/devices", user="user-bob", body={"platform": "ios", "token": IOS_TOKEN}
    )

    assert response.status == 201
    device_id = response.body["deviceId"]
    assert response.body == {
        "deviceId": device_id,
        "platform": "ios",
        "createdAt": frozen_clock.now_ms,
        "updatedAt": frozen_clock.now_ms,
    }
    [endpoint] = endpoints("ApnsPlatformApplicationArn")
    assert endpoint["Attributes"]["Token"] == IOS_TOKEN
    assert endpoint["Attributes"]["Enabled"] in {True, "true"}
    assert endpoint["Attributes"]["CustomUserData"] == "user-bob"
    assert devices_of("user-bob")[device_id]["endpointArn"] == endpoint["EndpointArn"]
    assert IOS_TOKEN not in str(table.items())


def test_a_re_registered_token_updates_its_device_instead_of_duplicating_it(frozen_clock):
    first = api.request("POST", "/me/devices", user="user-bob", body={"platform": "ios", "token": IOS_TOKEN})
    [endpoint] = endpoints("ApnsPlatformApplicationArn")
    sns().set_endpoint_attributes(EndpointArn=endpoint["EndpointArn"], Attributes={"Enabled": "false"})
    frozen_clock.advance(seconds=60)

    again = api.request("POST", "/me/devices", user="user-bob", body={"platform": "ios", "token": IOS_TOKEN})

    assert again.status == 200
    assert again.body["deviceId"] == first.body["deviceId"]
    assert again.body["createdAt"] == first.body["createdAt"]
    assert again.body["updatedAt"] == frozen_clock.now_ms
    [still_one] = endpoints("ApnsPlatformApplicationArn")
    assert still_one["EndpointArn"] == endpoint["EndpointArn"]
    assert still_one["Attributes"]["Enabled"] in {True, "true"}
    assert list(devices_of("user-bob")) == [first.body["deviceId"]]


def test_a_token_that_changes_hands_moves_to_the_new_user():
    first = api.request(
        "POST", "/me/devices", user="user-bob", body={"platform": "android", "token": ANDROID_TOKEN}
    )

    moved = api.request(
        "POST", "/me/devices", user="user-carol", body={"platform": "android", "token": ANDROID_TOKEN}
    )

    assert moved.body["deviceId"] == first.body["deviceId"]
    assert devices_of("user-bob") == {}
    assert list(devices_of("user-carol")) == [first.body["deviceId"]]
    [endpoint] = endpoints("FcmPlatformApplicationArn")
    assert endpoint["Attributes"]["CustomUserData"] == "user-carol"


def test_removing_a_device_deletes_its_endpoint_and_repeating_is_harmless():
    device_id = api.request(
        "POST", "/me/devices", user="user-bob", body={"platform": "ios", "token": IOS_TOKEN}
    ).body["deviceId"]

    first = api.request("DELETE", f"/me/devices/{device_id}", user="user-bob")
    again = api.request("DELETE", f"/me/devices/{device_id}", user="user-bob")

    assert first.status == again.status == 204
    assert devices_of("user-bob") == {}
    assert endpoints("ApnsPlatformApplicationArn") == []
    assert list(table.items(keys.PUSH_TOKEN_PK_PREFIX)) == []


def test_someone_else_cannot_remove_your_device():
    device_id = api.request(
        "POST", "/me/devices", user="user-bob", body={"platform": "ios", "token": IOS_TOKEN}
    ).body["deviceId"]

    response = api.request("DELETE", f"/me/devices/{device_id}", user="user-mallory")

    assert response.status == 204
    assert list(devices_of("user-bob")) == [device_id]
    assert len(endpoints("ApnsPlatformApplicationArn")) == 1


def test_a_user_keeps_the_ten_most_recent_devices(frozen_clock):
    ids = []
    for index in range(11):
        frozen_clock.advance(seconds=1)
        body = {"platform": "ios", "token": f"{index:064x}"}
        ids.append(api.request("POST", "/me/devices", user="user-bob", body=body).body["deviceId"])

    assert set(devices_of("user-bob")) == set(ids[1:])
    assert len(endpoints("ApnsPlatformApplicationArn")) == 10


def test_a_platform_this_deployment_does_not_push_to_is_422():
    stack.set_parameter("FcmPlatformApplicationArn", "")

    response = api.request(
        "POST", "/me/devices", user="user-bob", body={"platform": "android", "token": ANDROID_TOKEN}
    )

    assert response.status == 422
    assert response.error_code == "platform_not_configured"
    assert response.body["error"]["field"] == "platform"
    assert table.items(keys.USER_PREFIX) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "windows", "token": IOS_TOKEN}, "platform"),
        ({"platform": "ios", "token": "short"}, "token"),
        ({"platform": "ios", "token": "has spaces in it"}, "token"),
        ({"platform": "ios"}, "token"),
    ],
)
def test_bad_device_registrations_name_the_field(body, field):
    response = api.request("POST", "/me/devices", user="user-bob", body=body)

    assert response.status == 422
    assert response.body["error"]["field"] == field
    assert endpoints("ApnsPlatformApplicationArn") == []


# ---------------------------------------------------------------- preferences


def test_preferences_default_to_every_channel_on():
    response = api.request("GET", "/me/notification-preferences", user="user-bob")

    assert response.status == 200
    assert response.body == {
        "goLive": {"email": True, "push": True, "inApp": True},
        "mutedCreatorIds": [],
        "quietHours": None,
    }


def test_preferences_are_replaced_whole_and_read_back():
    body = {
        "goLive": {"email": False, "push": True, "inApp": True},
        "mutedCreatorIds": ["user-alice", "user-alice", "user-carol"],
        "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Paris"},
    }

    saved = api.request("PUT", "/me/notification-preferences", user="user-bob", body=body)
    read = api.request("GET", "/me/notification-preferences", user="user-bob")

    assert saved.status == read.status == 200
    assert read.body == {**body, "mutedCreatorIds": ["user-alice", "user-carol"]}
    stored = table.get(keys.preferences("user-bob"))
    assert stored["goLiveEmail"] is False
    assert stored["quietHours"]["timeZone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Mars/Olympus"}},
            "quietHours.timeZone",
        ),
        ({"quietHours": {"start": "22:00", "end": "22:00", "timeZone": "UTC"}}, "quietHours.end"),
        ({"quietHours": {"start": "25:00", "end": "07:00", "timeZone": "UTC"}}, "quietHours.start"),
        ({"goLive": {"email": "yes"}}, "goLive.email"),
        ({"mutedCreatorIds": ["bad#id"]}, "mutedCreatorIds.0"),
        ({"sms": True}, "sms"),
    ],
)
def test_bad_preferences_name_the_field_and_change_nothing(body, field):
    response = api.request("PUT", "/me/notification-preferences", user="user-bob", body=body)

    assert response.status == 422
    assert response.body["error"]["field"] == field
    assert table.get(keys.preferences("user-bob")) is None
