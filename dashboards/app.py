"""``streamlit run dashboards/app.py`` in a checkout: the app that ships in the package."""

from dedup.dashboard.app import main

main()
