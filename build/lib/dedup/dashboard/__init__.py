"""The savings dashboard (Streamlit); ``app.py`` is the script ``dedup dashboard`` runs."""
