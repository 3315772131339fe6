"""IVR flows as YAML data: schema, validation, business hours, the engine, hot reload, pictures."""
