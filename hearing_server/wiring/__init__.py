"""Coordinators that connect the domain's state to media consumers (recording, composition,
transcription). Only create_app() imports this package; the packages it connects never import
each other."""
