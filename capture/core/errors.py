"""How an error is told in one line: start-up messages, outbox records, logs."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error's text (the driver's own, for a wrapped database error)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:limit]
