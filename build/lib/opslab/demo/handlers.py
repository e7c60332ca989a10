"""What each button of the demo does: plain functions of the lab server and the inputs, no Gradio.

Every handler returns a status line first. Problems (server down, bad file, a 4xx answer) become a
status line starting with a warning sign instead of an exception, so the page never breaks.
"""

from __future__ import annotations

import pandas as pd

from opslab.demo.charts import feature_drivers, probability_histogram
from opslab.demo.client import LabServerClient, LabServerError
from opslab.demo.records import InputProblem, customer_record, predictions_table, read_customers, to_records

OUTCOMES = {"churned": 1, "stayed": 0}


def problem(message: str) -> str:
    return f"⚠ {message}"


def server_status(server: LabServerClient) -> str:
    """One line about the server: which model answers, or why nothing does."""
    try:
        model = server.model()
    except LabServerError as err:
        return problem(str(err))
    return f"✔ Lab server {server.url} is up, serving **{model.get('name')}** version {model.get('version')}."


def _drivers(server: LabServerClient):
    try:
        importance = server.model().get("feature_importance") or {}
    except LabServerError:
        return None
    return feature_drivers(importance) if importance else None


def score_csv(server: LabServerClient, path: str | None):
    """CSV file -> (status, predictions table, probability histogram, feature drivers)."""
    empty = pd.DataFrame()
    if not path:
        return problem("Upload a CSV of customers first."), empty, None, None
    try:
        frame = read_customers(path)
        predictions = server.predict(to_records(frame))
    except (InputProblem, LabServerError) as err:
        return problem(str(err)), empty, None, None
    table = predictions_table(frame, predictions)
    version = predictions[0]["model_version"]
    status = (
        f"✔ Scored {len(table)} customers with {predictions[0]['model_name']} version {version}: "
        f"{int(table['churned'].sum())} predicted to churn."
    )
    return status, table, probability_histogram(table["probability"]), _drivers(server)


def predict_one(server: LabServerClient, *values):
    """Form values in FEATURES order -> (status, prediction id for the feedback box)."""
    try:
        prediction = server.predict([customer_record(*values)])[0]
    except (InputProblem, LabServerError) as err:
        return problem(str(err)), ""
    verdict = "will churn" if prediction["churned"] else "will stay"
    status = (
        f"✔ This customer **{verdict}**: P(churn) = {prediction['probability']:.3f} "
        f"(model version {prediction['model_version']})."
    )
    return status, prediction["prediction_id"]


def send_feedback(server: LabServerClient, prediction_id: str, outcome: str | None) -> str:
    """Post what really happened (``churned`` or ``stayed``) for a prediction id."""
    prediction_id = (prediction_id or "").strip()
    if not prediction_id:
        return problem("Make a prediction first (or paste a prediction id from the table).")
    if outcome not in OUTCOMES:
        return problem("Choose what really happened: churned or stayed.")
    try:
        server.feedback(prediction_id, OUTCOMES[outcome])
    except LabServerError as err:
        return problem(str(err))
    return f"✔ Feedback recorded: prediction {prediction_id} → customer {outcome}."
