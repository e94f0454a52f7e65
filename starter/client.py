"""The one Temporal client layer: connecting, opening a case, and reading and acting on it.

The gateway, the CLI, the mailbox, the demo and the worker all connect
here, and every failure on a case becomes one of a small family of errors
(`CaseNotFound`, `CaseClosed`, `UpdateRejected`, `CaseStillOpening`,
`TemporalUnavailable`, `NoAnswer`), told apart by type, never by the
wording of a message. The gateway maps them to HTTP status codes and the
CLI to exit codes.

| variable | default | why |
|---|---|---|
| `TEMPORAL_ADDRESS` | `localhost:7233` | the frontend's gRPC address |
| `TEMPORAL_NAMESPACE` | `default` | |
| `SUPPORTFLOW_TASK_QUEUE` | `support-cases` | the contract's task queue |
| `TEMPORAL_TLS_CERT`, `TEMPORAL_TLS_KEY` | unset | paths to a client certificate and key (mTLS); set both or neither |
| `TEMPORAL_TLS_CA` | unset | path to the server's CA, for a cluster with a private CA |
| `TEMPORAL_API_KEY` | unset | an API key (Temporal Cloud); turns TLS on |
| `SUPPORTFLOW_ENCRYPTION_KEY` | unset | `id:base64[,…]`: encrypt payloads (starter/encryption.py) |
| `TEMPORAL_GRPC_COMPRESSION` | `none` | `none` or `gzip`: compress gRPC messages to and from Temporal |

Compression is off unless asked for. With the SDK's default (gzip), 3 % of the gateway's CPU samples
(`perf`) were zlib deflating 6 KB case starts that cross a loopback or a LAN, and its gRPC threads'
share of its CPU fell from 26 % to 20 % without it; the server and the worker pay the same on every
message (issue 17, docs/benchmarks.md). `gzip` is for a link where bandwidth costs more than CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.errordetails.v1 import QueryFailedFailure
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import (
    Client,
    TLSConfig,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import GrpcCompression, RPCError, RPCStatusCode

import environment
from environment import SettingsError
from starter import encryption
from starter.intake.source_ids import stored_source_id
from starter.start_request import start_case_workflow
from workflows.contracts import CASE_STILL_OPENING, UPDATE_REJECTED, Amend, CaseRequest, CaseStatus, Comment
from workflows.opening import opened_case
from workflows.policy import LoadedPolicy

Args = TypeVar("Args", CaseRequest, Amend)
# How long a query or update may take before we suspect no worker is polling.
ANSWER_TIMEOUT = 30.0
# A plain-JSON start opens once its policy is loaded, a moment after its first task.
OPENING_PATIENCE = 5.0


# --- the errors a caller tells apart -------------------------------------------------------------


class CaseError(Exception):
    """Something about one case that the person asking can act on; `message` says what."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class CaseNotFound(CaseError):
    """No case has this id (or it was deleted by retention)."""


class CaseClosed(CaseError):
    """The case's workflow has finished: nothing more can change."""


class UpdateRejected(CaseError):
    """The workflow's validator refused the update; the case is untouched. The message is the workflow's own."""


class CaseStillOpening(CaseError):
    """The case exists but has not loaded its policy yet; ask again in a moment."""


class TemporalUnavailable(CaseError):
    """Temporal could not be reached, or refused the call."""


class NoAnswer(CaseError):
    """The case did not answer in time: most likely no worker polls its task queue."""


# --- connecting -------------------------------------------------------------------------------


COMPRESSION = {"none": GrpcCompression.NONE, "gzip": GrpcCompression.GZIP}


@dataclass(frozen=True)
class ClientSettings:
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "support-cases"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    api_key: str | None = None
    encryption: encryption.Keyring | None = None
    grpc_compression: str = "none"

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert or self.api_key or self.tls_ca)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientSettings:
        """The table in this module's docstring; a bad value raises `SettingsError` naming the variable."""
        found = {
            field: environment.value(variable, env)
            for field, variable in (
                ("address", "TEMPORAL_ADDRESS"),
                ("namespace", "TEMPORAL_NAMESPACE"),
                ("task_queue", "SUPPORTFLOW_TASK_QUEUE"),
                ("tls_cert", "TEMPORAL_TLS_CERT"),
                ("tls_key", "TEMPORAL_TLS_KEY"),
                ("tls_ca", "TEMPORAL_TLS_CA"),
                ("api_key", "TEMPORAL_API_KEY"),
                ("grpc_compression", "TEMPORAL_GRPC_COMPRESSION"),
            )
        }
        if bool(found["tls_cert"]) != bool(found["tls_key"]):
            missing = "TEMPORAL_TLS_KEY" if found["tls_cert"] else "TEMPORAL_TLS_CERT"
            raise SettingsError(f"{missing} is not set: mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY")
        values: dict[str, Any] = {name: text for name, text in found.items() if text is not None}
        for path in ("tls_cert", "tls_key", "tls_ca"):
            if path in values:
                values[path] = Path(values[path])
        if "grpc_compression" in values:
            values["grpc_compression"] = environment.one_of(
                "TEMPORAL_GRPC_COMPRESSION", values["grpc_compression"], tuple(COMPRESSION)
            )
        return cls(**values, encryption=encryption.keyring_from_env(env))


