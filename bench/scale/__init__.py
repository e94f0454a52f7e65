"""`python -m bench.scale`: supportflow with tens of thousands of open cases, beside the bare-Temporal floor."""
