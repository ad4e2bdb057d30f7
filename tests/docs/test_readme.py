"""The README's commands are the ones the Makefile and CI run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_comes_first_and_names_both_commands():
    readme = (ROOT / "README.md").read_text()
    first_section = readme.split("\n## ", 2)[1]
    assert first_section.startswith("Quickstart")
    assert "make run" in first_section and "make test" in first_section


def test_makefile_has_the_readme_targets():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    assert "gunicorn" in makefile  # a production WSGI server, not `flask run`
    assert "flask run" not in makefile


def test_ci_runs_make_test_on_postgres_and_redis():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "CEI_TEST_DATABASE_URL=postgresql" in ci
    assert "CEI_TEST_REDIS_URL=redis" in ci
    assert "export CI=true" in ci
