"""``opslab demo``: a Gradio front end that scores customers through the lab server over HTTP."""
