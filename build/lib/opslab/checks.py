"""Check cells: tell a learner, in one line, whether an exercise is right and what is wrong."""

from __future__ import annotations

from contextlib import contextmanager


class CheckFailed(AssertionError):
    """An exercise check did not pass; the message says what was wrong."""


@contextmanager
def check(question: str, what: str):
    """Run the assertions of one exercise check.

    Passes: prints ``✅ question: what``. Fails: raises :class:`CheckFailed` whose message names
    the question and says what is wrong, including when the exercise was not attempted yet.
    """
    try:
        yield
    except AssertionError as err:
        detail = str(err) or "an assertion failed"
        raise CheckFailed(f"❌ {question}: {what}: {detail}") from None
    except NotImplementedError as err:
        raise CheckFailed(f"❌ {question}: not done yet: {err}") from None
    except NameError as err:
        raise CheckFailed(f"❌ {question}: {err}; run (or finish) the exercise cell above first") from None
    print(f"✅ {question}: {what}")