def task_queue(env: Mapping[str, str] | None = None) -> str:
    return environment.value("SUPPORTFLOW_TASK_QUEUE", env) or ClientSettings.task_queue


async def connect(settings: ClientSettings | None = None, runtime: Runtime | None = None) -> Client:
    """A client with the pydantic data converter (and the payload codec when a key is set).
    An unreachable server raises `TemporalUnavailable` naming the address."""
    settings = settings or ClientSettings.from_env()
    tls: bool | TLSConfig = False
    if settings.tls:
        tls = TLSConfig(
            server_root_ca_cert=_read(settings.tls_ca, "TEMPORAL_TLS_CA"),
            client_cert=_read(settings.tls_cert, "TEMPORAL_TLS_CERT"),
            client_private_key=_read(settings.tls_key, "TEMPORAL_TLS_KEY"),
        )
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            api_key=settings.api_key,
            tls=tls,
            data_converter=encryption.data_converter(settings.encryption),
            runtime=runtime,
            grpc_compression=COMPRESSION[settings.grpc_compression],
        )
    except RuntimeError as problem:  # the SDK reports an unreachable server as a RuntimeError
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}; set TEMPORAL_ADDRESS): "
            f"{_first_line(problem)}"
        ) from None


def _read(path: Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as problem:
        raise SettingsError(f"{name}={str(path)!r}: {problem.strerror or problem}") from None


# --- opening a case ------------------------------------------------------------------------------


def case_id(request: CaseRequest) -> str:
    """`case-<tenant>-<key>`: the same source id always names the same case."""
    if request.source_id:
        key = hashlib.sha256(f"{request.channel}:{request.source_id}".encode()).hexdigest()[:24]
    else:
        key = uuid.uuid4().hex
    return f"case-{request.tenant}-{key}"


def tenant_of(case_id: str) -> str | None:
    """`case-<tenant>-<key>` → tenant (a tenant may itself contain '-')."""
    if not case_id.startswith("case-") or case_id.count("-") < 2:
        return None
    return case_id.removeprefix("case-").rsplit("-", 1)[0] or None


@dataclass(frozen=True)
class Opened:
    case_id: str
    duplicate: bool
    handle: WorkflowHandle


async def start_case(client: Client, request: CaseRequest, policy: LoadedPolicy, queue: str | None = None) -> Opened:
    """Start `SupportCase` with the policy the caller already loaded, or find the case this source id opened.

    The case starts with the search attributes and summary its opening publishes, worked out with the
    workflow's own `opened_case`, so a list shows it complete from the first moment and its first task
    upserts nothing. `start_case_workflow` builds the request itself, which costs the gateway less than
    the SDK's `start_workflow` (issue 17)."""
    request = with_requester_email_key(client, request)
    workflow_id = case_id(request)
    # The id comes from the raw source id (the same message is the same case); the case keeps only its hash.
    request = request.model_copy(update={"source_id": stored_source_id(request.source_id)})
    # As of its own `received_at`: should the workflow's clock disagree, its first task upserts the difference.
    case = opened_case(workflow_id, request, policy, request.received_at or datetime.now(UTC), tell_requester=False)
    try:
        handle = await start_case_workflow(client, workflow_id, queue or task_queue(), request, policy, case)
    except WorkflowAlreadyStartedError:
        return Opened(
            workflow_id, duplicate=True, handle=client.get_workflow_handle(workflow_id, result_type=CaseStatus)
        )
    except RPCError as problem:
        raise TemporalUnavailable(f"Temporal could not start the case: {problem.message}") from None
    return Opened(workflow_id, duplicate=False, handle=handle)


def with_requester_email_key(client: Client, args: Args) -> Args:
    """`args` carrying the keyed hash of its requester address when `client` encrypts, never a caller's own;
    an amend without a new address keeps the case's hash (the workflow ignores a None)."""
    keyring = encryption.keyring_of(client)
    email = args.requester.email if args.requester else None
    key = encryption.requester_email_key(email, keyring) if keyring else None
    return args.model_copy(update={"requester_email_key": key})


# --- reading and acting on a case ------------------------------------------------------------------


def case_handle(client: Client, case_id: str) -> WorkflowHandle:
    """Only `case-<tenant>-<key>` ids name cases; anything else (another workflow type, a typo) is no case."""
    if tenant_of(case_id) is None:
        raise CaseNotFound(f"no case {case_id}")
    return client.get_workflow_handle(case_id)


async def describe(client: Client, case_id: str) -> WorkflowExecutionDescription:
    try:
        return await case_handle(client, case_id).describe()
    except RPCError as problem:
        if problem.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise CaseNotFound(f"no case {case_id}") from None
        raise TemporalUnavailable(f"Temporal could not describe {case_id}: {problem.message}") from None


async def is_running(client: Client, case_id: str) -> bool:
    return (await describe(client, case_id)).status == WorkflowExecutionStatus.RUNNING


async def case_status(client: Client, case_id: str, patience: float = OPENING_PATIENCE) -> CaseStatus:
    """The case's `status` query. A case still opening is asked again for up to `patience` seconds."""
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            return await _query_status(client, case_id)
        except CaseStillOpening:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def _query_status(client: Client, case_id: str) -> CaseStatus:
    """The query as one RPC, so a failure keeps its type (`CaseStillOpening`): the SDK's own query call
    passes on only the message."""
    case_handle(client, case_id)
    request = QueryWorkflowRequest(
        namespace=client.namespace,
        execution=WorkflowExecution(workflow_id=case_id),
        query=WorkflowQuery(query_type="status"),
    )
    try:
        response = await client.workflow_service.query_workflow(
            request, retry=True, timeout=timedelta(seconds=ANSWER_TIMEOUT)
        )
    except RPCError as problem:
        raise await _query_failure(client, case_id, problem) from None
    [status] = await client.data_converter.decode(response.query_result.payloads, [CaseStatus])
    return status


async def _query_failure(client: Client, case_id: str, problem: RPCError) -> CaseError:
    if problem.status == RPCStatusCode.DEADLINE_EXCEEDED:
        return NoAnswer(f"{case_id} did not answer within {ANSWER_TIMEOUT:.0f}s; {worker_hint()}")
    if problem.status == RPCStatusCode.NOT_FOUND:
        return CaseNotFound(f"no case {case_id}")
    failure_type = _query_failure_type(problem)
    if failure_type == CASE_STILL_OPENING or problem.status == RPCStatusCode.FAILED_PRECONDITION:
        return CaseStillOpening(f"{case_id} is still opening; {worker_hint()}")
    return TemporalUnavailable(f"{case_id} cannot answer its status: {problem.message}")


def _query_failure_type(problem: RPCError) -> str | None:
    """The ApplicationError type a query handler raised, carried in the gRPC status details."""
    for detail in problem.grpc_status.details:
        failed = QueryFailedFailure()
        if detail.Unpack(failed):
            return failed.failure.application_failure_info.type or None
    return None


async def run_update(
    client: Client, case_id: str, name: str, args: BaseModel, update_id: str | None = None
) -> CaseStatus:
    """Run one contract update and return the case's new status. With `update_id`, a repeat (a webhook
    retried by its sender) is answered with the first run's result instead of running again."""
    handle = case_handle(client, case_id)
    try:
        running = handle.execute_update(name, args, id=update_id, result_type=CaseStatus)
        return await asyncio.wait_for(running, ANSWER_TIMEOUT)
    except WorkflowUpdateFailedError as failed:
        raise _rejection(failed) from None
    except RPCError as problem:
        raise await _explained(client, case_id, problem) from None
    except TimeoutError:
        raise NoAnswer(f"{case_id} did not answer {name} within {ANSWER_TIMEOUT:.0f}s; {worker_hint()}") from None


def _rejection(failed: WorkflowUpdateFailedError) -> UpdateRejected:
    """The validator's `UpdateRejected` sentence; an argument the SDK could not parse is a rejection too."""
    cause = failed.cause
    if isinstance(cause, ApplicationError) and cause.type == UPDATE_REJECTED:
        return UpdateRejected(cause.message)
    return UpdateRejected(getattr(cause, "message", None) or str(cause or failed))


async def send_comment(client: Client, case_id: str, comment: Comment) -> None:
    """The `comment` signal; the sender's id is kept as its hash, which still recognises a repeat."""
    comment = comment.model_copy(update={"source_id": stored_source_id(comment.source_id)})
    if not await is_running(client, case_id):
        raise CaseClosed(f"{case_id} is closed; it takes no more comments")
    try:
        await case_handle(client, case_id).signal("comment", comment)
    except RPCError as problem:
        raise await _explained(client, case_id, problem) from None


async def _explained(client: Client, case_id: str, problem: RPCError) -> CaseError:
    """An RPC failure on a case: unknown, finished, or Temporal trouble."""
    missing = (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION)
    if problem.status in missing:
        try:
            running = await is_running(client, case_id)
        except CaseNotFound as unknown:
            return unknown
        if not running:
            return CaseClosed(f"{case_id} is closed; nothing more can change")
    return TemporalUnavailable(f"Temporal refused the call on {case_id}: {problem.message}")


def worker_hint() -> str:
    return f"is a worker (`supportflow worker`) polling task queue {task_queue()!r}?"


def _first_line(problem: BaseException) -> str:
    text = str(problem)
    return text.splitlines()[0] if text else type(problem).__name__
