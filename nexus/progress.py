"""Progress of long commands (import, training, evaluation, synthetic data): a tqdm bar when standard error is a
terminal, otherwise a few plain log lines (one per step, at most one every LOG_EVERY seconds, one at the end),
so that logs collected from a container or CI hold no carriage-return bars."""

import logging
import sys
import time

from tqdm import tqdm

logger = logging.getLogger("nexus.progress")
LOG_EVERY = 30.0


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Progress:
    """``update(n, step=...)`` as work gets done; use as a context manager. ``enabled=False`` shows nothing."""

    def __init__(self, description: str, *, total: int | None = None, unit: str = "it", enabled: bool = True):
        self.description, self.total, self.unit = description, total, unit
        self.enabled, self.done = enabled, 0
        self.started = self.logged = time.monotonic()
        self.bar = (
            tqdm(desc=description, total=total, unit=f" {unit}", unit_scale=not total or total > 1000)
            if enabled and on_terminal()
            else None
        )

    def update(self, n: int = 1, *, step: str | None = None) -> None:
        self.done += n
        if self.bar is not None:
            if step:
                self.bar.set_postfix_str(step, refresh=False)
            self.bar.update(n)
        elif self.enabled and (step or time.monotonic() - self.logged >= LOG_EVERY):
            self.logged = time.monotonic()
            of = f"/{self.total:,}" if self.total else ""
            logger.info(
                "%s: %s%s %s%s", self.description, f"{self.done:,}", of, self.unit, f" ({step})" if step else ""
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            seconds = time.monotonic() - self.started
            logger.info("%s: %s %s in %.1f s", self.description, f"{self.done:,}", self.unit, seconds)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
