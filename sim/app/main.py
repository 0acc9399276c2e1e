"""The web app's entry point (``streamlit run``): the pages and the worker pool every session shares.

``continuum app`` runs this file. The pool is made once per server (``st.cache_resource``); with
``CONTINUUM_DASK_ADDRESS`` set (``continuum app --dask ADDRESS``), runs go to that Dask cluster.
Pages get the pool with ``from sim.app.main import shared_pool``: imported as a module, this file
only defines it (the navigation runs when Streamlit runs the file as ``__main__``), so every page
and session shares the one cached pool.
"""

from __future__ import annotations

import os

import streamlit as st

from sim.app.jobs import Pool


@st.cache_resource
def shared_pool() -> Pool:
    """One worker pool for every session of this server."""
    return Pool(address=os.environ.get("CONTINUUM_DASK_ADDRESS") or None)


def main() -> None:
    st.set_page_config(page_title="continuum", layout="wide")
    pages = [st.Page("planner.py", title="Plan", icon=":material/stacked_line_chart:", default=True),
             st.Page("learn.py", title="Learn", icon=":material/school:")]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
