import pytest

from opslab.checks import CheckFailed, check


def test_a_passing_check_prints_a_tick(capsys):
    with check("q1", "two plus two"):
        assert 2 + 2 == 4
    assert capsys.readouterr().out.strip() == "✅ q1: two plus two"


def test_a_failing_check_names_the_question_and_the_problem():
    with pytest.raises(CheckFailed, match=r"❌ q1: two plus two: expected 4, got 5"):
        with check("q1", "two plus two"):
            assert 2 + 3 == 4, "expected 4, got 5"


def test_an_unattempted_exercise_says_so():
    with pytest.raises(CheckFailed, match="not done yet: fit the model"):
        with check("q2", "a model"):
            raise NotImplementedError("fit the model")
    with pytest.raises(CheckFailed, match="name 'model' is not defined; run"):
        with check("q2", "a model"):
            model  # noqa: B018, F821


def test_other_errors_are_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        with check("q3", "division"):
            1 / 0
