"""The lab model server: a FastAPI app that predicts churn, logs every answer and exposes metrics.

Start it with ``opslab serve``; build one in code with :func:`opslab.serve.app.create_app`.
"""
