"""Checking a fleet within a run's time: bounded concurrency, a deadline, one retry of rotated tokens.

Results come back as they complete, so the caller stores and alerts while later licenses are checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from itertools import islice

from usage_monitor.core.models import CheckError, CheckResult, FailureKind
from usage_monitor.leegality.credentials import RunCredentials, UsageClient, check_license, redacted_traceback
from usage_monitor.leegality.tokens import TokenSource
from usage_monitor.observability import logger

RemainingSeconds = Callable[[], float]


class CheckPool:
    def __init__(
        self, client: UsageClient, tokens: TokenSource, max_concurrency: int, deadline_margin_seconds: float
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.max_concurrency = max_concurrency
        self.deadline_margin_seconds = deadline_margin_seconds

    def results(
        self, license_ids: tuple[str, ...], credentials: RunCredentials, remaining_seconds: RemainingSeconds | None
    ) -> Iterator[CheckResult]:
        """Results as they complete; 401s are retried once with a freshly read secret (rotation).

        At most 4 x `max_concurrency` checks are queued at a time, so memory depends on the concurrency,
        not on the fleet. At the deadline, licenses in flight or not started come back as `deadline`
        failures, so the snapshot and alert writes for everything else finish before Lambda would stop
        the function.
        """
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="check")
        deadline = None
        if remaining_seconds is not None:
            deadline = time.monotonic() + max(remaining_seconds() - self.deadline_margin_seconds, 0)
        rejected: list[CheckResult] = []
        try:
            for result in self._through(pool, iter(license_ids), credentials, remaining_seconds, deadline):
                if result.error is not None and result.error.kind is FailureKind.TOKEN_REJECTED:
                    rejected.append(result)
                else:
                    yield result
            retry, final = self._after_reread(rejected, credentials)
            yield from final
            # The retries go through the same window and deadline: one after another, a rotated `default`
            # token cost a large fleet its whole budget.
            yield from self._through(pool, iter(retry), credentials, remaining_seconds, deadline)
        finally:
            # Never wait for stragglers: their threads end on their own timeouts after we return.
            pool.shutdown(wait=False, cancel_futures=True)

    def _through(
        self,
        pool: ThreadPoolExecutor,
        waiting: Iterator[str],
        credentials: RunCredentials,
        remaining_seconds: RemainingSeconds | None,
        deadline: float | None,
    ) -> Iterator[CheckResult]:
        pending: dict[Future[CheckResult], str] = {}
        window = 4 * self.max_concurrency

        def refill() -> None:
            for license_id in islice(waiting, max(window - len(pending), 0)):
                pending[pool.submit(self._check_one, license_id, credentials, remaining_seconds)] = license_id

        refill()
        while pending:
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0)
            done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:
                yield from self._past_deadline(pending, waiting)
                return
            for future in done:
                del pending[future]
                yield future.result()
            refill()

    def _past_deadline(self, pending: dict[Future[CheckResult], str], waiting: Iterator[str]) -> Iterator[CheckResult]:
        unchecked = 0
        for future, license_id in pending.items():
            if future.done():
                yield future.result()
            else:
                future.cancel()
                unchecked += 1
                yield _failure(license_id, FailureKind.DEADLINE, "not checked before the run's deadline")
        for license_id in waiting:
            unchecked += 1
            yield _failure(license_id, FailureKind.DEADLINE, "not checked before the run's deadline")
        logger.error("run deadline reached", extra={"unchecked": unchecked})

    def _after_reread(
        self, rejected: list[CheckResult], credentials: RunCredentials
    ) -> tuple[list[str], list[CheckResult]]:
        """(licenses to check again, results that stand). Static tokens refused: the secret is re-read once
        per run and a license is retried when its token changed since its own request. (A minted token was
        already minted again and retried once in `check_license`.)"""
        final = [r for r in rejected if credentials.uses_client(r.license_id)]
        static = [r for r in rejected if not credentials.uses_client(r.license_id)]
        fresh = credentials.reread() if static else None
        if fresh is None:
            return [], final + static
        retry = []
        for result in static:
            credential = fresh.credential_for(result.license_id)
            if credential is None or credential == credentials.sent(result.license_id):
                final.append(result)
            else:
                retry.append(result.license_id)
        if retry:
            logger.info("tokens rejected; retrying with the rotated secret", extra={"licenses": len(retry)})
        return retry, final

    def _check_one(
        self, license_id: str, credentials: RunCredentials, remaining_seconds: RemainingSeconds | None
    ) -> CheckResult:
        if remaining_seconds is not None and remaining_seconds() < self.deadline_margin_seconds:
            return _failure(license_id, FailureKind.DEADLINE, "not checked: the run reached its deadline")
        try:
            return check_license(self.client, credentials, license_id)
        except Exception as exc:  # A bug in one check must not cost the others their snapshots.
            # No logger.exception: the exception text may quote a header, i.e. a token.
            logger.error(
                "unexpected error while checking",
                extra={"license_id": license_id, "traceback": redacted_traceback(exc, credentials.redaction)},
            )
            return _failure(license_id, FailureKind.HTTP_ERROR, f"internal error ({type(exc).__name__})")


def _failure(license_id: str, kind: FailureKind, message: str) -> CheckResult:
    return CheckResult(license_id, datetime.now(UTC), error=CheckError(kind, message))
