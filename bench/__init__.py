"""The benchmark of falcon-img: `make bench` runs bench/run.py (see bench/README.md)."""
