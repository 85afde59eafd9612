"""Request rules that need no AWS: the stream body, tags, gating, the state machine."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from reels_live.entities.lifecycle import TRANSITIONS, StreamStatus, can_transition
from reels_live.entities.text import normalise_tags
from reels_live.streams.schemas import CreateStreamRequest


def errors_by_field(body: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        CreateStreamRequest.model_validate(body)
    return {".".join(map(str, error["loc"])): error["msg"] for error in caught.value.errors()}


def test_title_is_trimmed_and_tags_normalised():
    request = CreateStreamRequest.model_validate({"title": "  Skate  ", "tags": ["Skate", "#skate", " BMX "]})
    assert request.title == "Skate"
    assert request.tags == ["skate", "bmx"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 101}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"title": "ok", "description": "d" * 2001}, "description"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"title": "ok", "tags": ["x" * 31]}, "tags"),
        ({"title": "ok", "tags": ["two words"]}, "tags"),
        ({"title": "ok", "isSensitive": "yes"}, "isSensitive"),
        ({"title": "ok", "status": "live"}, "status"),
        ({"title": "ok", "viewerCount": 5}, "viewerCount"),
        ({"title": "ok", "authorId": "someone-else"}, "authorId"),
    ],
)
def test_invalid_bodies_name_the_field(body, field):
    assert field in errors_by_field(body)


def test_eleven_tags_that_collapse_to_ten_are_accepted():
    tags = [f"t{i}" for i in range(10)] + ["T0"]
    assert len(CreateStreamRequest.model_validate({"title": "ok", "tags": tags}).tags) == 10


def test_gated_stream_needs_price_token_and_seller():
    assert set(errors_by_field({"title": "ok", "isGated": True})) == {
        "price_token",
        "price_amount",
        "seller_address",
    }


@pytest.mark.parametrize("amount", [0, -1, "0", "abc", "NaN", "Infinity"])
def test_gated_price_must_be_positive(amount):
    body = {
        "title": "ok",
        "isGated": True,
        "priceToken": "USDC",
        "priceAmount": amount,
        "sellerAddress": "0xabc",
    }
    assert "priceAmount" in errors_by_field(body)


def test_free_stream_must_not_carry_price_fields():
    fields = errors_by_field(
        {"title": "ok", "priceToken": "USDC", "priceAmount": 1, "sellerAddress": "0xabc"}
    )
    assert set(fields) == {"priceToken", "priceAmount", "sellerAddress"}


def test_gated_stream_keeps_exact_decimal_price():
    body = {
        "title": "ok",
        "isGated": True,
        "priceToken": "USDC",
        "priceAmount": "4.99",
        "sellerAddress": "0xabc",
    }
    assert CreateStreamRequest.model_validate(body).price_amount == Decimal("4.99")


def test_tags_normalisation_rejects_more_than_ten_distinct():
    with pytest.raises(ValueError, match="at most 10"):
        normalise_tags([f"t{i}" for i in range(11)])


def test_ended_and_errored_streams_are_terminal():
    assert not TRANSITIONS[StreamStatus.ENDED]
    assert not TRANSITIONS[StreamStatus.ERROR]
    assert can_transition(StreamStatus.PREPARING, StreamStatus.LIVE)
    assert can_transition(StreamStatus.LIVE, StreamStatus.ENDED)
    assert not can_transition(StreamStatus.LIVE, StreamStatus.PREPARING)
