"""Hugging Face Space entry point: the course's churn demo, a Gradio client of the lab server.

On the Space, the Gradio SDK runs ``python app.py``; set the Space variable ``OPSLAB_SERVER_URL``
to a lab server the Space can reach. Locally, from a clone: ``python space/app.py`` (it uses the
repository's ``src/`` when there is one; set OPSLAB_SERVER_URL or run `opslab serve` first).
"""

import os
import sys
from pathlib import Path

REPO_SRC = Path(__file__).resolve().parent.parent / "src"
if (REPO_SRC / "opslab" / "demo").is_dir():  # running from a clone: use its package, not an older install
    sys.path.insert(0, str(REPO_SRC))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from opslab.demo.app import build_demo  # noqa: E402

demo = build_demo(os.environ.get("OPSLAB_SERVER_URL"))

if __name__ == "__main__":
    # Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets them), else
    # 127.0.0.1:7860. Never a share link: the Space itself is the public URL.
    demo.launch(share=False, ssr_mode=False, mcp_server=False)
