"""``/whatsapp/webhook`` (Meta's Cloud API) and ``/twilio/whatsapp`` (Twilio).

Meta's webhook is checked, recorded and acknowledged within milliseconds; the answer
follows from the background worker (``assistant.channels.bridge``). Twilio waits for
its answer in the response, as TwiML. The signature is checked on the raw body
before anything else is done with it.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from assistant.api.deps import BridgeDep, SettingsDep, WhatsAppDep
from assistant.api.errors import ApiError
from assistant.api.surrogates import without_surrogates
from assistant.channels.bridge import Bridge
from assistant.channels.twilio import (
    check_twilio_signature,
    twilio_inbound,
    twilio_status,
    twiml,
)
from assistant.channels.whatsapp import (
    SignatureError,
    SignatureMissing,
    WebhookError,
    check_signature,
)

__all__ = ["router"]

log = logging.getLogger(__name__)


router = APIRouter(tags=["whatsapp"])


def signature_error(exc: SignatureError) -> ApiError:
    missing = isinstance(exc, SignatureMissing)
    return ApiError(
        401 if missing else 403,
        str(exc),
        code="signature_missing" if missing else "signature_invalid",
    )


@router.get("/whatsapp/webhook", response_class=PlainTextResponse)
def verify_webhook(
    settings: SettingsDep,
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    token: Annotated[str, Query(alias="hub.verify_token")] = "",
    challenge: Annotated[str, Query(alias="hub.challenge")] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: the challenge back when the verify token is ours."""
    expected = settings.whatsapp_verify_token
    if (
        expected is None
        or mode != "subscribe"
        or not hmac.compare_digest(expected.get_secret_value().encode(), token.encode())
    ):
        raise ApiError(403, "Verification refused.", code="verification_refused")
    return PlainTextResponse(challenge)


@router.post("/whatsapp/webhook")
async def whatsapp_webhook(
    request: Request,
    settings: SettingsDep,
    worker: WhatsAppDep,
) -> dict[str, int]:
    """Messages and delivery statuses from Meta: 200 at once, answers sent after."""
    body = await request.body()
    assert settings.whatsapp_app_secret is not None  # the worker exists
    try:
        check_signature(
            settings.whatsapp_app_secret.get_secret_value(),
            body,
            request.headers.get("X-Hub-Signature-256"),
        )
    except SignatureError as exc:
        raise signature_error(exc) from exc
    try:
        payload = without_surrogates(json.loads(body))
    except ValueError:  # signed but not JSON: nothing to do, and no reason to resend
        log.warning("WhatsApp webhook body is not JSON")
        payload = None
    queued = await run_in_threadpool(worker.accept, payload)
    return {"queued": queued}


@router.post("/twilio/whatsapp", response_class=Response)
async def twilio_webhook(request: Request, settings: SettingsDep, bridge: BridgeDep) -> Response:
    """A WhatsApp message through Twilio, answered in the response (TwiML)."""
    if settings.twilio_auth_token is None:
        raise ApiError(404, "Twilio is not configured here.", code="twilio_off")
    body = await request.body()
    params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    try:
        check_twilio_signature(
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_webhook_url or str(request.url),
            params,
            request.headers.get("X-Twilio-Signature"),
        )
    except SignatureError as exc:
        raise signature_error(exc) from exc
    replies = await run_in_threadpool(_answer_once, bridge, dict(params))
    return Response(twiml(replies), media_type="application/xml")


def _answer_once(bridge: Bridge, form: dict[str, str]) -> list:
    """The replies to a Twilio message, or none when it was answered before."""
    inbound = twilio_inbound(form)
    if inbound is None or not bridge.records.receive(inbound, "twilio"):
        return []
    if bridge.records.claim(inbound.id) is None:
        return []
    outcome = bridge.respond(inbound, "twilio")
    bridge.records.finish(inbound.id, outcome.state, outcome.error)
    return outcome.replies


@router.post("/twilio/status", status_code=204, response_class=Response)
async def twilio_status_callback(
    request: Request, settings: SettingsDep, bridge: BridgeDep
) -> Response:
    """Twilio's report on a message sent through its API (an adviser's reply): stored
    with WhatsApp's statuses; a failure also among the errors on the helpdesk page."""
    url = settings.twilio_status_callback
    if settings.twilio_auth_token is None or url is None:
        raise ApiError(404, "Twilio status callbacks are not configured here.", code="twilio_off")
    body = await request.body()
    params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    try:
        check_twilio_signature(
            settings.twilio_auth_token.get_secret_value(),
            url,
            params,
            request.headers.get("X-Twilio-Signature"),
        )
    except SignatureError as exc:
        raise signature_error(exc) from exc
    status = twilio_status(dict(params))
    if status is not None:
        await run_in_threadpool(_record_status, bridge, status)
    return Response(status_code=204)


def _record_status(bridge: Bridge, status) -> None:
    bridge.records.add_status(status)
    if status.status in ("failed", "undelivered"):
        code = status.errors[0]["code"] if status.errors else None
        bridge.records.add_errors(
            [
                WebhookError(
                    code if isinstance(code, int) else None,
                    f"Twilio: {status.status}",
                    "",
                    message_id=status.message_id,
                )
            ]
        )
