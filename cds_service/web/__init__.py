"""The HTTP layer: routes, request validation, error responses; the only code that knows Flask."""
