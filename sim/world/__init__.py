"""The world outside the spacecraft: orbit and contacts, the Sun (eclipses), and the sources of frame content."""
