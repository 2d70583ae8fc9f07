"""fal_webhook delivery: payloads, signing keys, retries."""
