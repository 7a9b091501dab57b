"""What the engine tells its operators: structured logs (``logs``) and the /metrics + /healthz endpoint (``http``)."""
