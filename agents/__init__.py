"""Faust agents: thin loops that read a topic, load state, call the detection core and send results."""
