"""Transitional: preview/capture.py under its former name, for the tests outside tests/preview that still
import it (tests/conftest.py, tests/components, tests/policies, tests/program, tests/scenarios). Nothing
in preview/ or tools/ imports it (tests/preview/test_import_graph.py); delete it once they import
preview.capture."""

from preview.capture import capture_stack, stack_inputs

__all__ = ["capture_stack", "stack_inputs"]
