"""The student's page: the teaching scenarios with sliders that re-run live."""

import streamlit as st

st.title("continuum: learn how care levels behave")
