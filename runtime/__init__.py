"""The process shell: command line, embedded broker, topic administration, local demo."""
