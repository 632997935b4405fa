"""Data providers behind one small interface (see ``providers.base``)."""
