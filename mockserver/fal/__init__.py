"""fal's surface: the endpoints, how their input is judged, who may call, which host and
operation a request is, the URLs handed back, and every error shape fal answers with."""
