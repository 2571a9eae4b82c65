"""A toy sixth model service, `words`, built only from the kit and a row in a table of services:
the test that adding a model is a folder and a row (docs/adding-a-model.md)."""
