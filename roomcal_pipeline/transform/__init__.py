"""Transformation: the dbt project and its manifest."""
