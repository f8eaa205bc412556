"""The server side of signaling: the /hearing socket.io namespace, its message schemas and the
ports it calls (media, recording). The protocol constants and the Python client live in the
ground-floor ``signaling`` package, which never imports the application."""
