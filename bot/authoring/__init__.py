"""Volunteers' tools: play a dialogue in the terminal, draw its graph, conversation tests."""
