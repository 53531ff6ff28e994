"""Thin Falcon resources: parse the request, call one function, set the response."""
