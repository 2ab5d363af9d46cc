"""Run and release reports: data collection (data.py), the HTML rendering (html.py) and Prefect artifacts (artifacts.py), read from finished run/release directories."""
