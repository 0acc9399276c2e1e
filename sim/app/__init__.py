"""continuum's web app: the same scenarios, runs, comparisons and plans as the command line, in a browser.

``continuum app`` serves it with Streamlit (``pip install -e '.[app]'``). The pages (:mod:`sim.app.main`)
only read and change scenarios and show results; every run goes through :mod:`sim.app.jobs`, a worker
pool shared by all sessions, so one person's run never blocks another's page.
"""
