from tests.integration.conftest import invoke_function, queue_messages  # noqa: F401  (the same fixtures)
