"""The motcua application: web app, models, workers and command line."""
