"""How a reminder leaves: one small interface, two providers.

* `HttpGateway`: the shape most African SMS APIs share: `POST` to the gateway's URL with a JSON body
  `{"from": sender, "to": "+224…", "text": …, "reference": our message id}` and
  `Authorization: Bearer <token>`; the answer's JSON names the gateway's message id (`id`, `message_id` or
  `messageId`). 2xx: sent. 5xx, 429, a timeout or a refused connection: a temporary failure, tried again
  later. Other 4xx: a permanent failure (a bad number, a bad token), never retried. Delivery reports come
  back on `/api/sms/delivery` (dashboards/server/api.py).
* `FileOutbox`: development and `make demo`: each message is a JSON file in AKIG_SMS_DIR, named by our
  message id (written atomically), so a developer reads what a tenant would have got.

`provider_for(settings)` picks one from AKIG_SMS_PROVIDER; `off` gives None (messages stay queued).
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from akig_data.config import Settings

TIMEOUT_S = 10.0


class TemporaryFailure(Exception):
    """The gateway could not take the message now: try again later."""


class PermanentFailure(Exception):
    """The gateway refused the message: trying again would not help."""


@dataclass(frozen=True)
class Message:
    message_id: int
    to: str          # E.164
    text: str


class Provider(Protocol):
    """What the outbox needs of a way out: a name (kept with each message) and `send`."""

    name: str

    def send(self, message: Message) -> str:
        """Hand the message over; returns the provider's id for it. Raises TemporaryFailure or
        PermanentFailure."""


class HttpGateway:
    name = "http"

    def __init__(self, url: str, token: str | None, sender: str, timeout_s: float = TIMEOUT_S):
        self.url, self.token, self.sender, self.timeout_s = url, token, sender, timeout_s

    def send(self, message: Message) -> str:
        body = json.dumps({"from": self.sender, "to": message.to, "text": message.text,
                           "reference": str(message.message_id)}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
            **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            if exc.code >= 500 or exc.code == 429:
                raise TemporaryFailure(f"passerelle SMS : HTTP {exc.code} {detail}".strip()) from None
            raise PermanentFailure(f"passerelle SMS : HTTP {exc.code} {detail}".strip()) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TemporaryFailure(f"passerelle SMS injoignable : {reason}") from None
        try:
            data = json.loads(answer or b"{}")
        except ValueError:
            data = {}
        ident = next((data.get(k) for k in ("id", "message_id", "messageId") if isinstance(data, dict) and data.get(k)),
                     None)
        return str(ident) if ident is not None else f"akig-{message.message_id}"


class FileOutbox:
    name = "file"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def send(self, message: Message) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"sms-{message.message_id:08d}.json"
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".sms-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"id": message.message_id, "to": message.to, "text": message.text}, out,
                          ensure_ascii=False, indent=1)
            os.replace(temporary, target)
        except OSError as exc:
            raise TemporaryFailure(f"dossier des SMS inaccessible : {exc}") from None
        return f"file-{message.message_id}"


def provider_for(settings: Settings) -> Provider | None:
    if settings.sms_provider == "off":
        return None
    if settings.sms_provider == "http":
        if not settings.sms_url:
            raise PermanentFailure("AKIG_SMS_PROVIDER=http demande AKIG_SMS_URL.")
        return HttpGateway(settings.sms_url, settings.sms_token, settings.sms_sender)
    return FileOutbox(settings.sms_dir)
