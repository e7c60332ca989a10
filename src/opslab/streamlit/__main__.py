"""``python -m opslab.streamlit``: print the path of the app's script (for ``streamlit run``)."""

from opslab.streamlit import app_path

print(app_path())
