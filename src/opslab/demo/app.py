"""The demo's page: a Gradio Blocks app wired to the handlers. Importing this module imports Gradio."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from opslab.env import go_offline

go_offline()  # analytics off before gradio is imported (also for the Space, which imports this module)

import gradio as gr  # noqa: E402

from opslab.data import (  # noqa: E402
    CATEGORICAL_FEATURES,
    CATEGORIES,
    EXAMPLE_RECORD,  # the customer the form starts with
    NUMERIC_FEATURES,
    TARGET,
    make_customers,
)
from opslab.demo import handlers  # noqa: E402
from opslab.demo.client import LabServerClient  # noqa: E402

INTEGER_FEATURES = {
    "age",
    "tenure_months",
    "support_tickets_90d",
    "payment_failures_90d",
    "days_since_last_login",
}

INTRO = """# Will this customer churn?
Upload a CSV of customers (the twelve features of the course's simulator) and the **lab server**
scores them over HTTP; or describe one customer in the form. Every answer carries a prediction id:
send back what really happened and the server stores it next to the prediction."""


def sample_csv(n: int = 50, seed: int = 7) -> str:
    """A CSV of ``n`` simulated customers (no label) to try the upload with; returns its path."""
    folder = Path(tempfile.gettempdir()) / "opslab-demo"
    folder.mkdir(exist_ok=True)
    path = folder / f"customers-{n}-seed{seed}.csv"
    if not path.exists():
        make_customers(n, seed=seed).drop(columns=[TARGET]).to_csv(path, index=False)
    return str(path)


def _batch_tab(server: LabServerClient) -> None:
    with gr.Row():
        upload = gr.File(label="Customers (CSV)", file_types=[".csv"], elem_id="csv-upload", scale=3)
        with gr.Column(scale=1):
            sample = gr.Button("Use 50 simulated customers", elem_id="use-sample")
            score = gr.Button("Predict", variant="primary", elem_id="predict-csv")
    status = gr.Markdown(elem_id="batch-status")
    table = gr.Dataframe(label="Predictions", elem_id="predictions", interactive=False, max_height=360)
    with gr.Row():
        histogram = gr.Plot(label="Probability of churn", show_label=False, format="png")
        drivers = gr.Plot(label="Which features drive the predictions", show_label=False, format="png")
    sample.click(sample_csv, outputs=upload, api_name="sample_csv")
    score.click(
        partial(handlers.score_csv, server),
        inputs=upload,
        outputs=[status, table, histogram, drivers],
        api_name="score_csv",
    )


def _customer_form() -> list[gr.components.Component]:
    fields = []
    with gr.Row():
        for name in NUMERIC_FEATURES:
            fields.append(
                gr.Number(
                    EXAMPLE_RECORD[name],
                    label=name,
                    minimum=0,
                    precision=0 if name in INTEGER_FEATURES else None,
                    min_width=140,
                )
            )
    with gr.Row():
        for name in CATEGORICAL_FEATURES:
            fields.append(gr.Dropdown(CATEGORIES[name], value=EXAMPLE_RECORD[name], label=name))
    return fields


def _single_tab(server: LabServerClient) -> None:
    fields = _customer_form()
    predict = gr.Button("Predict this customer", variant="primary", elem_id="predict-one")
    status = gr.Markdown(elem_id="single-status")
    gr.Markdown("### Feedback: what really happened?")
    with gr.Row():
        prediction_id = gr.Textbox(label="prediction id", elem_id="prediction-id", scale=2)
        outcome = gr.Radio(list(handlers.OUTCOMES), label="the customer", scale=1)
        send = gr.Button("Send feedback", elem_id="send-feedback", scale=1)
    feedback_status = gr.Markdown(elem_id="feedback-status")
    predict.click(
        partial(handlers.predict_one, server),
        inputs=fields,
        outputs=[status, prediction_id],
        api_name="predict_one",
    )
    send.click(
        partial(handlers.send_feedback, server),
        inputs=[prediction_id, outcome],
        outputs=feedback_status,
        api_name="send_feedback",
    )


def build_demo(server_url: str | None = None) -> gr.Blocks:
    """The demo as a Gradio Blocks app talking to the lab server at ``server_url``."""
    server = LabServerClient(server_url)
    with gr.Blocks(title="Churn demo · opslab", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        server_line = gr.Markdown(elem_id="server-status")
        with gr.Tab("Score a CSV"):
            _batch_tab(server)
        with gr.Tab("One customer"):
            _single_tab(server)
        demo.load(partial(handlers.server_status, server), outputs=server_line, api_name="server_status")
    return demo
