"""The course's Hugging Face Space: the lab server and the Gradio demo in one process on one port."""
