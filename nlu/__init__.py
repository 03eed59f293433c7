"""Language understanding: Vietnamese text handling, procedure matching, the Rasa components, the NLU client.

Modules here (except `client`, `cli` and `evaluation`) also run inside the Rasa server's Python 3.10
environment, so they may import only the standard library and PyYAML.
"""
