"""KD Studio web UI (Gradio). Thin: every action calls a kd_core function."""
