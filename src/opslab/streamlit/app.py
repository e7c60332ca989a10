"""The course's Streamlit front end for the churn classifier that the lab server (FastAPI) serves:
the reference for the app learners write in the mini project (Lab 3.4).

It ships inside the opslab package. Run it with the lab server up (`opslab serve`, or `make serve`):

    opslab streamlit --server-url http://127.0.0.1:8000
    streamlit run "$(python -m opslab.streamlit)" -- --server-url http://127.0.0.1:8000   # the same

Upload a CSV of customers -> the app POSTs them to the server's /predict -> it shows the answers.
The model lives behind the REST API; this script is only a user interface.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import streamlit as st

from opslab.demo.client import LabServerClient, LabServerError, server_url
from opslab.demo.records import InputProblem, predictions_table, read_customers, to_records


def command_line_url() -> str | None:
    """``--server-url`` from the arguments after ``--`` on the streamlit command line, if any."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--server-url")
    return parser.parse_known_args()[0].server_url


st.set_page_config(page_title="Churn scorer", layout="wide")
st.title("Churn scorer")
st.caption("A Streamlit user interface in front of a FastAPI model server.")

url = st.sidebar.text_input("Lab server URL", server_url(command_line_url()))
server = LabServerClient(url)
try:
    model = server.model()
    st.sidebar.success(f"Serving {model['name']} version {model['version']}")
except LabServerError as err:
    model = None
    st.sidebar.error(str(err))

uploaded = st.file_uploader("Customers (CSV with the simulator's twelve features)", type="csv")
if uploaded is None:
    st.info("Upload a CSV of customers to score them.")
    st.stop()

# 1. Read and check the file, 2. ask the REST API, 3. lay out the answers.
try:
    customers = read_customers(uploaded)
    predictions = server.predict(to_records(customers))
except (InputProblem, LabServerError) as err:
    st.error(str(err))
    st.stop()
table = predictions_table(customers, predictions)

left, middle, right = st.columns(3)
left.metric("customers scored", len(table))
middle.metric("predicted to churn", int(table["churned"].sum()))
right.metric("mean probability of churn", f"{table['probability'].mean():.3f}")

st.subheader("Predictions")
st.dataframe(table, hide_index=True)

chart_left, chart_right = st.columns(2)
with chart_left:
    st.subheader("How the probabilities spread")
    counts, edges = np.histogram(table["probability"], bins=10, range=(0, 1))
    bins = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    st.bar_chart(
        pd.DataFrame({"probability of churn": bins, "customers": counts}),
        x="probability of churn",
        y="customers",
    )
with chart_right:
    st.subheader("What drives the model")
    importance = (model or {}).get("feature_importance") or {}
    if importance:
        drivers = pd.Series(importance, name="importance").rename_axis("feature").reset_index()
        st.bar_chart(drivers, x="feature", y="importance", horizontal=True, sort="-importance")
    else:
        st.write("The server did not report feature importance.")
