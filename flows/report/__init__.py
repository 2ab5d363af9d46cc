"""Run and release reports: HTML (html.py) and Prefect artifacts (artifacts.py), read from finished run directories."""
