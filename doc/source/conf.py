"""Sphinx configuration of the naas_lib documentation."""

project = "naas_lib"
author = "naas_lib developers"
extensions = ["sphinx.ext.autodoc"]
master_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
