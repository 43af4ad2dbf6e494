"""The chat page for people and the AG-UI protocol, served by the HTTP gateway."""
