"""Names the folder of screenshots and renders in the test report."""

from diagram_util import ARTIFACTS, ROOT


def pytest_terminal_summary(terminalreporter):
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"diagram screenshots and renders: {ARTIFACTS.relative_to(ROOT)}/")
