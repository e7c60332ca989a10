"""The course's finished Streamlit app in front of the lab server, shipped inside the package: the
reference for the app learners write in Lab 3.4 (the mini project), and the app of the book's
screenshot and Docker Space example.

It lives in ``opslab/streamlit/app.py`` so that it is there wherever opslab is installed (Colab,
a wheel, the grader's sandbox), not only in a clone. Find it with :func:`app_path`; start it with
``opslab streamlit [--server-url URL] [--port P]`` or ``streamlit run "$(python -m opslab.streamlit)"``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["app_path", "streamlit_command"]


def app_path() -> Path:
    """The app's script, a file inside the installed package (what ``streamlit run`` and AppTest take)."""
    app = resources.files(__name__) / "app.py"
    if not isinstance(app, Path) or not app.is_file():  # e.g. imported from a zip: nothing to run
        raise FileNotFoundError(f"the Streamlit app is not a file on disk ({app}): install opslab from a wheel")
    return app


def streamlit_command(server_url: str | None = None, port: int = 8501, host: str = "127.0.0.1") -> list[str]:
    """``python -m streamlit run APP`` with this interpreter: headless, no usage statistics, on ``host:port``,
    and ``--server-url`` passed to the app (after ``--``) when given."""
    import sys

    command = [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.headless", "true",
               "--server.address", host, "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    return command + (["--", "--server-url", server_url] if server_url else [])
