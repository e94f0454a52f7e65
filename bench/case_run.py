"""The case run: N blockit Sev 1 cases through a whole lifecycle, their response deadlines in one window.

open (half through the gateway, half through `start_case`) → the response
warning from its own timer → the breach at the deadline (step 1, a webhook,
timed at the receiver) → step 2 → respond → resolve → close → completed.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from bench.load import Arrivals, Lateness, deadlines, each, sleep_until, timed_each
from bench.phase import Accounting, Plan, Result, count_events
from bench.policy import TENANT
from bench.stack import API_KEY, CASE_QUEUE, Stack
from starter.client import start_case
from tenant_policies import read_policy_file
from workflows.contracts import CaseRequest, CaseStatus, Close, Requester, Resolve, Respond

RESPONSE_WITHIN = timedelta(minutes=30)  # blockit Sev 1, 24x7
# The case intake rate is not known until measured; a third of the floor's start rate sets the lead's margin.
INTAKE_SHARE_GUESS = 1 / 3


def case_request(source_id: str, received_at: datetime) -> CaseRequest:
    return CaseRequest(
        tenant=TENANT,
        channel="api",
        requester=Requester(name="Ana Diaz", email="ana@clinic.example", company="Clinic Co"),
        subject="Scheduling page down",
        description="The scheduling page shows an error for every clinic.",
        severity=1,
        received_at=received_at,
        source_id=source_id,
    )


async def run_cases(stack: Stack, plan: Plan, floor_start_rate: float) -> Result:
    client = stack.client
    await stack.start_worker(CASE_QUEUE, floor=False)
    await stack.start_gateway()
    policy = read_policy_file(stack.policy_dir / f"{TENANT}.yaml")
    run = uuid.uuid4().hex[:8]
    arrivals = Arrivals(stack.hooks.requests)
    limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    http = httpx.AsyncClient(base_url=stack.gateway_url, headers=headers, limits=limits, timeout=120)

    async def through_gateway(request: CaseRequest) -> str:
        answer = await http.post("/v1/cases", json=request.model_dump(mode="json", exclude_none=True))
        if answer.status_code != 201:
            raise RuntimeError(f"POST /v1/cases answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()["case_id"]

    async def through_client(request: CaseRequest) -> str:
        loaded = stack.loaded_policy(request.tenant, datetime.now(UTC).year)
        return (await start_case(client, request, loaded)).case_id

    async def respond_resolve_close(case_id: str) -> None:
        handle = client.get_workflow_handle(case_id, result_type=CaseStatus)
        await handle.execute_update("respond", Respond(by="bench"), result_type=CaseStatus)
        await handle.execute_update(
            "resolve", Resolve(by="bench", resolution="Restarted the scheduler."), result_type=CaseStatus
        )
        await handle.execute_update("close", Close(), result_type=CaseStatus)
        await handle.result()

    try:
        # Warm-up, not measured: both intake paths and the end of a lifecycle, once each way.
        now = datetime.now(UTC)
        warm = [case_request(f"bench-{run}-warm-{i}", now) for i in range(plan.warmup)]
        half = len(warm) // 2
        warm_ids = await each(warm[:half], through_gateway, plan.concurrency) + await each(
            warm[half:], through_client, plan.concurrency
        )
        await each(warm_ids, respond_resolve_close, plan.concurrency)
        stack.healthy()

        result = Result(plan.cases)
        accounting = Accounting(stack)
        await accounting.begin(plan.idle_seconds)
        rss_before = stack.rss("worker")

        guess = max(floor_start_rate * INTAKE_SHARE_GUESS, 5.0)
        window = time.time() + plan.cases / guess + plan.lead
        due = deadlines(plan.cases, window, plan.spread, plan.seed)
        requests = [
            case_request(f"bench-{run}-{i}", datetime.fromtimestamp(d, UTC) - RESPONSE_WITHIN)
            for i, d in enumerate(due)
        ]
        half = plan.cases // 2
        gateway_ids, took = await timed_each(requests[:half], through_gateway, plan.concurrency)
        result.rates["gateway"] = half / took
        client_ids, took = await timed_each(requests[half:], through_client, plan.concurrency)
        result.rates["direct"] = (plan.cases - half) / took
        case_ids = gateway_ids + client_ids
        intake_done = time.time()
        if intake_done > window:
            result.notes.append(
                f"case intake overran the lead by {intake_done - window:.1f} s: some deadlines passed during intake"
            )

        warnings = await arrivals.wait_for(case_ids, "response_warning", 1, until=window - 2.0, healthy=stack.healthy)
        early = sum(1 for at in warnings.values() if at < intake_done)
        if early:
            result.notes.append(f"{early} of {plan.cases} warnings were delivered before intake ended")
        if len(warnings) < plan.cases:
            result.notes.append(
                f"{plan.cases - len(warnings)} of {plan.cases} warnings were still undelivered when the "
                "breach window opened, and add to its load"
            )
        await sleep_until(window - 2.0)
        result.rss_per_1000 = (stack.rss("worker") - rss_before) / plan.cases * 1000

        breaches = await arrivals.wait_for(
            case_ids, "response_breach", 1, until=window + plan.spread + plan.drain, healthy=stack.healthy
        )
        result.lateness = Lateness.of(
            [breaches[case_id] - deadline for case_id, deadline in zip(case_ids, due) if case_id in breaches],
            plan.cases,
        )
        step_wait = policy.escalations["response_breach"].steps[0].wait_span.total_seconds()
        second = await arrivals.wait_for(
            case_ids, "response_breach", 2, until=window + plan.spread + step_wait + plan.drain, healthy=stack.healthy
        )
        if len(second) < plan.cases:
            result.notes.append(f"{plan.cases - len(second)} cases never reached breach step 2")
        stack.healthy()
        await each(case_ids, respond_resolve_close, plan.concurrency)
        accounting.end(result)

        history = await client.get_workflow_handle(case_ids[0]).fetch_history()
        count_events(result, history)
        return result
    finally:
        await http.aclose()
        await stack.stop_child("gateway")
        await stack.stop_child("worker")
