"""Call-centre engine for government service hotlines (12345), built on Asterisk."""

__version__ = "0.1.0"
