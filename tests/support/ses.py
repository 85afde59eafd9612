"""SESv2 SendBulkEmail for tests, through botocore's Stubber.

moto implements neither SendBulkEmail nor SESv2 templates. The Stubber sits on the very client the
functions use and validates every call's parameters against the real SESv2 service model (shape, required
members, the 995-character header limit), then answers as SES would: SUCCESS per destination, unless a
failure was queued (`fail_next` for a whole-call error such as Throttling, `statuses_next` per destination).
"""

import copy
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from botocore.stub import Stubber

from reels_live.core import aws

OPERATION = "SendBulkEmail"
METHOD = "send_bulk_email"
# The first event of a call: the answer is queued here, before the Stubber looks for one.
EVENT = f"provide-client-params.sesv2.{OPERATION}"


@dataclass(frozen=True)
class SentEmail:
    to: str
    data: dict[str, Any]
    headers: dict[str, str]
    default_data: dict[str, Any]
    request: dict[str, Any]


class SesOutbox:
    def __init__(self) -> None:
        self.client = aws.client("sesv2", max_attempts=1)
        self.calls: list[dict[str, Any]] = []
        self._planned: deque[tuple[str, Any]] = deque()
        self._stubber = Stubber(self.client)
        self._stubber.activate()
        self.client.meta.events.register(EVENT, self._answer)

    def fail_next(self, code: str, *, times: int = 1, status: int = 400) -> None:
        for _ in range(times):
            self._planned.append(("error", (code, status)))

    def statuses_next(self, statuses: list[str]) -> None:
        self._planned.append(("statuses", statuses))

    @property
    def sent(self) -> list[SentEmail]:
        """Every destination SES accepted (SUCCESS), in order."""
        found = []
        for call in self.calls:
            if call["outcome"] != "ok":
                continue
            request = call["request"]
            default = json.loads(request["DefaultContent"]["Template"].get("TemplateData") or "{}")
            for entry, status in zip(request["BulkEmailEntries"], call["statuses"], strict=True):
                if status != "SUCCESS":
                    continue
                replacement = entry.get("ReplacementEmailContent", {}).get("ReplacementTemplate", {})
                found.append(
                    SentEmail(
                        to=entry["Destination"]["ToAddresses"][0],
                        data=json.loads(replacement.get("ReplacementTemplateData") or "{}"),
                        headers={h["Name"]: h["Value"] for h in entry.get("ReplacementHeaders", [])},
                        default_data=default,
                        request=request,
                    )
                )
        return found

    def close(self) -> None:
        self._stubber.deactivate()
        self.client.meta.events.unregister(EVENT, self._answer)

    def _answer(self, params: dict[str, Any], **_: Any) -> None:
        request = copy.deepcopy(params)
        kind, plan = self._planned.popleft() if self._planned else ("statuses", None)
        if kind == "error":
            code, status = plan
            self.calls.append({"request": request, "outcome": code, "statuses": []})
            self._stubber.add_client_error(
                METHOD, service_error_code=code, http_status_code=status, expected_params=request
            )
            return
        statuses = plan or ["SUCCESS"] * len(request.get("BulkEmailEntries", []))
        self.calls.append({"request": request, "outcome": "ok", "statuses": statuses})
        results = [
            {
                "Status": status,
                **({"MessageId": f"local-{len(self.calls)}-{index}"} if status == "SUCCESS" else {}),
            }
            for index, status in enumerate(statuses)
        ]
        self._stubber.add_response(METHOD, {"BulkEmailEntryResults": results}, expected_params=request)
