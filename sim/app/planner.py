"""The planner's page: pick or upload a scenario, change it, run, compare, plan, download."""

import streamlit as st

st.title("continuum: plan a care continuum")
