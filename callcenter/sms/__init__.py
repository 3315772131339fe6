"""SMS service (短信服务): templates, a durable outbox, a gateway adapter (Kannel by default), DLR/MO callbacks."""
